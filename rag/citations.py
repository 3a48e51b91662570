"""Citations: the one place a Citation is built, and the cited answer text around an evidence sentence."""

from __future__ import annotations

from collections.abc import Sequence

from rag.evidence import Evidence
from rag.knowledge.regions import english_region_name
from rag.types import Answer, Citation, Hit, ParsedQuery


def citation(n: int, hit: Hit, quote: str, start: int, end: int, score: float) -> Citation:
    """Passage n's citation: the quote with its offsets in the document's cleaned text, labelled by the report."""
    return Citation(
        n=n,
        doc_id=hit.chunk.doc_id,
        title=hit.meta.title,
        region=hit.meta.region,
        year=hit.meta.year,
        section=hit.chunk.section,
        quote=quote,
        start=start,
        end=end,
        score=score,
    )


def make_citation(n: int, ev: Evidence) -> Citation:
    """A citation quoting the evidence sentence with its exact offsets."""
    return citation(n, ev.hit, ev.text, ev.start, ev.end, round(ev.score, 4))


def cited_answer(query: ParsedQuery, ev: Evidence, short: str, hits: Sequence[Hit], backend: str = "extractive") -> Answer:
    """The answer text around a short answer, quoting and citing its evidence sentence as [1]."""
    title = ev.hit.meta.title or ev.hit.chunk.doc_id
    if query.language == "zh":
        text = f"{short}。根据《{title}》:“{ev.text}”[1]"
    else:
        place = english_region_name(ev.hit.meta.region)
        year = f" {ev.hit.meta.year}" if ev.hit.meta.year else ""
        text = f"{short} [1]. Source: {place}{year} government work report ({title}): “{ev.text}”"
    return Answer(
        query.text, short[:80], text, False, query.language, (make_citation(1, ev),), hits=tuple(hits), backend=backend
    )
