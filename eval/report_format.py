"""How report values read to people: rates as percentages, latency in ms, ranks and gold answers as text."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eval.metrics import SUMMARY_KEYS

_RATE_KEYS = frozenset(SUMMARY_KEYS) - {
    "n",
    "answerable",
    "unanswerable",
    "mrr@10",
    "latency_ms_p50",
    "latency_ms_p95",
}
TABLE_KEYS = (
    "n",
    "answer_accuracy",
    "exact_match",
    "f1",
    "rejection_rate",
    "false_refusal_rate",
    "doc_hit@5",
    "evidence_hit@5",
    "mrr@10",
    "citation_precision",
    "latency_ms_p50",
)
"""The columns of the by-language / by-type / by-difficulty tables."""


def format_metric(key: str, value: object) -> str:
    """A summary value for people: rates as percentages, latency in ms, None as "n/a"."""
    if value is None:
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if key in _RATE_KEYS:
        return f"{100.0 * value:.1f}%"
    if key.startswith("latency"):
        return f"{value:.0f} ms"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def rank_text(value: object) -> str:
    """An evidence or document rank; "–" when it was not found."""
    return "–" if value is None else str(value)


def gold_text(item: Mapping[str, Any]) -> str:
    """The gold answers of a report item, or "(unanswerable)"."""
    gold = item.get("gold") or []
    return " | ".join(str(g) for g in gold) if gold else "(unanswerable)"
