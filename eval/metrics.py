"""Per-item results and their summary metrics (``SUMMARY_KEYS``) as pure functions (no I/O, no pipeline).

Answer matching lives in `eval.answer_matching`, retrieval ranks, hit@k and MRR in `eval.retrieval_metrics`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from eval.retrieval_metrics import hit_at_k, mrr_at_10

# --- answers ---------------------------------------------------------------------------------------------


def citation_precision(cited: Sequence[tuple[Sequence[str], Sequence[str]]]) -> float | None:
    """Share of all citations whose document is a gold document.

    Args:
        cited: one ``(cited_doc_ids, gold_doc_ids)`` pair per answered question (one id per citation).
    """
    total = sum(len(c) for c, _ in cited)
    if total == 0:
        return None
    good = sum(1 for c, gold in cited for d in c if d in set(gold))
    return good / total


def rejection_rate(refused_unanswerable: Sequence[bool]) -> float | None:
    """Share of unanswerable questions that were refused."""
    return sum(refused_unanswerable) / len(refused_unanswerable) if refused_unanswerable else None


def false_refusal_rate(refused_answerable: Sequence[bool]) -> float | None:
    """Share of answerable questions that were (wrongly) refused."""
    return sum(refused_answerable) / len(refused_answerable) if refused_answerable else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0–100) with linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


# --- per-item results and summaries ----------------------------------------------------------------------


@dataclass(frozen=True)
class CitedQuote:
    """A citation as kept in the report."""

    doc_id: str
    quote: str


@dataclass(frozen=True)
class ItemResult:
    """How the system did on one gold question."""

    id: str
    question: str
    lang: str
    type: str
    difficulty: str
    answerable: bool
    gold: tuple[str, ...]
    gold_docs: tuple[str, ...]
    has_evidence: bool
    correct: bool
    """For unanswerable questions: whether it was refused."""
    refused: bool
    short_answer: str
    answer: str = ""
    evidence_rank: int | None = None
    doc_rank: int | None = None
    retrieved_docs: tuple[str, ...] = ()
    citations: tuple[CitedQuote, ...] = ()
    latency_ms: float = 0.0
    error: str | None = None
    exact_match: float | None = None
    """Span exact match against the gold answers (answerable items; a refusal scores 0)."""
    f1: float | None = None
    """Character F1 against the gold answers (answerable items; a refusal scores 0)."""

    @property
    def cited_docs(self) -> tuple[str, ...]:
        """Cited document ids in citation order, without duplicates."""
        return tuple(dict.fromkeys(c.doc_id for c in self.citations))

    @property
    def retrieval_rank(self) -> int | None:
        """Evidence rank when the question has evidence, else the document rank (used for MRR)."""
        return self.evidence_rank if self.has_evidence else self.doc_rank


SUMMARY_KEYS: tuple[str, ...] = (
    "n",
    "answerable",
    "unanswerable",
    "answer_accuracy",
    "exact_match",
    "f1",
    "rejection_rate",
    "false_refusal_rate",
    "doc_hit@1",
    "doc_hit@5",
    "evidence_hit@1",
    "evidence_hit@5",
    "mrr@10",
    "citation_precision",
    "latency_ms_p50",
    "latency_ms_p95",
)

Summary = dict[str, float | int | None]


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def summarize(results: Sequence[ItemResult]) -> Summary:
    """The contract summary (``SUMMARY_KEYS``) of a set of item results; metrics without data are None."""
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    with_docs = [r for r in answerable if r.gold_docs]
    with_evidence = [r for r in answerable if r.has_evidence]
    answered = [r for r in with_docs if not r.refused and r.error is None]
    latencies = [r.latency_ms for r in results if r.error is None]
    doc_ranks = [r.doc_rank for r in with_docs]
    evidence_ranks = [r.evidence_rank for r in with_evidence]
    accuracy = sum(r.correct for r in answerable) / len(answerable) if answerable else None
    em = [r.exact_match for r in answerable if r.exact_match is not None]
    f1 = [r.f1 for r in answerable if r.f1 is not None]
    summary: Summary = {
        "n": len(results),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "answer_accuracy": _round(accuracy),
        "exact_match": _round(sum(em) / len(em)) if em else None,
        "f1": _round(sum(f1) / len(f1)) if f1 else None,
        "rejection_rate": _round(rejection_rate([r.refused for r in unanswerable])),
        "false_refusal_rate": _round(false_refusal_rate([r.refused for r in answerable])),
        "doc_hit@1": _round(hit_at_k(doc_ranks, 1)),
        "doc_hit@5": _round(hit_at_k(doc_ranks, 5)),
        "evidence_hit@1": _round(hit_at_k(evidence_ranks, 1)),
        "evidence_hit@5": _round(hit_at_k(evidence_ranks, 5)),
        "mrr@10": _round(mrr_at_10([r.retrieval_rank for r in with_docs])),
        "citation_precision": _round(citation_precision([(r.cited_docs, r.gold_docs) for r in answered])),
        "latency_ms_p50": _round(percentile(latencies, 50), 1),
        "latency_ms_p95": _round(percentile(latencies, 95), 1),
    }
    return summary


def summarize_by(results: Iterable[ItemResult], key: Callable[[ItemResult], str]) -> dict[str, Summary]:
    """Summaries per group (e.g. by language), groups in first-seen order."""
    groups: dict[str, list[ItemResult]] = {}
    for r in results:
        groups.setdefault(key(r), []).append(r)
    return {name: summarize(items) for name, items in groups.items()}
