"""Documents: list, upload (indexed in the background), read (metadata + cleaned text), delete."""

from __future__ import annotations

import re
import shutil
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from api.deps import PipelineDep, SettingsDep
from api.jobs import Job, JobRunner
from api.problems import ProblemError, problem_responses
from api.schemas import DocumentListOut, DocumentOut, JobOut
from api.security import ReadAccess, WriteAccess
from rag.serialization import document_info_to_dict, meta_to_dict

router = APIRouter(tags=["documents"])

SUPPORTED_SUFFIXES: tuple[str, ...] = (".pdf", ".docx", ".html", ".htm", ".txt", ".md", ".jsonl")
_UNSAFE_CHARS = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
_WINDOWS_DEVICES = re.compile(r"(?:CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9])(?:\..*)?", re.IGNORECASE)
_FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


def safe_filename(name: str) -> str:
    """The upload's base name without path parts or characters unsafe on common filesystems."""
    base = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])
    base = _UNSAFE_CHARS.sub("_", base).strip().lstrip(".")
    if _WINDOWS_DEVICES.fullmatch(base):  # "NUL.txt" would open a device on Windows
        base = "_" + base
    suffix = Path(base).suffix.lower()
    stem = base[: len(base) - len(suffix)] if suffix else base
    return (stem[:150] or "upload") + suffix


def job_to_dict(job: Job) -> dict[str, Any]:
    """A job as JSON."""
    report = job.report
    return {
        "job_id": job.job_id,
        "status": job.status,
        "filename": job.filename,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "reason": job.reason,
        "doc_ids": list(report.added + report.updated + report.unchanged) if report else [],
        "report": None
        if report is None
        else {
            "added": list(report.added),
            "updated": list(report.updated),
            "unchanged": list(report.unchanged),
            "failed": [{"source": src, "reason": why} for src, why in report.failed],
            "chunks_embedded": report.chunks_embedded,
        },
        "status_url": f"/v1/documents/jobs/{job.job_id}",
    }


def _save_upload(upload: UploadFile, dest: Path, limit: int) -> int:
    size = 0
    upload.file.seek(0)
    with dest.open("wb") as out:
        while chunk := upload.file.read(1 << 20):
            size += len(chunk)
            if size > limit:
                break
            out.write(chunk)
    return size


@router.get("/v1/documents", response_model=DocumentListOut, responses=problem_responses(401, 403, 429, 503))
def list_documents(pipeline: PipelineDep, _access: ReadAccess) -> Any:
    """The indexed documents with their metadata."""
    docs = [document_info_to_dict(info) for info in pipeline.documents()]
    return {"count": len(docs), "documents": docs}


@router.post(
    "/v1/documents",
    status_code=202,
    response_model=JobOut,
    responses=problem_responses(400, 401, 403, 413, 415, 422, 429, 503),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {
                                "type": "string",
                                "format": "binary",
                                "description": "A report: " + ", ".join(SUPPORTED_SUFFIXES),
                            }
                        },
                    }
                }
            },
        }
    },
)
async def upload_document(
    request: Request, response: Response, pipeline: PipelineDep, settings: SettingsDep, _access: WriteAccess
) -> Any:
    """Upload a report (multipart field `file`); it is indexed in the background — poll the job's `status_url`.

    The document id is the file's name, so uploading a changed file with the same name replaces it.
    """
    # Parsed here rather than as a File() parameter so the key is checked before the body is read.
    declared = request.headers.get("content-type", "")
    if declared.split(";", 1)[0].strip().lower() not in _FORM_TYPES:
        raise ProblemError(
            415,
            "Upload the report as multipart/form-data, the file in the field `file` "
            f"(got {declared or 'no Content-Type'!r}).",
            slug="unsupported-media-type",
        )
    try:
        form = await request.form(max_files=1, max_fields=10)
    # Starlette re-raises the multipart parser's error as an HTTPException carrying its message.
    except (MultiPartException, HTTPException) as exc:
        reason = (exc.message if isinstance(exc, MultiPartException) else exc.detail).rstrip(".")
        raise ProblemError(
            400,
            f"The multipart/form-data body could not be read: {reason}. Send one report in the field `file`.",
        ) from exc
    except Exception as exc:
        raise ProblemError(400, "Expected a multipart/form-data body with a `file` field.") from exc
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise ProblemError(422, "Send the report as the multipart field `file` (with a file name).")
        filename = safe_filename(upload.filename)
        suffix = Path(filename).suffix.lower()
        if suffix not in SUPPORTED_SUFFIXES:
            raise ProblemError(
                415,
                f"Unsupported file type {suffix or '(none)'!r}; supported: {', '.join(SUPPORTED_SUFFIXES)}.",
                slug="unsupported-file-type",
                extra={"supported": list(SUPPORTED_SUFFIXES)},
            )
        tmp = Path(tempfile.mkdtemp(prefix="rag-upload-"))
        path = tmp / filename
        try:
            size = await run_in_threadpool(_save_upload, upload, path, settings.max_upload_bytes)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if size > settings.max_upload_bytes or size == 0:
            shutil.rmtree(tmp, ignore_errors=True)
            if size == 0:
                raise ProblemError(422, "The uploaded file is empty.", slug="empty-upload")
            raise ProblemError(
                413,
                f"The upload is larger than the limit of {settings.max_upload_bytes:,} bytes.",
                slug="payload-too-large",
            )
    finally:
        await form.close()

    runner: JobRunner = request.app.state.jobs
    job = runner.submit(filename, lambda: pipeline.ingest([path]), cleanup=tmp)
    body = job_to_dict(job)
    response.headers["Location"] = body["status_url"]
    return body


@router.get(
    "/v1/documents/jobs/{job_id}", response_model=JobOut, responses=problem_responses(401, 403, 404, 429)
)
def get_job(job_id: str, request: Request, _access: WriteAccess) -> Any:
    """An upload's indexing status: queued, running, done or failed (with `reason`)."""
    runner: JobRunner = request.app.state.jobs
    job = runner.get(job_id)
    if job is None:
        raise ProblemError(404, f"No upload job {job_id!r} (jobs are kept in memory until restart).")
    return job_to_dict(job)


@router.get(
    "/v1/documents/{doc_id:path}", response_model=DocumentOut, responses=problem_responses(401, 403, 404, 429)
)
def get_document(doc_id: str, pipeline: PipelineDep, _access: ReadAccess) -> Any:
    """A document's metadata and cleaned text; citation `start`/`end` offsets index into `text`."""
    doc = pipeline.document(doc_id)
    return {
        "doc_id": doc.doc_id,
        "title": doc.meta.title,
        "region": doc.meta.region,
        "year": doc.meta.year,
        "meta": meta_to_dict(doc.meta),
        "source": doc.source,
        "content_hash": doc.content_hash,
        "n_chars": len(doc.text),
        "text": doc.text,
    }


@router.delete(
    "/v1/documents/{doc_id:path}", status_code=204, responses=problem_responses(401, 403, 404, 429, 503)
)
def delete_document(doc_id: str, request: Request, pipeline: PipelineDep, _access: WriteAccess) -> Response:
    """Remove a document from the index."""
    runner: JobRunner = request.app.state.jobs
    runner.run_exclusive(lambda: pipeline.remove(doc_id))
    return Response(status_code=204)
