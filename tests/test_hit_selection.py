"""rag/hit_selection.py: the filters dense search gets, and the hits a comparison keeps."""

from __future__ import annotations

from conftest import make_document

from rag.hit_selection import diversify, vector_filter
from rag.pipeline import Pipeline
from rag.types import Chunk, Hit, QueryFilters
from rag.vector_store import VectorFilter


def _hit(doc_id: str, n: int, score: float) -> Hit:
    return Hit(Chunk(f"{doc_id}#{n}", doc_id, "x", 0, 1), make_document(doc_id, "x").meta, score, 0)


def test_diversify_puts_the_best_hit_of_each_of_the_top_three_documents_first() -> None:
    hits = [_hit("a", 0, 0.9), _hit("a", 1, 0.8), _hit("b", 0, 0.7), _hit("c", 0, 0.95), _hit("d", 0, 0.6)]
    kept = diversify(hits, 4)
    assert [(h.chunk.chunk_id, h.rank) for h in kept] == [("c#0", 1), ("a#0", 2), ("b#0", 3), ("a#1", 4)]
    assert [h.score for h in kept] == [0.95, 0.9, 0.7, 0.8]


def test_vector_filter_resolves_regions_through_the_catalog(hashing_pipeline: Pipeline) -> None:
    snap = hashing_pipeline.snapshot
    assert vector_filter(None, snap) is None
    assert vector_filter(QueryFilters(region="Haizhu", year=2018, level="district"), snap) == VectorFilter(
        None, ("海珠区",), 2018, "district"
    )
    assert vector_filter(QueryFilters(region="Atlantis"), snap) == VectorFilter(None, ("Atlantis",))
    assert vector_filter(QueryFilters(doc_id="d"), snap) == VectorFilter()
