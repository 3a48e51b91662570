"""rag/stores/faiss_store.py: the index chosen by size, approximate search close to exact, filters, and rows
added or removed after the approximate index was built."""

from __future__ import annotations

import numpy as np
import pytest

from rag.stores.faiss_store import FaissConfig, FaissStore, FaissVectors
from rag.vector_store import VectorFilter, exact_search

DIM = 32


def _clustered(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, DIM)).astype(np.float32)
    x = centres[rng.integers(0, 40, size=n)] + 0.8 * rng.standard_normal((n, DIM)).astype(np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _doc_rows(n: int, per_doc: int = 100) -> dict[str, np.ndarray]:
    return {f"d{i // per_doc}": np.arange(i, min(n, i + per_doc), dtype=np.int64) for i in range(0, n, per_doc)}


def _recall(index: FaissVectors, vectors: np.ndarray, keys: np.ndarray, queries: np.ndarray) -> float:
    got = index.search(queries, 10)
    want = exact_search(vectors, keys, None, queries, 10)
    return float(np.mean([len(set(g.keys.tolist()) & set(w.keys.tolist())) / 10 for g, w in zip(got, want, strict=True)]))


def test_small_collections_are_searched_exactly() -> None:
    x = _clustered(500)
    keys = np.arange(1, 501, dtype=np.int64)
    index = FaissStore(FaissConfig(flat_max=1000)).index(x, keys, _doc_rows(500), None)
    assert index.kind == "flat" and index.ann is None
    hits = index.search(x[:2], 5)
    assert [int(h.keys[0]) for h in hits] == [1, 2]
    assert np.all(np.diff(hits[0].scores) <= 0)
    only = index.search(x[:1], 500, VectorFilter(doc_ids=frozenset({"d3"})))[0]
    assert set(only.keys.tolist()) == set(range(301, 401))
    assert len(index.search(x[:1], 10, VectorFilter(doc_ids=frozenset()))[0].keys) == 0


@pytest.mark.parametrize("kind", ["hnsw", "ivfpq"])
def test_large_collections_get_an_approximate_index_close_to_exact(kind: str) -> None:
    x = _clustered(4000)
    queries, x = x[:50], x[50:]
    keys = np.arange(1, len(x) + 1, dtype=np.int64)
    cfg = FaissConfig(kind="auto" if kind == "hnsw" else "ivfpq", flat_max=1000, pq_bytes=8, nprobe=16)
    index = FaissStore(cfg).index(x, keys, _doc_rows(len(x)), None)
    assert index.kind == kind and index.memory_bytes() > 0
    assert _recall(index, x, keys, queries) >= (0.95 if kind == "hnsw" else 0.6)
    # A filter on many rows goes through the approximate index with a selector; every hit obeys it.
    docs = frozenset(f"d{i}" for i in range(0, 30, 2))
    allowed = set(np.concatenate([_doc_rows(len(x))[d] for d in docs]).tolist())
    for hit in index.search(queries[:5], 10, VectorFilter(doc_ids=docs)):
        assert len(hit.keys) == 10 and {int(k) - 1 for k in hit.keys} <= allowed


def test_rows_added_or_removed_later_are_honoured_until_a_rebuild() -> None:
    x = _clustered(3000)
    keys = np.arange(1, 3001, dtype=np.int64)
    store = FaissStore(FaissConfig(kind="hnsw", flat_max=100, min_tail=500, rebuild_ratio=0.2))
    first = store.index(x, keys, {}, None)
    # Remove the first 100 rows and add 200 new ones: the same approximate index, masked and topped up.
    extra = _clustered(200, seed=5)
    x2 = np.vstack([x[100:], extra])
    keys2 = np.concatenate([keys[100:], np.arange(5001, 5201, dtype=np.int64)])
    second = store.index(x2, keys2, {}, first)
    assert second.ann is first.ann and second.stale == 300
    for hit in second.search(x[:20], 10):
        assert not set(hit.keys.tolist()) & set(range(1, 101))
    newest = second.search(extra[:5], 1)
    assert [int(h.keys[0]) for h in newest] == [5001, 5002, 5003, 5004, 5005]
    # Past the allowance the next snapshot builds a fresh index.
    x3 = np.vstack([x2, _clustered(400, seed=6)])
    keys3 = np.concatenate([keys2, np.arange(9001, 9401, dtype=np.int64)])
    third = store.index(x3, keys3, {}, second)
    assert third.ann is not first.ann and third.stale == 0
