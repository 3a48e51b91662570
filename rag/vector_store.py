"""Dense search behind one interface: FAISS in process (`rag/stores/faiss_store.py`) or Milvus shared by
several processes (`rag/stores/milvus_store.py`), picked by `rag/stores/factory.py`.

A `VectorIndex` is what one snapshot searches and never changes; a `VectorStore` is the writer's side that
receives chunks and removals and hands out a fresh `VectorIndex` for each new snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from rag.types import Chunk, Document


@dataclass(frozen=True)
class VectorFilter:
    """Which chunks a dense search may return; a None field does not constrain, an empty doc_ids matches nothing.

    `doc_ids` is authoritative (the retriever folds every explicit filter and its routing into it); stores that
    hold the other fields (Milvus) also push them down as expressions.
    """

    doc_ids: frozenset[str] | None = None
    regions: tuple[str, ...] | None = None
    """The chunk's report is of one of these regions, or of a district whose parent is one of them."""
    year: int | None = None
    """The report's own year, its plan year or one of its review years."""
    level: str | None = None

    def matches_nothing(self) -> bool:
        """True when no chunk can pass (an empty pool of documents)."""
        return self.doc_ids is not None and not self.doc_ids


@dataclass(frozen=True)
class DenseHits:
    """The best chunks for one query, best first: row keys (see `IndexStore.keys`) and inner products."""

    keys: NDArray[np.int64]
    scores: NDArray[np.float32]


class VectorIndex(Protocol):
    """Dense search over the chunks of one snapshot."""

    kind: str
    """What searches: "flat", "hnsw", "ivfpq" or "milvus"."""

    def search(self, queries: NDArray[np.float32], k: int, where: VectorFilter | None = None) -> list[DenseHits]:
        """The k best chunks for each query (normalised vectors, one per row), filtered by `where`."""
        ...


class VectorStore(Protocol):
    """Where the writer puts vectors; each call of `index` gives the searchable state of a new snapshot."""

    name: str
    holds_documents: bool
    """True when the store also keeps documents and passages for other processes (then it is the index)."""

    def add(
        self, document: Document, chunks: Sequence[Chunk], tokens: Sequence[tuple[str, ...]],
        keys: NDArray[np.int64], vectors: NDArray[np.float32],
    ) -> None:
        """Store a document's chunks, replacing the chunks of an earlier version of it."""
        ...

    def delete(self, doc_ids: Sequence[str]) -> None:
        """Remove every chunk of these documents."""
        ...

    def index(
        self, vectors: NDArray[np.float32], keys: NDArray[np.int64], doc_rows: Mapping[str, NDArray[np.int64]],
        previous: VectorIndex | None,
    ) -> VectorIndex:
        """The dense index of a snapshot whose rows have these keys (and, for in-process stores, vectors)."""
        ...


def exact_search(
    vectors: NDArray[np.float32], keys: NDArray[np.int64], rows: NDArray[np.int64] | None,
    queries: NDArray[np.float32], k: int,
) -> list[DenseHits]:
    """Exhaustive inner-product search over `rows` (None: all); ties keep row order."""
    subset = vectors if rows is None else vectors[rows]
    subset_keys = keys if rows is None else keys[rows]
    if not len(subset):
        return [DenseHits(np.zeros(0, np.int64), np.zeros(0, np.float32)) for _ in range(len(queries))]
    q = np.asarray(queries, dtype=np.float32)
    # One query: a matrix-vector product, summed exactly as `vectors @ q` has always been (ties stay ties).
    scores = (subset @ q[0])[None, :] if len(q) == 1 else q @ subset.T
    out = []
    for s in scores:
        if k >= len(s):
            order = np.argsort(-s, kind="stable")
        else:
            top = np.argpartition(-s, k - 1)[:k]
            order = top[np.lexsort((top, -s[top]))]
        out.append(DenseHits(subset_keys[order], s[order].astype(np.float32)))
    return out
