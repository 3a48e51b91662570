"""The eval report: its JSON shape (CONTRACT.md) and the report.json / report.md / report.html writers.

The Markdown lives in eval/report_markdown.py, the HTML in eval/report_html.py (a jinja2 template).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.metrics import SUMMARY_KEYS, ItemResult, Summary, summarize, summarize_by
from eval.report_format import format_metric
from eval.report_html import render_html
from eval.report_markdown import render_markdown

__all__ = [
    "EvalReport",
    "build_report",
    "format_metric",
    "item_to_dict",
    "render_html",
    "render_markdown",
    "summary_text",
    "write_json",
    "write_reports",
]

Json = dict[str, Any]


@dataclass(frozen=True)
class EvalReport:
    """Scored items plus their summaries overall, by language, by type and by difficulty."""

    summary: Summary
    by_lang: dict[str, Summary]
    by_type: dict[str, Summary]
    by_difficulty: dict[str, Summary]
    items: tuple[ItemResult, ...]
    meta: dict[str, Any] = field(default_factory=dict)
    """Run information (gold file, corpus, index, settings, errors); not part of the contract."""

    def to_dict(self) -> Json:
        """The report.json object."""
        return {
            "summary": dict(self.summary),
            "by_lang": {k: dict(v) for k, v in self.by_lang.items()},
            "by_type": {k: dict(v) for k, v in self.by_type.items()},
            "by_difficulty": {k: dict(v) for k, v in self.by_difficulty.items()},
            "items": [item_to_dict(r) for r in self.items],
            "meta": dict(self.meta),
        }


def build_report(items: Sequence[ItemResult], meta: Mapping[str, Any] | None = None) -> EvalReport:
    """Summarise scored items into a report."""
    return EvalReport(
        summary=summarize(items),
        by_lang=summarize_by(items, lambda r: r.lang),
        by_type=summarize_by(items, lambda r: r.type),
        by_difficulty=summarize_by(items, lambda r: r.difficulty),
        items=tuple(items),
        meta=dict(meta or {}),
    )


def item_to_dict(r: ItemResult) -> Json:
    """One entry of report.json ``items``."""
    out: Json = {
        "id": r.id,
        "question": r.question,
        "lang": r.lang,
        "type": r.type,
        "difficulty": r.difficulty,
        "answerable": r.answerable,
        "gold": list(r.gold),
        "correct": r.correct,
        "refused": r.refused,
        "short_answer": r.short_answer,
        "answer": r.answer,
        "evidence_rank": r.evidence_rank,
        "doc_rank": r.doc_rank,
        "gold_docs": list(r.gold_docs),
        "retrieved_docs": list(r.retrieved_docs),
        "cited_docs": list(r.cited_docs),
        "citations": [{"doc_id": c.doc_id, "quote": c.quote} for c in r.citations],
        "latency_ms": round(r.latency_ms, 1),
    }
    if r.error is not None:
        out["error"] = r.error
    return out


def summary_text(report: Mapping[str, Any]) -> str:
    """A few lines for the terminal."""
    summary = report["summary"]
    lines = [f"{key:<20} {format_metric(key, summary.get(key))}" for key in SUMMARY_KEYS]
    return "\n".join(lines)


def write_json(report: Mapping[str, Any], path: Path) -> None:
    """report.json, UTF-8, pretty-printed."""
    path.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def write_reports(report: EvalReport | Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """Write report.json, report.md and report.html into ``out_dir``; returns the paths by format."""
    data = report.to_dict() if isinstance(report, EvalReport) else dict(report)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "report.json", "md": out_dir / "report.md", "html": out_dir / "report.html"}
    write_json(data, paths["json"])
    paths["md"].write_text(render_markdown(data), encoding="utf-8")
    paths["html"].write_text(render_html(data), encoding="utf-8")
    return paths
