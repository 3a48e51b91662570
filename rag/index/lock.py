"""The cross-process writer lock of an index directory (readers never take it)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from rag.errors import IndexLockedError

WRITER_LOCK_TIMEOUT_S = 120.0
"""How long a second writer waits for the first to finish before giving up with IndexLockedError."""
_LOCK = ".lock"


@contextmanager
def writer_lock(index_dir: Path, *, timeout: float | None = None) -> Iterator[None]:
    """Hold the cross-process writer lock of an index directory (readers never take it).

    Raises IndexLockedError when another process (or thread) keeps it for more than `timeout` seconds
    (default WRITER_LOCK_TIMEOUT_S, read at call time).
    """
    timeout = WRITER_LOCK_TIMEOUT_S if timeout is None else timeout
    index_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(index_dir / _LOCK, timeout=timeout)
    try:
        lock.acquire()
    except Timeout:
        raise IndexLockedError(
            f"another ingest is running on {index_dir} (it still holds {index_dir / _LOCK} after {timeout:g} s); "
            "wait for it to finish, then run this again"
        ) from None
    try:
        yield
    finally:
        lock.release()
