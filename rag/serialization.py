"""JSON shapes of the contract (CONTRACT.md), shared by the CLI, the API and the eval harness."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from rag.refusal import render_reason
from rag.types import Answer, Citation, DocumentInfo, DocumentMeta, Hit, ParsedQuery, SearchResult


def meta_to_dict(meta: DocumentMeta) -> dict[str, Any]:
    """Document metadata as JSON."""
    out = asdict(meta)
    out["review_years"] = list(meta.review_years)
    out["source_meta"] = dict(meta.source_meta)
    return out


def citation_to_dict(citation: Citation) -> dict[str, Any]:
    """A citation as in the Answer contract."""
    return asdict(citation)


def hit_to_dict(hit: Hit) -> dict[str, Any]:
    """A search hit as in the contract: doc_id, chunk_id, title, region, year, section, text, start, end, score."""
    return {
        "doc_id": hit.chunk.doc_id,
        "chunk_id": hit.chunk.chunk_id,
        "title": hit.meta.title,
        "region": hit.meta.region,
        "year": hit.meta.year,
        "section": hit.chunk.section,
        "text": hit.chunk.text,
        "start": hit.chunk.start,
        "end": hit.chunk.end,
        "score": round(float(hit.score), 6),
    }


def query_to_dict(query: ParsedQuery) -> dict[str, Any]:
    """The parsed question, for debugging output."""
    out = asdict(query)
    for key in ("regions", "years", "metrics", "terms"):
        out[key] = list(out[key])
    return out


def answer_to_dict(answer: Answer) -> dict[str, Any]:
    """The Answer contract."""
    out: dict[str, Any] = {
        "question": answer.question,
        "short_answer": answer.short_answer,
        "answer": answer.answer,
        "refused": answer.refused,
        "language": answer.language,
        "citations": [citation_to_dict(c) for c in answer.citations],
        "timings_ms": {k: round(v, 2) for k, v in answer.timings_ms.items()},
        "backend": answer.backend,
    }
    if answer.fallback_reason:
        out["fallback_reason"] = answer.fallback_reason
    return out


def search_to_dict(result: SearchResult) -> dict[str, Any]:
    """Search output: hits best first plus the parsed query."""
    return {
        "query": query_to_dict(result.query),
        "routed_doc_ids": list(result.routed_doc_ids),
        "reason": render_reason(result.reason, "en") if result.reason else None,
        "hits": [hit_to_dict(h) for h in result.hits],
        "timings_ms": {k: round(v, 2) for k, v in result.timings_ms.items()},
    }


def document_info_to_dict(info: DocumentInfo) -> dict[str, Any]:
    """A listed document."""
    return {
        "doc_id": info.doc_id,
        "title": info.meta.title,
        "region": info.meta.region,
        "year": info.meta.year,
        "meta": meta_to_dict(info.meta),
        "n_chunks": info.n_chunks,
        "n_chars": info.n_chars,
        "source": info.source,
        "content_hash": info.content_hash,
    }
