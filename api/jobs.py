"""Background indexing of uploaded files: one worker thread, jobs tracked in memory."""

from __future__ import annotations

import logging
import shutil
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, TypeVar

from rag.errors import RagError
from rag.types import IngestReport

log = logging.getLogger("api")

T = TypeVar("T")
JobStatus = Literal["queued", "running", "done", "failed"]


@dataclass(frozen=True)
class Job:
    """The state of one upload's indexing."""

    job_id: str
    filename: str
    status: JobStatus = "queued"
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    reason: str | None = None
    report: IngestReport | None = None


def failure_reason(report: IngestReport) -> str | None:
    """Why an ingest of one file produced nothing, or None when it indexed (or kept) something."""
    if report.added or report.updated or report.unchanged:
        return None
    if report.failed:
        return "; ".join(reason for _, reason in report.failed)
    return "no document could be read from the file"


class JobRunner:
    """Runs ingest callables one at a time (index writes are serialised) and remembers recent jobs."""

    def __init__(self, *, keep: int = 500) -> None:
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._keep = keep
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest")

    def submit(self, filename: str, work: Callable[[], IngestReport], *, cleanup: Path | None = None) -> Job:
        """Queue `work`; `cleanup` (a temp folder) is deleted once it has run."""
        job = Job(job_id=uuid.uuid4().hex, filename=filename)
        self._put(job)
        self._executor.submit(self._run, job.job_id, work, cleanup)
        return job

    def run_exclusive(self, work: Callable[[], T]) -> T:
        """Run `work` on the indexing thread and wait for it, so it never overlaps an ingest."""
        return self._executor.submit(work).result()

    def get(self, job_id: str) -> Job | None:
        """A job by id (None if unknown or forgotten)."""
        with self._lock:
            return self._jobs.get(job_id)

    def shutdown(self) -> None:
        """Stop taking work; queued jobs are dropped, a running one finishes in the background."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _put(self, job: Job) -> None:
        with self._lock:
            self._jobs[job.job_id] = job
            self._jobs.move_to_end(job.job_id)
            while len(self._jobs) > self._keep:
                self._jobs.popitem(last=False)

    def _update(self, job_id: str, **changes: object) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                self._jobs[job_id] = replace(job, **changes)  # type: ignore[arg-type]

    def _run(self, job_id: str, work: Callable[[], IngestReport], cleanup: Path | None) -> None:
        self._update(job_id, status="running", started_at=time.time())
        try:
            report = work()
        except RagError as exc:
            self._update(job_id, status="failed", reason=str(exc), finished_at=time.time())
        except Exception as exc:
            log.error("indexing job %s failed: %s", job_id, type(exc).__name__, exc_info=exc)
            self._update(
                job_id, status="failed", reason="internal error while indexing", finished_at=time.time()
            )
        else:
            reason = failure_reason(report)
            status: JobStatus = "failed" if reason else "done"
            self._update(job_id, status=status, reason=reason, report=report, finished_at=time.time())
        finally:
            if cleanup is not None:
                shutil.rmtree(cleanup, ignore_errors=True)
