"""The index in memory: documents, chunks, their lexical tokens, vectors and row keys, kept aligned, and the
manifest of what they were built with."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from rag.errors import DocumentNotFoundError, IndexMismatchError
from rag.types import Chunk, Document, DocumentInfo

FORMAT_VERSION = 1


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
        self.manifest = replace_documents(self.manifest, docs)
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
        self.manifest = replace_documents(self.manifest, docs)
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


def replace_documents(manifest: Manifest, docs: dict[str, str]) -> Manifest:
    """The manifest with these documents (doc_id → content hash), stamped with the time of the change."""
    return replace(manifest, documents=docs, updated=time.time())
