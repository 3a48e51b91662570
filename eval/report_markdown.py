"""report.md: summary tables and the list of wrong items."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from eval.metrics import SUMMARY_KEYS
from eval.report_format import TABLE_KEYS, format_metric, gold_text, rank_text


def _md_cell(text: object) -> str:
    """Table cell text; HTML is escaped because Markdown renderers would otherwise render it."""
    return escape(str(text), quote=False).replace("|", "\\|").replace("\n", " ")


def _md_table(title: str, groups: Mapping[str, Mapping[str, Any]]) -> list[str]:
    if not groups:
        return []
    lines = [
        f"### {title}",
        "",
        "| group | " + " | ".join(TABLE_KEYS) + " |",
        "| --- | " + " | ".join("---:" for _ in TABLE_KEYS) + " |",
    ]
    for name, summary in groups.items():
        cells = [format_metric(k, summary.get(k)) for k in TABLE_KEYS]
        lines.append(f"| {_md_cell(name)} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def render_markdown(report: Mapping[str, Any]) -> str:
    """report.md: summary tables and the list of wrong items."""
    summary = report["summary"]
    lines = ["# Evaluation report", ""]
    meta = report.get("meta") or {}
    if meta.get("gold"):
        lines += [
            f"Gold: `{meta['gold']}`"
            + (f" — corpus: `{', '.join(meta['corpus'])}`" if meta.get("corpus") else ""),
            "",
        ]
    lines += ["## Summary", "", "| metric | value |", "| --- | ---: |"]
    lines += [f"| {key} | {format_metric(key, summary.get(key))} |" for key in SUMMARY_KEYS]
    lines.append("")
    lines += _md_table("By language", report.get("by_lang") or {})
    lines += _md_table("By type", report.get("by_type") or {})
    lines += _md_table("By difficulty", report.get("by_difficulty") or {})
    wrong = [i for i in report.get("items", []) if not i.get("correct")]
    lines += [f"## Wrong items ({len(wrong)})", ""]
    if wrong:
        lines += [
            "| id | lang | type | question | gold | ours | ev. rank | doc rank |",
            "| --- | --- | --- | --- | --- | --- | ---: | ---: |",
        ]
        for i in wrong:
            ours = "(refused) " + i.get("short_answer", "") if i.get("refused") else i.get("short_answer", "")
            if i.get("error"):
                ours = f"ERROR: {i['error']}"
            cells = [
                i.get("id"),
                i.get("lang"),
                i.get("type"),
                i.get("question"),
                gold_text(i),
                ours,
                rank_text(i.get("evidence_rank")),
                rank_text(i.get("doc_rank")),
            ]
            lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
    else:
        lines.append("None.")
    return "\n".join(lines) + "\n"
