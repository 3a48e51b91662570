"""Dense search in process: exact below a size threshold, FAISS HNSW (8-bit scalar codes) or IVF-PQ above it.

An approximate index is built once and then reused by later snapshots: rows added since are searched exactly
next to it and rows removed since are masked out, until either kind exceeds `rebuild_ratio` of its size and the
next snapshot builds a fresh one (the cost is amortised over the rows that caused it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from rag.types import Chunk, Document
from rag.vector_store import DenseHits, VectorFilter, VectorIndex, exact_search

IndexKind = Literal["auto", "flat", "hnsw", "ivfpq"]


@dataclass(frozen=True)
class FaissConfig:
    """How the dense index is chosen and searched."""

    kind: IndexKind = "auto"
    """auto: flat up to `flat_max` chunks, hnsw above."""
    flat_max: int = 50_000
    """Chunks up to which search is exhaustive; also the candidate count below which a filtered search is."""
    hnsw_m: int = 32
    ef_search: int = 128
    ef_construction: int = 80
    nprobe: int = 32
    pq_bytes: int = 96
    """IVF-PQ code size per vector (the dimension must be a multiple of it)."""
    rebuild_ratio: float = 0.2
    min_tail: int = 10_000
    """Rows added since the approximate index was built that are always fine to search exactly."""


@dataclass(frozen=True)
class _Ann:
    index: Any
    parts: tuple[Any, ...]
    """The wrapped FAISS objects, referenced so Python keeps them alive as long as `index`."""
    kind: str
    keys: NDArray[np.int64]
    """Keys held by the index, sorted."""


class FaissVectors:
    """The dense index of one snapshot (immutable; safe to search from many threads)."""

    def __init__(
        self, vectors: NDArray[np.float32], keys: NDArray[np.int64], doc_rows: Mapping[str, NDArray[np.int64]],
        ann: _Ann | None, config: FaissConfig,
    ) -> None:
        self.vectors = vectors
        self.keys = keys
        self.doc_rows = doc_rows
        self.ann = ann
        self.config = config
        self.kind = ann.kind if ann is not None else "flat"
        if ann is None:
            self._tail = np.arange(len(keys), dtype=np.int64)
            self._dead = np.zeros(0, dtype=np.int64)
        else:
            self._tail = np.flatnonzero(~_contains(ann.keys, keys)).astype(np.int64)
            self._dead = np.setdiff1d(ann.keys, keys, assume_unique=True)

    @property
    def stale(self) -> int:
        """Rows the approximate index does not reflect (added or removed since it was built)."""
        return len(self._tail) + len(self._dead) if self.ann is not None else 0

    def memory_bytes(self) -> int:
        """Size of the approximate index (0 for flat, whose vectors are the snapshot's own)."""
        if self.ann is None:
            return 0
        faiss = _faiss()
        return int(faiss.serialize_index(self.ann.index).size)

    def search(self, queries: NDArray[np.float32], k: int, where: VectorFilter | None = None) -> list[DenseHits]:
        """The k best chunks per query among those `where.doc_ids` allows."""
        rows = candidate_rows(self.doc_rows, where.doc_ids) if where is not None and where.doc_ids is not None else None
        if self.ann is None or (rows is not None and len(rows) <= self.config.flat_max):
            return exact_search(self.vectors, self.keys, rows, queries, k)
        faiss = _faiss()
        allowed = self.keys[rows] if rows is not None else None
        keep: list[Any] = []  # selectors reference these arrays: keep them alive through the search
        sel: Any = None
        if allowed is not None:
            ids = np.ascontiguousarray(allowed, dtype=np.int64)
            keep.append(ids)
            sel = faiss.IDSelectorBatch(len(ids), faiss.swig_ptr(ids))
        elif len(self._dead):
            ids = np.ascontiguousarray(self._dead, dtype=np.int64)
            keep.append(ids)
            batch = faiss.IDSelectorBatch(len(ids), faiss.swig_ptr(ids))
            keep.append(batch)
            sel = faiss.IDSelectorNot(batch)
        if self.ann.kind == "hnsw":
            params: Any = faiss.SearchParametersHNSW(efSearch=max(self.config.ef_search, k))
        else:
            params = faiss.SearchParametersIVF(nprobe=self.config.nprobe)
        if sel is not None:
            params.sel = sel
        q = np.ascontiguousarray(queries, dtype=np.float32)
        scores, labels = self.ann.index.search(q, k, params=params)
        tail = self._tail if rows is None else np.intersect1d(self._tail, rows)
        extra = exact_search(self.vectors, self.keys, tail, q, k) if len(tail) else None
        out = []
        for i in range(len(q)):
            found = labels[i] >= 0
            got_keys, got_scores = labels[i][found], scores[i][found]
            if extra is not None:
                got_keys = np.concatenate([got_keys, extra[i].keys])
                got_scores = np.concatenate([got_scores, extra[i].scores])
            order = np.argsort(-got_scores, kind="stable")[:k]
            out.append(DenseHits(got_keys[order].astype(np.int64), got_scores[order].astype(np.float32)))
        return out


class FaissStore:
    """The in-process vector store: vectors stay in the index's own rows, this only builds what searches them."""

    name = "faiss"
    holds_documents = False

    def __init__(self, config: FaissConfig | None = None) -> None:
        self.config = config or FaissConfig()

    def add(
        self, document: Document, chunks: Sequence[Chunk], tokens: Sequence[tuple[str, ...]],
        keys: NDArray[np.int64], vectors: NDArray[np.float32],
    ) -> None:
        """Nothing to do: the vectors are the IndexStore's rows, saved with its generation."""

    def delete(self, doc_ids: Sequence[str]) -> None:
        """Nothing to do (see `add`)."""

    def index(
        self, vectors: NDArray[np.float32], keys: NDArray[np.int64], doc_rows: Mapping[str, NDArray[np.int64]],
        previous: VectorIndex | None,
    ) -> FaissVectors:
        """Exact for small collections; otherwise the previous approximate index while it is fresh enough."""
        cfg = self.config
        kind = cfg.kind if cfg.kind != "auto" else ("flat" if len(keys) <= cfg.flat_max else "hnsw")
        if kind == "flat" or not len(keys):
            return FaissVectors(vectors, keys, doc_rows, None, cfg)
        if isinstance(previous, FaissVectors) and previous.ann is not None and previous.ann.kind == kind:
            candidate = FaissVectors(vectors, keys, doc_rows, previous.ann, cfg)
            if candidate.stale <= max(cfg.min_tail, cfg.rebuild_ratio * len(previous.ann.keys)):
                return candidate
        return FaissVectors(vectors, keys, doc_rows, build_ann(vectors, keys, kind, cfg), cfg)


def build_ann(vectors: NDArray[np.float32], keys: NDArray[np.int64], kind: str, cfg: FaissConfig) -> _Ann:
    """An approximate inner-product index over these rows, labelled by their keys."""
    faiss = _faiss()

    x = np.ascontiguousarray(vectors, dtype=np.float32)
    ids = np.ascontiguousarray(keys, dtype=np.int64)
    d = x.shape[1]
    rng = np.random.default_rng(0)
    sample = x[rng.choice(len(x), size=min(len(x), 100_000), replace=False)] if len(x) > 100_000 else x
    if kind == "hnsw":
        inner: Any = faiss.IndexHNSWSQ(d, faiss.ScalarQuantizer.QT_8bit, cfg.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = cfg.ef_construction
        inner.train(sample)
        index: Any = faiss.IndexIDMap(inner)
        parts: tuple[Any, ...] = (inner,)
    elif kind == "ivfpq":
        nlist = max(16, min(65_536, int(4 * math.sqrt(len(x)))))
        quantizer = faiss.IndexFlatIP(d)
        m = cfg.pq_bytes if d % cfg.pq_bytes == 0 else next(b for b in range(min(d, cfg.pq_bytes), 0, -1) if d % b == 0)
        inner = faiss.IndexIVFPQ(quantizer, d, nlist, m, 8, faiss.METRIC_INNER_PRODUCT)
        inner.train(sample if len(sample) >= 39 * nlist else x)
        index = inner
        parts = (quantizer,)
    else:
        raise ValueError(f"unknown vector index {kind!r}; use auto, flat, hnsw or ivfpq")
    index.add_with_ids(x, ids)
    return _Ann(index=index, parts=parts, kind=kind, keys=np.sort(ids))


def _faiss() -> Any:
    """The faiss module, imported when an index is first needed (typed loosely: its stubs lag the library)."""
    import faiss

    return faiss


def candidate_rows(doc_rows: Mapping[str, NDArray[np.int64]], doc_ids: frozenset[str]) -> NDArray[np.int64]:
    """Rows of these documents, in document-id order (the order ties are broken in)."""
    parts = [doc_rows[d] for d in sorted(doc_ids) if d in doc_rows]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _contains(sorted_keys: NDArray[np.int64], keys: NDArray[np.int64]) -> NDArray[np.bool_]:
    if not len(sorted_keys):
        return np.zeros(len(keys), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return np.asarray(sorted_keys[pos] == keys)
