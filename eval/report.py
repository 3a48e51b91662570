"""The eval report: its JSON shape (CONTRACT.md) and the report.json / report.md / report.html writers."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from eval.metrics import SUMMARY_KEYS, ItemResult, Summary, summarize, summarize_by

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


# --- formatting helpers ----------------------------------------------------------------------------------

_RATE_KEYS = frozenset(SUMMARY_KEYS) - {
    "n",
    "answerable",
    "unanswerable",
    "mrr@10",
    "latency_ms_p50",
    "latency_ms_p95",
}
_TABLE_KEYS = (
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


def _rank(value: object) -> str:
    return "–" if value is None else str(value)


def _gold_text(item: Mapping[str, Any]) -> str:
    gold = item.get("gold") or []
    return " | ".join(str(g) for g in gold) if gold else "(unanswerable)"


def summary_text(report: Mapping[str, Any]) -> str:
    """A few lines for the terminal."""
    summary = report["summary"]
    lines = [f"{key:<20} {format_metric(key, summary.get(key))}" for key in SUMMARY_KEYS]
    return "\n".join(lines)


# --- report.json -----------------------------------------------------------------------------------------


def write_json(report: Mapping[str, Any], path: Path) -> None:
    """report.json, UTF-8, pretty-printed."""
    path.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


# --- report.md -------------------------------------------------------------------------------------------


def _md_cell(text: object) -> str:
    """Table cell text; HTML is escaped because Markdown renderers would otherwise render it."""
    return escape(str(text), quote=False).replace("|", "\\|").replace("\n", " ")


def _md_table(title: str, groups: Mapping[str, Mapping[str, Any]]) -> list[str]:
    if not groups:
        return []
    lines = [
        f"### {title}",
        "",
        "| group | " + " | ".join(_TABLE_KEYS) + " |",
        "| --- | " + " | ".join("---:" for _ in _TABLE_KEYS) + " |",
    ]
    for name, summary in groups.items():
        cells = [format_metric(k, summary.get(k)) for k in _TABLE_KEYS]
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
                _gold_text(i),
                ours,
                _rank(i.get("evidence_rank")),
                _rank(i.get("doc_rank")),
            ]
            lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
    else:
        lines.append("None.")
    return "\n".join(lines) + "\n"


# --- report.html -----------------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei",sans-serif;margin:0;
 color:#1f2933;background:#f5f7fa}
main{max-width:1200px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 10px}
.meta{color:#616e7c;font-size:12px}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:16px 0}
.card{background:#fff;border-radius:8px;padding:10px 14px;box-shadow:0 1px 2px rgba(0,0,0,.08);min-width:120px}
.card .v{font-size:20px;font-weight:600}.card .k{color:#616e7c;font-size:12px}
.charts{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
.chart{background:#fff;border-radius:8px;padding:8px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
table{border-collapse:collapse;width:100%;background:#fff;box-shadow:0 1px 2px rgba(0,0,0,.08);margin-bottom:12px}
th,td{padding:6px 8px;border-bottom:1px solid #e4e7eb;text-align:left;vertical-align:top}
th{background:#f0f4f8;font-weight:600;position:sticky;top:0}
td.num,th.num{text-align:right;white-space:nowrap}
tr.bad td.mark{color:#c62828;font-weight:700}tr.ok td.mark{color:#2e7d32;font-weight:700}
tr.bad{background:#fff8f8}
.cit{font-size:12px;color:#3e4c59;margin:2px 0}.cit code{color:#616e7c}
.ref{color:#8a6d00;font-size:12px}.err{color:#c62828}
#wrongonly:checked ~ table.items tr.ok{display:none}
label{user-select:none;cursor:pointer}
"""


def _svg_bar_chart(
    title: str, bars: Sequence[tuple[str, float | None]], *, percent: bool = True, width: int = 420
) -> str:
    """A horizontal bar chart as inline SVG; None values are labelled n/a."""
    row, top, label_w = 24, 28, 150
    height = top + row * max(len(bars), 1) + 8
    plot_w = width - label_w - 60
    top_value = 1.0 if percent else max([v for _, v in bars if v is not None] or [1.0]) or 1.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(title)}">',
        f'<text x="8" y="18" font-size="13" font-weight="600">{escape(title)}</text>',
    ]
    for i, (label, value) in enumerate(bars):
        y = top + i * row
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" font-size="12" text-anchor="end">{escape(label)}</text>'
        )
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{plot_w}" height="16" fill="#eef2f6"/>')
        if value is None:
            parts.append(f'<text x="{label_w + 4}" y="{y + 15}" font-size="11" fill="#616e7c">n/a</text>')
            continue
        w = max(0.0, min(1.0, value / top_value)) * plot_w
        text = f"{100 * value:.0f}%" if percent else f"{value:.0f}"
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="16" fill="#3f7fbf"/>')
        parts.append(f'<text x="{label_w + plot_w + 6}" y="{y + 15}" font-size="11">{escape(text)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _svg_histogram(title: str, values: Sequence[float], *, bins: int = 12, width: int = 420) -> str:
    """A latency histogram as inline SVG."""
    height, left, bottom, top = 200, 36, 30, 28
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(title)}">',
        f'<text x="8" y="18" font-size="13" font-weight="600">{escape(title)}</text>',
    ]
    if not values:
        parts.append('<text x="8" y="60" font-size="12" fill="#616e7c">n/a</text></svg>')
        return "".join(parts)
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - lo) / span * bins))] += 1
    plot_w, plot_h = width - left - 10, height - top - bottom
    peak = max(counts)
    bar_w = plot_w / bins
    for i, c in enumerate(counts):
        h = plot_h * c / peak
        x = left + i * bar_w
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w - 2:.1f}" height="{h:.1f}" '
            f'fill="#7b61c4"><title>{c}</title></rect>'
        )
    base = top + plot_h
    parts.append(f'<line x1="{left}" y1="{base}" x2="{left + plot_w}" y2="{base}" stroke="#9aa5b1"/>')
    parts.append(f'<text x="{left}" y="{base + 16}" font-size="11">{lo:.0f} ms</text>')
    parts.append(
        f'<text x="{left + plot_w}" y="{base + 16}" font-size="11" text-anchor="end">{hi:.0f} ms</text>'
    )
    parts.append(f'<text x="{left - 4}" y="{top + 10}" font-size="11" text-anchor="end">{peak}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _html_group_table(title: str, groups: Mapping[str, Mapping[str, Any]]) -> str:
    if not groups:
        return ""
    head = "".join(f'<th class="num">{escape(k)}</th>' for k in _TABLE_KEYS)
    rows = []
    for name, summary in groups.items():
        cells = "".join(
            f'<td class="num">{escape(format_metric(k, summary.get(k)))}</td>' for k in _TABLE_KEYS
        )
        rows.append(f"<tr><td>{escape(str(name))}</td>{cells}</tr>")
    return f"<h2>{escape(title)}</h2><table><tr><th>group</th>{head}</tr>{''.join(rows)}</table>"


def _html_item_row(item: Mapping[str, Any]) -> str:
    correct = bool(item.get("correct"))
    mark = "✓" if correct else "✗"
    ours = escape(str(item.get("short_answer", "")))
    if item.get("refused"):
        ours = f'<span class="ref">[refused]</span> {ours}'
    if item.get("error"):
        ours = f'<span class="err">error: {escape(str(item["error"]))}</span>'
    cites = "".join(
        f'<div class="cit"><code>{escape(str(c.get("doc_id", "")))}</code> “{escape(str(c.get("quote", "")))}”</div>'
        for c in item.get("citations") or []
    )
    latency = item.get("latency_ms")
    cells = [
        f"<td>{escape(str(item.get('id', '')))}</td>",
        f"<td>{escape(str(item.get('lang', '')))}<br>{escape(str(item.get('type', '')))}</td>",
        f"<td>{escape(str(item.get('question', '')))}</td>",
        f"<td>{escape(_gold_text(item))}</td>",
        f"<td>{ours}</td>",
        f'<td class="mark">{mark}</td>',
        f'<td class="num">{escape(_rank(item.get("evidence_rank")))}</td>',
        f'<td class="num">{escape(_rank(item.get("doc_rank")))}</td>',
        f"<td>{cites}</td>",
        f'<td class="num">{escape(format_metric("latency_ms", latency))}</td>',
    ]
    return f'<tr class="{"ok" if correct else "bad"}">{"".join(cells)}</tr>'


def _accuracy_bars(groups: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, float | None]]:
    """Answer accuracy per group; groups with only unanswerable questions show their rejection rate."""
    bars: list[tuple[str, float | None]] = []
    for name, summary in groups.items():
        if summary.get("answerable") == 0 and summary.get("unanswerable"):
            bars.append((f"{name} (rej.)", summary.get("rejection_rate")))
        else:
            bars.append((name, summary.get("answer_accuracy")))
    return bars


def render_html(report: Mapping[str, Any]) -> str:
    """report.html: one self-contained page (inline CSS and SVG, no scripts or external assets)."""
    summary = report["summary"]
    meta = report.get("meta") or {}
    items = list(report.get("items") or [])
    cards = "".join(
        f'<div class="card"><div class="v">{escape(format_metric(k, summary.get(k)))}</div>'
        f'<div class="k">{escape(k)}</div></div>'
        for k in SUMMARY_KEYS
    )
    by_type = report.get("by_type") or {}
    by_lang = report.get("by_lang") or {}
    latencies = [
        float(i["latency_ms"])
        for i in items
        if isinstance(i.get("latency_ms"), int | float)
        and math.isfinite(i["latency_ms"])
        and not i.get("error")
    ]
    charts = "".join(
        f'<div class="chart">{svg}</div>'
        for svg in (
            _svg_bar_chart("Answer accuracy by type (unanswerable: rejection)", _accuracy_bars(by_type)),
            _svg_bar_chart(
                "Answer accuracy by language", [(k, v.get("answer_accuracy")) for k, v in by_lang.items()]
            ),
            _svg_bar_chart(
                "Retrieval by language (evidence/doc hit@5)",
                [(f"{k} evidence", v.get("evidence_hit@5")) for k, v in by_lang.items()]
                + [(f"{k} doc", v.get("doc_hit@5")) for k, v in by_lang.items()],
            ),
            _svg_histogram("Latency per question", latencies),
        )
    )
    meta_line = " · ".join(
        f"{escape(str(k))}: {escape(str(v))}"
        for k, v in meta.items()
        if isinstance(v, str | int | float) and not isinstance(v, bool)
    )
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "id",
            "lang / type",
            "question",
            "gold",
            "our short answer",
            "",
            "ev. rank",
            "doc rank",
            "citations",
            "latency",
        )
    )
    rows = "".join(_html_item_row(i) for i in items)
    n_wrong = sum(1 for i in items if not i.get("correct"))
    body = (
        f'<main><h1>Evaluation report</h1><div class="meta">{meta_line}</div>'
        f'<div class="cards">{cards}</div>'
        f'<h2>Charts</h2><div class="charts">{charts}</div>'
        + _html_group_table("By language", by_lang)
        + _html_group_table("By type", by_type)
        + _html_group_table("By difficulty", report.get("by_difficulty") or {})
        + f"<h2>Questions ({len(items)}, {n_wrong} wrong)</h2>"
        f'<input type="checkbox" id="wrongonly"> <label for="wrongonly">show only wrong answers</label>'
        f'<table class="items"><tr>{head}</tr>{rows}</table></main>'
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Evaluation report</title><style>{_CSS}</style></head><body>{body}</body></html>\n"
    )


def write_reports(report: EvalReport | Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """Write report.json, report.md and report.html into ``out_dir``; returns the paths by format."""
    data = report.to_dict() if isinstance(report, EvalReport) else dict(report)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "report.json", "md": out_dir / "report.md", "html": out_dir / "report.html"}
    write_json(data, paths["json"])
    paths["md"].write_text(render_markdown(data), encoding="utf-8")
    paths["html"].write_text(render_html(data), encoding="utf-8")
    return paths
