"""The on-disk index: FAISS vectors plus documents, chunks and a manifest, saved atomically by generation.

Layout of an index directory::

    CURRENT                 name of the live generation (replaced atomically)
    gen-000007/manifest.json
    gen-000007/documents.jsonl   cleaned text + metadata, one document a line
    gen-000007/chunks.jsonl      chunk text/offsets/section + lexical tokens, aligned with the vectors
    gen-000007/vectors.faiss     FAISS IndexFlatIP of normalised embeddings
    .lock                   the cross-process writer lock (see `writer_lock`)

A save writes a new generation directory, fsyncs it, then swaps CURRENT; a crash at any point leaves the
previous generation live, and the next open sweeps up its temporary files. A damaged live generation is an
IndexCorruptError that names the file, never a raw traceback.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from filelock import FileLock, Timeout
from numpy.typing import NDArray

from embeddings.files import fsync_path as _fsync  # a module global: the crash tests patch it
from rag.errors import (
    DocumentNotFoundError,
    IndexCorruptError,
    IndexLockedError,
    IndexMismatchError,
    IndexNotFoundError,
)
from rag.types import Chunk, Document, DocumentInfo, DocumentMeta

FORMAT_VERSION = 1
WRITER_LOCK_TIMEOUT_S = 120.0
"""How long a second writer waits for the first to finish before giving up with IndexLockedError."""
_CURRENT = "CURRENT"
_LOCK = ".lock"
_GENERATION = re.compile(r"gen-\d{6,}")
_T = TypeVar("_T")


@dataclass(frozen=True)
class Manifest:
    """What an index was built with; a mismatch with the running configuration is an error."""

    model_id: str
    dimension: int
    chunk_size: int
    chunk_overlap: int
    format_version: int = FORMAT_VERSION
    documents: dict[str, str] = field(default_factory=dict)
    """doc_id → content hash."""
    updated: float = 0.0


@dataclass
class IndexStore:
    """Documents, chunks and their vectors, kept aligned (row i of the vectors is chunks[i])."""

    manifest: Manifest
    documents: dict[str, Document] = field(default_factory=dict)
    chunks: list[Chunk] = field(default_factory=list)
    tokens: list[tuple[str, ...]] = field(default_factory=list)
    vectors: NDArray[np.float32] = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    version: int = 0
    """Bumped on every change so derived structures (BM25, FAISS) know to rebuild."""
    generation: str | None = None
    """The generation this store was loaded from or last saved as (None: never saved)."""
    changed: set[str] = field(default_factory=set)
    """doc_ids upserted or removed since `generation`; replayed onto a newer one another writer saved."""
    keys: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """A unique random 62-bit key per chunk row (aligned with chunks), never reused: snapshots and vector
    stores name rows by key, so rows can move (a removal compacts them) without rebuilding what refers to them."""
    _buffer: NDArray[np.float32] | None = field(default=None, init=False, repr=False, compare=False)
    _filled: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.keys) != len(self.chunks):
            self.keys = new_keys(len(self.chunks))

    @classmethod
    def empty(cls, model_id: str, dimension: int, chunk_size: int, chunk_overlap: int) -> IndexStore:
        """A new, empty index for this embedder and chunker."""
        manifest = Manifest(model_id=model_id, dimension=dimension, chunk_size=chunk_size, chunk_overlap=chunk_overlap)
        return cls(manifest=manifest, vectors=np.zeros((0, dimension), dtype=np.float32))

    def check_compatible(self, model_id: str, dimension: int) -> None:
        """Fail clearly when the index was built with another embedding model."""
        m = self.manifest
        if m.model_id != model_id or m.dimension != dimension:
            raise IndexMismatchError(
                f"index was built with embedding model {m.model_id!r} (dimension {m.dimension}) but the "
                f"configured embedder is {model_id!r} (dimension {dimension}); use another --index directory, "
                "re-ingest into this one, or set RAG_EMBEDDER and RAG_EMBEDDING_BACKEND to what the index was "
                "built with (RAG_EMBEDDING_BACKEND=onnx-int8 makes model ids ending in '+onnx-int8', torch the others)"
            )

    def content_hash(self, doc_id: str) -> str | None:
        """Stored content hash of a document, or None if absent."""
        return self.manifest.documents.get(doc_id)

    def upsert(
        self, document: Document, chunks: list[Chunk], tokens: list[tuple[str, ...]], vectors: NDArray[np.float32],
        keys: NDArray[np.int64] | None = None,
    ) -> None:
        """Add a document or replace all chunks of an existing one (`keys`: row keys another store assigned)."""
        if len(chunks) != len(vectors) or len(chunks) != len(tokens) or (keys is not None and len(keys) != len(chunks)):
            raise ValueError("chunks, tokens and vectors must be aligned")
        if document.doc_id in self.documents:
            self._drop(document.doc_id)
        self.documents[document.doc_id] = document
        self.chunks.extend(chunks)
        self.tokens.extend(tokens)
        self.keys = np.concatenate([self.keys, new_keys(len(chunks)) if keys is None else keys.astype(np.int64)])
        self._append_vectors(vectors)
        docs = dict(self.manifest.documents)
        docs[document.doc_id] = document.content_hash
        self.manifest = _replace_docs(self.manifest, docs)
        self.changed.add(document.doc_id)
        self.version += 1

    def remove(self, doc_id: str) -> None:
        """Delete a document and its chunks."""
        if doc_id not in self.documents:
            raise DocumentNotFoundError(f"no document {doc_id!r} in the index")
        self._drop(doc_id)
        del self.documents[doc_id]
        docs = dict(self.manifest.documents)
        docs.pop(doc_id, None)
        self.manifest = _replace_docs(self.manifest, docs)
        self.changed.add(doc_id)
        self.version += 1

    def _append_vectors(self, vectors: NDArray[np.float32]) -> None:
        """Append rows into spare capacity (amortised O(rows)); rows a snapshot may hold are never overwritten."""
        n, m = len(self.vectors), len(vectors)
        if m == 0:
            return
        buf = self._buffer
        fits = buf is not None and n == self._filled and len(buf) >= n + m and self.vectors.base is buf
        if buf is None or not fits:
            width = self.vectors.shape[1] if self.vectors.ndim == 2 and n else vectors.shape[1]
            buf = np.empty((max(64, (n + m) * 3 // 2), width), dtype=np.float32)
            buf[:n] = self.vectors
            self._buffer = buf
        buf[n : n + m] = vectors
        self._filled = n + m
        self.vectors = buf[: n + m]

    def _drop(self, doc_id: str) -> None:
        keep = [i for i, c in enumerate(self.chunks) if c.doc_id != doc_id]
        self.chunks = [self.chunks[i] for i in keep]
        self.tokens = [self.tokens[i] for i in keep]
        self.keys = self.keys[keep]
        # A fresh array, never the shared buffer: snapshots taken before the removal keep their rows.
        width = self.vectors.shape[1] if self.vectors.ndim == 2 else self.manifest.dimension
        self.vectors = self.vectors[keep] if len(keep) else np.zeros((0, width), dtype=np.float32)

    def infos(self) -> list[DocumentInfo]:
        """One line per document, in id order."""
        counts: dict[str, int] = {}
        for c in self.chunks:
            counts[c.doc_id] = counts.get(c.doc_id, 0) + 1
        return [
            DocumentInfo(
                doc_id=d.doc_id,
                meta=d.meta,
                n_chunks=counts.get(d.doc_id, 0),
                n_chars=len(d.text),
                source=d.source,
                content_hash=d.content_hash,
            )
            for d in sorted(self.documents.values(), key=lambda d: d.doc_id)
        ]


def new_keys(n: int) -> NDArray[np.int64]:
    """n random row keys in [1, 2**62): unique in practice (a clash among a million rows has odds ~1e-7)."""
    raw = np.frombuffer(os.urandom(8 * n), dtype=np.uint64) >> np.uint64(2)
    return raw.astype(np.int64) | 1


def _replace_docs(manifest: Manifest, docs: dict[str, str]) -> Manifest:
    return Manifest(
        model_id=manifest.model_id,
        dimension=manifest.dimension,
        chunk_size=manifest.chunk_size,
        chunk_overlap=manifest.chunk_overlap,
        format_version=manifest.format_version,
        documents=docs,
        updated=time.time(),
    )


# ---------------------------------------------------------------- the writer lock


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


# ---------------------------------------------------------------- persistence


def index_exists(index_dir: Path) -> bool:
    """True when a loadable generation is present."""
    return (index_dir / _CURRENT).is_file()


def load_index(index_dir: Path) -> IndexStore:
    """Load the live generation of an index directory.

    Temporary files left by a killed writer are removed first. A truncated or damaged file is an
    IndexCorruptError naming it and saying how to rebuild.
    """
    pointer = index_dir / _CURRENT
    if not pointer.is_file():
        raise IndexNotFoundError(f'no index at {index_dir} — run "rag ingest data/reports" first')
    _sweep_debris(index_dir)
    for attempt in range(3):
        name = _read_pointer(index_dir, pointer)
        try:
            return _load_generation(index_dir, index_dir / name)
        except IndexCorruptError:
            # A writer may have swapped CURRENT and collected this generation while we read it.
            if attempt == 2 or _read_pointer(index_dir, pointer) == name:
                raise
    raise AssertionError("unreachable")


def _load_generation(index_dir: Path, gen: Path) -> IndexStore:
    manifest = _read_manifest(index_dir, gen / "manifest.json")
    documents = {d.doc_id: d for d in _read_jsonl(index_dir, gen / "documents.jsonl", document_from_json)}
    rows = _read_jsonl(index_dir, gen / "chunks.jsonl", chunk_from_json)
    chunks = [chunk for chunk, _ in rows]
    vectors = _read_vectors(index_dir, gen / "vectors.faiss", manifest.dimension, len(chunks))
    orphans = sorted({c.doc_id for c in chunks} - documents.keys())
    if orphans:
        raise _corrupt(
            index_dir, gen / "chunks.jsonl", f"chunks of {len(orphans)} documents missing from documents.jsonl, e.g. {orphans[0]!r}"
        )
    return IndexStore(
        manifest=manifest,
        documents=documents,
        chunks=chunks,
        tokens=[tokens for _, tokens in rows],
        vectors=vectors,
        version=1,
        generation=gen.name,
    )


def save_index(store: IndexStore, index_dir: Path) -> Path:
    """Write a new generation and make it live atomically; returns its directory.

    Call it holding `writer_lock`. When another writer saved a generation after `store` was loaded, the store's
    own changes are first replayed onto that one (in place), so neither writer's documents are lost.
    """
    import faiss

    index_dir.mkdir(parents=True, exist_ok=True)
    live = _live_generation(index_dir)
    if live is not None and live != store.generation:
        _rebase(store, load_index(index_dir))
    number = _next_generation(index_dir)
    final = index_dir / f"gen-{number:06d}"
    tmp = Path(tempfile.mkdtemp(prefix=f".gen-{number:06d}-", dir=index_dir))
    try:
        _write_json(tmp / "manifest.json", asdict(store.manifest))
        with (tmp / "documents.jsonl").open("w", encoding="utf-8") as fh:
            for doc in store.documents.values():
                fh.write(json.dumps(document_to_json(doc), ensure_ascii=False) + "\n")
        with (tmp / "chunks.jsonl").open("w", encoding="utf-8") as fh:
            for chunk, toks in zip(store.chunks, store.tokens, strict=True):
                fh.write(json.dumps({**asdict(chunk), "tokens": list(toks)}, ensure_ascii=False) + "\n")
        flat = faiss.IndexFlatIP(store.manifest.dimension)
        if len(store.vectors):
            flat.add(np.ascontiguousarray(store.vectors, dtype=np.float32))
        faiss.write_index(flat, str(tmp / "vectors.faiss"))
        for f in tmp.iterdir():
            _fsync(f)
        os.replace(tmp, final)
        _fsync(index_dir)
        pointer_tmp = index_dir / f".{_CURRENT}.{os.getpid()}"
        pointer_tmp.write_text(final.name, encoding="utf-8")
        _fsync(pointer_tmp)
        os.replace(pointer_tmp, index_dir / _CURRENT)
        _fsync(index_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    store.generation = final.name
    store.changed.clear()
    _collect_garbage(index_dir, keep=final.name)
    return final


def _rebase(store: IndexStore, newer: IndexStore) -> None:
    """Replay the store's changed documents onto a newer generation, keeping the store object (readers hold it)."""
    newer.check_compatible(store.manifest.model_id, store.manifest.dimension)
    changed = store.changed
    theirs = [i for i, c in enumerate(newer.chunks) if c.doc_id not in changed]
    ours = [i for i, c in enumerate(store.chunks) if c.doc_id in changed]
    documents = {d: doc for d, doc in newer.documents.items() if d not in changed}
    documents.update({d: store.documents[d] for d in sorted(changed) if d in store.documents})
    hashes = {d: h for d, h in newer.manifest.documents.items() if d not in changed}
    hashes.update({d: doc.content_hash for d, doc in documents.items() if d in changed})
    store.manifest = _replace_docs(newer.manifest, hashes)
    store.documents = documents
    store.chunks = [newer.chunks[i] for i in theirs] + [store.chunks[i] for i in ours]
    store.tokens = [newer.tokens[i] for i in theirs] + [store.tokens[i] for i in ours]
    store.keys = np.concatenate([newer.keys[theirs], store.keys[ours]])
    store.vectors = np.vstack([newer.vectors[theirs], store.vectors[ours]]).astype(np.float32)
    store.generation = newer.generation
    store.version += 1


# ---------------------------------------------------------------- reading, with damage reported by file


def _corrupt(index_dir: Path, path: Path, problem: str) -> IndexCorruptError:
    return IndexCorruptError(
        f"index file {path} is damaged ({problem}); rebuild the index: remove {index_dir} and run "
        f'"rag ingest <your reports> --index {index_dir}" again'
    )


def _live_generation(index_dir: Path) -> str | None:
    pointer = index_dir / _CURRENT
    return pointer.read_text(encoding="utf-8", errors="replace").strip() if pointer.is_file() else None


def _read_pointer(index_dir: Path, pointer: Path) -> str:
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise _corrupt(index_dir, pointer, f"unreadable: {exc}") from exc
    if not _GENERATION.fullmatch(name):
        raise _corrupt(index_dir, pointer, f"holds {name[:40]!r}, not a generation name such as gen-000001")
    if not (index_dir / name).is_dir():
        raise _corrupt(index_dir, pointer, f"names {name}, which does not exist")
    return name


def _read_manifest(index_dir: Path, path: Path) -> Manifest:
    try:
        raw = json.loads(path.read_bytes())
    except FileNotFoundError as exc:
        raise _corrupt(index_dir, path, "missing") from exc
    except (OSError, ValueError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise _corrupt(index_dir, path, f"unreadable: {exc}") from exc
    if not isinstance(raw, dict):
        raise _corrupt(index_dir, path, "unreadable: not a JSON object")
    if raw.get("format_version") != FORMAT_VERSION:
        raise IndexMismatchError(
            f"index at {index_dir} has format {raw.get('format_version')}, this version reads {FORMAT_VERSION}; re-ingest"
        )
    try:
        manifest = Manifest(**raw)
    except TypeError as exc:
        raise _corrupt(index_dir, path, f"unreadable: {exc}") from exc
    fields_ok = (
        isinstance(manifest.model_id, str)
        and isinstance(manifest.dimension, int)
        and manifest.dimension > 0
        and isinstance(manifest.chunk_size, int)
        and isinstance(manifest.chunk_overlap, int)
        and isinstance(manifest.documents, dict)
    )
    if not fields_ok:
        raise _corrupt(index_dir, path, "unreadable: a field has the wrong type")
    return manifest


def _read_jsonl(index_dir: Path, path: Path, parse: Callable[[Any], _T]) -> list[_T]:
    out: list[_T] = []
    try:
        with path.open("rb") as fh:
            for lineno, line in enumerate(fh, start=1):
                try:
                    out.append(parse(json.loads(line)))
                except (ValueError, TypeError, KeyError, AttributeError) as exc:
                    raise _corrupt(index_dir, path, f"line {lineno}: {type(exc).__name__}: {exc}") from exc
    except FileNotFoundError as exc:
        raise _corrupt(index_dir, path, "missing") from exc
    except OSError as exc:
        raise _corrupt(index_dir, path, f"unreadable: {exc}") from exc
    return out


def _read_vectors(index_dir: Path, path: Path, dimension: int, n: int) -> NDArray[np.float32]:
    import faiss

    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise _corrupt(index_dir, path, "missing") from exc
    payload = 4 * dimension * n
    chunks = path.parent / "chunks.jsonl"
    if not payload <= size <= payload + 4096:  # a flat index is its vectors plus a small header
        raise _corrupt(
            index_dir, path, f"{size:,} bytes, but the {n:,} chunks in {chunks} need {payload:,} plus a header"
        )
    try:
        index = faiss.read_index(str(path))
    except RuntimeError as exc:  # FAISS reports every read failure as RuntimeError with a C++ trace
        reason = re.sub(r"^Error in .*? at \S+: ", "", str(exc).strip().splitlines()[0])
        raise _corrupt(index_dir, path, f"unreadable: {reason}") from exc
    if index.d != dimension or index.ntotal != n:
        raise _corrupt(
            index_dir,
            path,
            f"{index.ntotal} vectors of dimension {index.d}, but {chunks} has {n} chunks of dimension {dimension}",
        )
    vectors: NDArray[np.float32] = index.reconstruct_n(0, n) if n else np.zeros((0, dimension), np.float32)
    if not np.isfinite(vectors).all():
        raise _corrupt(index_dir, path, "some vectors hold NaN or infinite values")
    return vectors


def _sweep_debris(index_dir: Path) -> None:
    """Delete what a killed writer left: its temporary files, and a generation it renamed into place but never
    made live (killed between the rename and the CURRENT swap). Unless a writer is at work right now: then
    they are its own."""
    if not _debris(index_dir) and not _stale_generations(index_dir):
        return
    # Busy lock: the files belong to a live writer. Read-only directory: leave them to the next save.
    with suppress(IndexLockedError, OSError), writer_lock(index_dir, timeout=0):
        for path in [*_debris(index_dir), *_stale_generations(index_dir)]:
            _remove(path)


def _stale_generations(index_dir: Path) -> list[Path]:
    """Generation directories other than the live one (none unless CURRENT names a generation that exists:
    a corrupt pointer must be reported, never taken as "everything is stale")."""
    try:
        live = _live_generation(index_dir)
    except OSError:
        return []
    if live is None or not _GENERATION.fullmatch(live) or not (index_dir / live).is_dir():
        return []
    return [p for p in index_dir.iterdir() if p.is_dir() and _GENERATION.fullmatch(p.name) and p.name != live]


def _debris(index_dir: Path) -> list[Path]:
    return [p for p in index_dir.iterdir() if p.name.startswith((".gen-", f".{_CURRENT}."))]


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _next_generation(index_dir: Path) -> int:
    numbers = [int(p.name[4:]) for p in index_dir.glob("gen-*") if p.name[4:].isdigit()]
    return max(numbers, default=0) + 1


def _collect_garbage(index_dir: Path, keep: str) -> None:
    """Remove older generations and what crashed writers left (never the live one); the caller holds the lock."""
    for p in index_dir.iterdir():
        if p.is_dir() and p.name != keep and p.name.startswith("gen-"):
            shutil.rmtree(p, ignore_errors=True)
    for p in _debris(index_dir):
        _remove(p)


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")


def document_to_json(doc: Document) -> dict[str, Any]:
    """A document as the JSON object documents.jsonl holds a line of."""
    out = asdict(doc)
    out["offset_map"] = [list(p) for p in doc.offset_map]
    return out


def document_from_json(raw: dict[str, Any]) -> Document:
    """The inverse of `document_to_json` (consumes `raw`)."""
    meta_raw = raw.pop("meta")
    meta = DocumentMeta(
        **{
            **meta_raw,
            "review_years": tuple(meta_raw.get("review_years", ())),
            "source_meta": tuple(tuple(p) for p in meta_raw.get("source_meta", ())),
        }
    )
    offset_map = tuple((int(a), int(b)) for a, b in raw.pop("offset_map", ()))
    return Document(meta=meta, offset_map=offset_map, **raw)


def chunk_from_json(raw: dict[str, Any]) -> tuple[Chunk, tuple[str, ...]]:
    """A chunks.jsonl line: the chunk and its BM25 tokens (consumes `raw`)."""
    tokens = tuple(raw.pop("tokens"))
    return Chunk(**raw), tokens
