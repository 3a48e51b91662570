"""Read report files (txt, md, html, pdf, docx, jsonl) into cleaned Documents; a bad file never stops the rest.

Limits (each refusal is a LoadFailure that says why): a document may have at most MAX_DOCUMENT_CHARS characters
of text; .txt/.md/.html files over MAX_TEXT_FILE_BYTES are refused unread; a DOCX whose parts declare more than
MAX_DOCX_UNPACKED_BYTES uncompressed, or expand suspiciously (MAX_DOCX_RATIO, both in `docx`), is refused before
unpacking. Files named as text but holding binary data, PDFs without a text layer, encrypted or corrupt PDF/DOCX
and second copies of an already loaded file are refused too.

This module walks folders, picks the reader of each file by its suffix, reads JSONL corpora and turns text into
Documents; the reader of each format is a module of its own: `decoding` (text bytes, binary refused), `html`,
`markdown`, `pdf` and `docx`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

from rag.cleaning import clean_text
from rag.errors import DocumentReadError, RagError, UnsupportedFileError
from rag.loading.decoding import decode_bytes, refuse_binary, refuse_garbled
from rag.loading.docx import docx_text
from rag.loading.html import decode_html, html_text
from rag.loading.markdown import markdown_text
from rag.loading.pdf import pdf_text
from rag.metadata import extract_metadata
from rag.types import Document

SUPPORTED_SUFFIXES: tuple[str, ...] = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx", ".jsonl")
MAX_DOCUMENT_CHARS = 2_000_000
"""Longest raw text of one document, ~40 times a long report (cleaning costs ~3 µs and ~60 bytes a character)."""
MAX_TEXT_FILE_BYTES = 32_000_000
"""Largest .txt/.md/.html file read at all (JSONL corpora are not limited; their records are)."""

_TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm")

log = logging.getLogger("rag.loading")


@dataclass(frozen=True)
class LoadFailure:
    """An input that could not be read: a file path (or "path:line" for a JSONL record) and why."""

    source: str
    reason: str


LoadedItem: TypeAlias = Document | LoadFailure


def load_documents(paths: Sequence[Path]) -> Iterator[LoadedItem]:
    """Yield a Document per readable report and a LoadFailure per unreadable one; folders are walked recursively.

    A second document with an already loaded doc_id, or a file with the same bytes as one already loaded under
    another name, is a LoadFailure too (the same report indexed twice would crowd the search results). Records
    of a JSONL corpus are never merged this way: their content hash covers the whole record, doc_id included.
    """
    seen: dict[str, str] = {}
    same_content: dict[str, Document] = {}
    for path in paths:
        if not path.exists():
            yield LoadFailure(str(path), "no such file or directory")
            continue
        for file in _walk(path) if path.is_dir() else [path]:
            for item in _load_file(file):
                if isinstance(item, Document):
                    first = same_content.get(item.content_hash)
                    if item.doc_id in seen:
                        item = LoadFailure(
                            item.source,
                            f"duplicate doc_id {item.doc_id} (already loaded from {seen[item.doc_id]})",
                        )
                    elif first is not None:
                        item = LoadFailure(
                            item.source,
                            f"{item.doc_id} has the same content as {first.doc_id} (loaded from {first.source}); "
                            "skipped — keep one copy",
                        )
                    else:
                        seen[item.doc_id] = item.source
                        same_content[item.content_hash] = item
                yield item


def document_from_text(
    doc_id: str,
    raw_text: str,
    *,
    source: str = "",
    title_hint: str | None = None,
    source_meta: Mapping[str, object] | None = None,
    content_hash: str | None = None,
) -> Document:
    """Clean raw text and extract its metadata (the upload path); raises DocumentReadError if nothing is left."""
    if not doc_id.strip():
        raise DocumentReadError("empty doc_id: give the document an id (e.g. its file name)")
    if len(raw_text) > MAX_DOCUMENT_CHARS:
        raise DocumentReadError(
            f"{doc_id}: {len(raw_text):,} characters of text; the limit for one document is {MAX_DOCUMENT_CHARS:,} "
            "— split it into several documents"
        )
    cleaned = clean_text(raw_text)
    if not cleaned.text.strip():
        raise DocumentReadError(f"{doc_id}: no text left after cleaning")
    meta = extract_metadata(
        cleaned.text, title_hint=title_hint, furniture=cleaned.furniture, source_meta=source_meta
    )
    return Document(
        doc_id=doc_id,
        text=cleaned.text,
        meta=meta,
        source=source,
        content_hash=content_hash or hashlib.sha256(raw_text.encode("utf-8")).hexdigest(),
        offset_map=cleaned.offset_map,
    )


# --- walking and dispatch ---------------------------------------------------------------------------


def _walk(folder: Path) -> list[Path]:
    """Files under a folder, sorted, skipping hidden files and folders."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def _load_file(path: Path) -> Iterator[LoadedItem]:
    suffix = path.suffix.lower()
    try:
        if suffix not in SUPPORTED_SUFFIXES:
            raise UnsupportedFileError(
                f"unsupported file type {suffix or '(none)'} (supported: {', '.join(SUPPORTED_SUFFIXES)})"
            )
        if not path.is_file():  # a FIFO or device would block or never end
            raise DocumentReadError("not a regular file")
        size = path.stat().st_size
        if suffix in _TEXT_SUFFIXES and size > MAX_TEXT_FILE_BYTES:
            raise DocumentReadError(
                f"file is {size / 1e6:,.1f} MB; the limit for one text document is {MAX_TEXT_FILE_BYTES / 1e6:,.0f} MB "
                "— split it, or make it a JSONL corpus with one record per report"
            )
        data = path.read_bytes()
        if not data.strip():
            raise DocumentReadError("empty file")
        if suffix == ".jsonl":
            yield from _load_jsonl(path, data)
            return
        text, title = _extract(suffix, data)
        digest = hashlib.sha256(data).hexdigest()
        yield document_from_text(path.name, text, source=str(path), title_hint=title, content_hash=digest)
    except (RagError, OSError) as exc:
        yield LoadFailure(str(path), str(exc))
    except Exception as exc:  # a parser's bug on one hostile file must not abort the batch: report it, log it
        log.error("unexpected %s while reading %s", type(exc).__name__, path, exc_info=exc)
        yield LoadFailure(
            str(path), f"unexpected {type(exc).__name__} while reading the file ({exc}); see the log"
        )


def _extract(suffix: str, data: bytes) -> tuple[str, str | None]:
    """Plain text and an optional title hint for one non-JSONL file."""
    if suffix == ".pdf":
        return pdf_text(data), None
    if suffix == ".docx":
        return docx_text(data)
    refuse_binary(data)
    if suffix in (".html", ".htm"):
        return html_text(refuse_garbled(decode_html(data)))
    text = refuse_garbled(decode_bytes(data))
    if suffix in (".md", ".markdown"):
        return markdown_text(text)
    return text, None


# --- JSONL -------------------------------------------------------------------------------------------


def _load_jsonl(path: Path, data: bytes) -> Iterator[LoadedItem]:
    """One Document per record {doc_id, title, text, meta}; a broken line fails alone, naming file:line."""
    refuse_binary(data)
    seen: set[str] = set()
    for lineno, line in enumerate(decode_bytes(data).splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield LoadFailure(where, f"invalid JSON: {exc.msg} (column {exc.colno})")
            continue
        problem = _record_problem(record)
        if problem is None and record["doc_id"] in seen:
            problem = f"duplicate doc_id {record['doc_id']} in this file"
        if problem is not None:
            yield LoadFailure(where, problem)
            continue
        seen.add(record["doc_id"])
        meta = dict(record.get("meta") or {})
        if isinstance(record.get("lang"), str):
            meta.setdefault("lang", record["lang"])
        canonical = json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        try:
            yield document_from_text(
                record["doc_id"],
                record["text"],
                source=str(path),
                title_hint=record.get("title") if isinstance(record.get("title"), str) else None,
                source_meta=meta,
                content_hash=hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
            )
        except RagError as exc:
            yield LoadFailure(where, str(exc))


def _record_problem(record: object) -> str | None:
    if not isinstance(record, dict):
        return "a JSONL line must be an object {doc_id, title, text, meta}"
    if not isinstance(record.get("doc_id"), str) or not record["doc_id"].strip():
        return "missing doc_id (every record needs a non-empty string doc_id)"
    if not isinstance(record.get("text"), str):
        return f"record {record['doc_id']}: missing text"
    if record.get("meta") is not None and not isinstance(record["meta"], dict):
        return f"record {record['doc_id']}: meta must be an object"
    return None
