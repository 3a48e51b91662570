"""report.html: one self-contained page rendered from eval/templates/report.html.j2 with autoescaping."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from eval.metrics import SUMMARY_KEYS
from eval.report_charts import accuracy_bars, bar_chart, histogram
from eval.report_format import TABLE_KEYS, format_metric, gold_text, rank_text

_TEMPLATES = Path(__file__).with_name("templates")


@dataclass(frozen=True)
class GroupTable:
    """A by-language / by-type / by-difficulty table: the group name and its formatted metrics a row."""

    title: str
    rows: tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class ItemRow:
    """One question of the items table, as text; ``error`` is None when the question ran."""

    id: str
    lang: str
    type: str
    question: str
    gold: str
    short_answer: str
    refused: bool
    error: str | None
    correct: bool
    evidence_rank: str
    doc_rank: str
    citations: tuple[tuple[str, str], ...]
    latency: str


@cache
def _environment() -> jinja2.Environment:
    # Everything from documents, questions and answers reaches the page through {{ }}: autoescape is on.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _group_table(title: str, groups: Mapping[str, Mapping[str, Any]]) -> GroupTable:
    rows = tuple(
        (str(name), tuple(format_metric(k, summary.get(k)) for k in TABLE_KEYS))
        for name, summary in groups.items()
    )
    return GroupTable(title, rows)


def _item_row(item: Mapping[str, Any]) -> ItemRow:
    return ItemRow(
        id=str(item.get("id", "")),
        lang=str(item.get("lang", "")),
        type=str(item.get("type", "")),
        question=str(item.get("question", "")),
        gold=gold_text(item),
        short_answer=str(item.get("short_answer", "")),
        refused=bool(item.get("refused")),
        error=str(item["error"]) if item.get("error") else None,
        correct=bool(item.get("correct")),
        evidence_rank=rank_text(item.get("evidence_rank")),
        doc_rank=rank_text(item.get("doc_rank")),
        citations=tuple(
            (str(c.get("doc_id", "")), str(c.get("quote", ""))) for c in item.get("citations") or []
        ),
        latency=format_metric("latency_ms", item.get("latency_ms")),
    )


def render_html(report: Mapping[str, Any]) -> str:
    """report.html: one self-contained page (inline CSS and SVG, no scripts or external assets)."""
    summary = report["summary"]
    meta = report.get("meta") or {}
    items = list(report.get("items") or [])
    by_type = report.get("by_type") or {}
    by_lang = report.get("by_lang") or {}
    latencies = [
        float(i["latency_ms"])
        for i in items
        if isinstance(i.get("latency_ms"), int | float)
        and math.isfinite(i["latency_ms"])
        and not i.get("error")
    ]
    bar_charts = (
        bar_chart("Answer accuracy by type (unanswerable: rejection)", accuracy_bars(by_type)),
        bar_chart("Answer accuracy by language", [(k, v.get("answer_accuracy")) for k, v in by_lang.items()]),
        bar_chart(
            "Retrieval by language (evidence/doc hit@5)",
            [(f"{k} evidence", v.get("evidence_hit@5")) for k, v in by_lang.items()]
            + [(f"{k} doc", v.get("doc_hit@5")) for k, v in by_lang.items()],
        ),
    )
    groups = (
        ("By language", by_lang),
        ("By type", by_type),
        ("By difficulty", report.get("by_difficulty") or {}),
    )
    template = _environment().get_template("report.html.j2")
    return template.render(
        meta=[
            (str(k), str(v))
            for k, v in meta.items()
            if isinstance(v, str | int | float) and not isinstance(v, bool)
        ],
        cards=[(k, format_metric(k, summary.get(k))) for k in SUMMARY_KEYS],
        bar_charts=bar_charts,
        latency=histogram("Latency per question", latencies),
        group_tables=[_group_table(title, g) for title, g in groups if g],
        table_keys=TABLE_KEYS,
        items=[_item_row(i) for i in items],
        n_wrong=sum(1 for i in items if not i.get("correct")),
    )
