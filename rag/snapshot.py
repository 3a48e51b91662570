"""Snapshots: the immutable state of the index that one search or answer reads from start to end.

The writer changes its `IndexStore` and then publishes a new `Snapshot` by swapping one reference; readers take
the reference once and never see a later change, so no lock is held while answering and a search running
during an upload or a removal sees either all of a document or none of it. Building a snapshot reuses the
previous one: the BM25 segments, per-document term sets and the approximate vector index of unchanged rows
carry over, so the cost follows the change, not the corpus.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
from numpy.typing import NDArray

from rag.index.store import IndexStore, Manifest
from rag.knowledge.regions import RegionCatalog
from rag.lexical import LexicalIndex, locate_keys
from rag.types import Chunk, Document, DocumentInfo
from rag.vector_store import VectorIndex, VectorStore


@dataclass(frozen=True)
class Snapshot:
    """Documents, chunks (row i of every array is chunks[i]) and the structures that search them."""

    version: int
    manifest: Manifest
    documents: Mapping[str, Document]
    chunks: tuple[Chunk, ...]
    tokens: tuple[tuple[str, ...], ...]
    keys: NDArray[np.int64]
    doc_rows: Mapping[str, NDArray[np.int64]]
    doc_terms: Mapping[str, frozenset[str]]
    """doc_id → every token of the document."""
    doc_df: Mapping[str, int]
    """token → number of documents containing it."""
    lexical: LexicalIndex
    dense: VectorIndex
    catalog: RegionCatalog
    _sorted_keys: NDArray[np.int64]
    _order: NDArray[np.int64]

    def rows_of(self, keys: NDArray[np.int64]) -> NDArray[np.int64]:
        """Row of each key, -1 for keys this snapshot does not hold (e.g. written by another process since)."""
        if not len(self._sorted_keys):
            return np.full(len(keys), -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self._sorted_keys, keys), len(self._sorted_keys) - 1)
        return np.where(self._sorted_keys[pos] == keys, self._order[pos], -1).astype(np.int64)

    def infos(self) -> list[DocumentInfo]:
        """One line per document, in id order."""
        return [
            DocumentInfo(
                doc_id=d.doc_id,
                meta=d.meta,
                n_chunks=len(self.doc_rows.get(d.doc_id, ())),
                n_chars=len(d.text),
                source=d.source,
                content_hash=d.content_hash,
            )
            for d in sorted(self.documents.values(), key=lambda d: d.doc_id)
        ]

    @classmethod
    def build(cls, store: IndexStore, vectors: VectorStore, previous: Snapshot | None = None) -> Snapshot:
        """The snapshot of the store as it is now, reusing what `previous` already built for unchanged rows."""
        keys = store.keys.copy()
        order = np.argsort(keys, kind="stable").astype(np.int64)
        sorted_keys = keys[order]
        documents = dict(store.documents)
        old_docs = previous.documents if previous is not None else {}
        unchanged = {d for d, doc in documents.items() if old_docs.get(d) is doc}

        doc_keys: dict[str, NDArray[np.int64]] = {}
        rows_of_new: dict[str, list[int]] = {}
        if previous is not None:
            for d in unchanged:
                rows = previous.doc_rows.get(d)
                if rows is not None:
                    doc_keys[d] = previous.keys[rows]
        new_rows = np.flatnonzero(~_contains(previous._sorted_keys, keys)) if previous is not None else range(len(keys))
        for i in new_rows:
            rows_of_new.setdefault(store.chunks[int(i)].doc_id, []).append(int(i))
        if previous is not None:
            # Keys derived from content (Milvus) come back when a document is removed and re-added unchanged.
            for d in documents.keys() - unchanged:
                rows = previous.doc_rows.get(d)
                if rows is not None and len(rows):
                    back = locate_keys(sorted_keys, order, previous.keys[rows])
                    rows_of_new.setdefault(d, []).extend(int(r) for r in back[back >= 0])
        doc_rows: dict[str, NDArray[np.int64]] = {}
        for d, k in doc_keys.items():
            pos = np.minimum(np.searchsorted(sorted_keys, k), len(order) - 1)
            if len(k) and not np.array_equal(sorted_keys[pos], k):  # rows renamed under an unchanged document
                pos = np.array([i for i, c in enumerate(store.chunks) if c.doc_id == d], dtype=np.int64)
                doc_rows[d] = pos
                continue
            doc_rows[d] = np.sort(order[pos])
        for d, added in rows_of_new.items():
            doc_rows[d] = np.sort(np.concatenate([doc_rows.get(d, np.zeros(0, np.int64)), np.array(added, np.int64)]))

        old_terms = previous.doc_terms if previous is not None else {}
        doc_terms: dict[str, frozenset[str]] = {}
        df: Counter[str] = Counter(previous.doc_df if previous is not None else {})
        for d, old in old_terms.items():
            if d not in unchanged:
                df.subtract(old)
        for d in documents:
            if d in unchanged and d in old_terms:
                doc_terms[d] = old_terms[d]
            elif d in doc_rows:
                terms: set[str] = set()
                for r in doc_rows[d]:
                    terms.update(store.tokens[int(r)])
                doc_terms[d] = frozenset(terms)
                df.update(doc_terms[d])
        doc_df = {t: n for t, n in df.items() if n > 0}

        frozen_rows = MappingProxyType(doc_rows)
        return cls(
            version=(previous.version + 1) if previous is not None else 1,
            manifest=store.manifest,
            documents=MappingProxyType(documents),
            chunks=tuple(store.chunks),
            tokens=tuple(store.tokens),
            keys=keys,
            doc_rows=frozen_rows,
            doc_terms=MappingProxyType(doc_terms),
            doc_df=MappingProxyType(doc_df),
            lexical=LexicalIndex.build(keys, store.tokens, previous.lexical if previous is not None else None),
            dense=vectors.index(store.vectors, keys, frozen_rows, previous.dense if previous is not None else None),
            catalog=RegionCatalog([doc.meta for doc in documents.values()]),
            _sorted_keys=sorted_keys,
            _order=order,
        )


def _contains(sorted_keys: NDArray[np.int64], keys: NDArray[np.int64]) -> NDArray[np.bool_]:
    if not len(sorted_keys):
        return np.zeros(len(keys), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return np.asarray(sorted_keys[pos] == keys)
