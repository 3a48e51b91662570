"""rag/index/lock.py: the writer lock across threads and processes, and the clear error of a writer that waits
too long (through Pipeline.ingest and Pipeline.remove)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO_ROOT
from index_helpers import directory_bytes, held_in_thread, write_report

from rag.errors import IndexLockedError
from rag.index.generations import load_index
from rag.index.lock import writer_lock
from rag.pipeline_factory import load_pipeline
from rag.settings import Settings


def test_second_writer_in_another_thread_times_out_with_a_clear_error(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    with held_in_thread(index_dir):
        started = time.monotonic()
        with pytest.raises(IndexLockedError) as err, writer_lock(index_dir, timeout=0.3):
            pass
        assert time.monotonic() - started >= 0.25  # it waited before giving up
    assert f"another ingest is running on {index_dir}" in str(err.value)
    with writer_lock(index_dir, timeout=0):  # released: free again
        pass


def test_second_writer_waits_for_the_first_to_finish(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    with held_in_thread(index_dir, release_after=0.3):
        started = time.monotonic()
        with writer_lock(index_dir, timeout=30):
            waited = time.monotonic() - started
    assert waited >= 0.2


_HOLDER = """
import sys
from pathlib import Path
from rag.index.lock import writer_lock

with writer_lock(Path(sys.argv[1])):
    print("locked", flush=True)
    sys.stdin.read()
"""


def test_writer_lock_holds_across_processes(
    tmp_path: Path, hashing_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    index_dir = hashing_settings.index_dir
    pipeline = load_pipeline(hashing_settings, answering=False)
    pipeline.ingest([write_report(tmp_path / "in", "a.txt", "海珠区", 7.7)])
    before = directory_bytes(index_dir)
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(index_dir)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked", holder.stderr
        monkeypatch.setattr("rag.index.lock.WRITER_LOCK_TIMEOUT_S", 0.5)
        with pytest.raises(IndexLockedError, match="another ingest is running on"):
            pipeline.ingest([write_report(tmp_path / "in", "b.txt", "沙河口区", 6.5)])
        with pytest.raises(IndexLockedError):
            pipeline.remove("a.txt")
        assert directory_bytes(index_dir) == before  # the locked-out writer wrote nothing
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(30)
    report = pipeline.ingest([tmp_path / "in"])  # the holder is gone: the same call now succeeds
    assert report.added == ("b.txt",) and not report.failed
    assert sorted(load_index(index_dir).documents) == ["a.txt", "b.txt"]


def test_the_package_imports_without_fcntl() -> None:
    """Windows has no fcntl; the writer lock must not need it."""
    code = "import sys; sys.modules['fcntl'] = None; import rag.pipeline, rag.index.lock, rag.loading, api.app"
    subprocess.run([sys.executable, "-W", "ignore", "-c", code], check=True, cwd=REPO_ROOT, timeout=120)

