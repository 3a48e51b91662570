"""Reading the files of a generation with damage reported by file: a truncated, missing or malformed file is an
IndexCorruptError that names it and says how to rebuild, never a raw traceback."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from rag.errors import IndexCorruptError, IndexMismatchError
from rag.index.store import FORMAT_VERSION, Manifest

_T = TypeVar("_T")


def corrupt_error(index_dir: Path, path: Path, problem: str) -> IndexCorruptError:
    """The error for a damaged file of the index at `index_dir`: what is wrong and how to rebuild."""
    return IndexCorruptError(
        f"index file {path} is damaged ({problem}); rebuild the index: remove {index_dir} and run "
        f'"rag ingest <your reports> --index {index_dir}" again'
    )


def read_manifest(index_dir: Path, path: Path) -> Manifest:
    """A generation's manifest.json; another format version is an IndexMismatchError."""
    try:
        raw = json.loads(path.read_bytes())
    except FileNotFoundError as exc:
        raise corrupt_error(index_dir, path, "missing") from exc
    except (OSError, ValueError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise corrupt_error(index_dir, path, f"unreadable: {exc}") from exc
    if not isinstance(raw, dict):
        raise corrupt_error(index_dir, path, "unreadable: not a JSON object")
    if raw.get("format_version") != FORMAT_VERSION:
        raise IndexMismatchError(
            f"index at {index_dir} has format {raw.get('format_version')}, this version reads {FORMAT_VERSION}; re-ingest"
        )
    try:
        manifest = Manifest(**raw)
    except TypeError as exc:
        raise corrupt_error(index_dir, path, f"unreadable: {exc}") from exc
    fields_ok = (
        isinstance(manifest.model_id, str)
        and isinstance(manifest.dimension, int)
        and manifest.dimension > 0
        and isinstance(manifest.chunk_size, int)
        and isinstance(manifest.chunk_overlap, int)
        and isinstance(manifest.documents, dict)
    )
    if not fields_ok:
        raise corrupt_error(index_dir, path, "unreadable: a field has the wrong type")
    return manifest


def read_jsonl(index_dir: Path, path: Path, parse: Callable[[Any], _T]) -> list[_T]:
    """Every line of a JSONL file, each parsed by `parse`; a bad line is reported with its number."""
    out: list[_T] = []
    try:
        with path.open("rb") as fh:
            for lineno, line in enumerate(fh, start=1):
                try:
                    out.append(parse(json.loads(line)))
                except (ValueError, TypeError, KeyError, AttributeError) as exc:
                    raise corrupt_error(index_dir, path, f"line {lineno}: {type(exc).__name__}: {exc}") from exc
    except FileNotFoundError as exc:
        raise corrupt_error(index_dir, path, "missing") from exc
    except OSError as exc:
        raise corrupt_error(index_dir, path, f"unreadable: {exc}") from exc
    return out


def read_vectors(index_dir: Path, path: Path, dimension: int, n: int) -> NDArray[np.float32]:
    """The n vectors of a generation's vectors.faiss, checked against its chunks and the manifest's dimension."""
    import faiss

    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise corrupt_error(index_dir, path, "missing") from exc
    payload = 4 * dimension * n
    chunks = path.parent / "chunks.jsonl"
    if not payload <= size <= payload + 4096:  # a flat index is its vectors plus a small header
        raise corrupt_error(
            index_dir, path, f"{size:,} bytes, but the {n:,} chunks in {chunks} need {payload:,} plus a header"
        )
    try:
        index = faiss.read_index(str(path))
    except RuntimeError as exc:  # FAISS reports every read failure as RuntimeError with a C++ trace
        reason = re.sub(r"^Error in .*? at \S+: ", "", str(exc).strip().splitlines()[0])
        raise corrupt_error(index_dir, path, f"unreadable: {reason}") from exc
    if index.d != dimension or index.ntotal != n:
        raise corrupt_error(
            index_dir,
            path,
            f"{index.ntotal} vectors of dimension {index.d}, but {chunks} has {n} chunks of dimension {dimension}",
        )
    vectors: NDArray[np.float32] = index.reconstruct_n(0, n) if n else np.zeros((0, dimension), np.float32)
    if not np.isfinite(vectors).all():
        raise corrupt_error(index_dir, path, "some vectors hold NaN or infinite values")
    return vectors
