"""Retrieval metrics as pure functions: the rank of the evidence or gold documents among the hits, hit@k, MRR."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from rag.types import Hit


def normalize_passage(text: str) -> str:
    """NFKC with all whitespace removed, for evidence containment."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def evidence_rank(hits: Sequence[Hit], evidence: Sequence[str], gold_docs: Sequence[str] = ()) -> int | None:
    """1-based rank by which every evidence string is contained in some hit (None if not within ``hits``).

    When ``gold_docs`` is as long as ``evidence`` the i-th evidence must come from the i-th document; otherwise from
    any gold document; with no gold documents from any document.
    """
    wanted = [normalize_passage(e) for e in evidence]
    if not wanted or not all(wanted):
        return None
    aligned = len(gold_docs) == len(wanted)
    allowed = set(gold_docs)
    texts = [normalize_passage(h.chunk.text) for h in hits]
    worst = 0
    for i, needle in enumerate(wanted):
        found = None
        for rank, (hit, text) in enumerate(zip(hits, texts, strict=True), start=1):
            doc = hit.chunk.doc_id
            if aligned and doc != gold_docs[i]:
                continue
            if not aligned and allowed and doc not in allowed:
                continue
            if needle in text:
                found = rank
                break
        if found is None:
            return None
        worst = max(worst, found)
    return worst


def doc_rank(hits: Sequence[Hit], doc_groups: Sequence[Sequence[str]]) -> int | None:
    """1-based rank by which every group has one of its documents among the hits (None if not within ``hits``)."""
    groups = [set(g) for g in doc_groups if g]
    if not groups:
        return None
    worst = 0
    for group in groups:
        found = next((rank for rank, h in enumerate(hits, start=1) if h.chunk.doc_id in group), None)
        if found is None:
            return None
        worst = max(worst, found)
    return worst


def hit_at_k(ranks: Sequence[int | None], k: int) -> float | None:
    """Share of ranks that are at most k (None ranks are misses); None for no ranks."""
    if not ranks:
        return None
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks)


def mrr_at_10(ranks: Sequence[int | None]) -> float | None:
    """Mean reciprocal rank, counting ranks above 10 and misses as 0; None for no ranks."""
    if not ranks:
        return None
    return sum(1.0 / r for r in ranks if r is not None and 0 < r <= 10) / len(ranks)
