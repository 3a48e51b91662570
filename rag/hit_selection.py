"""Search-time hit selection around retrieval: which chunks the explicit filters let dense search return, and
which hits a comparison keeps."""

from __future__ import annotations

from rag.snapshot import Snapshot
from rag.types import Hit, QueryFilters
from rag.vector_store import VectorFilter


def vector_filter(filters: QueryFilters | None, snap: Snapshot) -> VectorFilter | None:
    """The explicit filters in the form vector stores push down (region names resolved through the catalog)."""
    if filters is None:
        return None
    regions = (snap.catalog.find(filters.region) or (filters.region,)) if filters.region is not None else None
    return VectorFilter(None, regions, filters.year, filters.level)


def diversify(hits: list[Hit], k: int) -> list[Hit]:
    """For comparisons: the best hit of each of the top documents first, then the rest by score."""
    firsts: list[Hit] = []
    seen: set[str] = set()
    for h in hits:
        if h.chunk.doc_id not in seen:
            seen.add(h.chunk.doc_id)
            firsts.append(h)
    lead = firsts[:3]
    rest = [h for h in hits if h not in lead]
    ordered = sorted(lead, key=lambda h: -h.score) + rest
    return [Hit(h.chunk, h.meta, h.score, i) for i, h in enumerate(ordered[:k], start=1)]
