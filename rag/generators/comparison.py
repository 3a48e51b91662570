"""Comparison questions across reports: extract the asked figure from each report and compare them."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from rag.citations import make_citation
from rag.evidence import Evidence
from rag.extraction import extract_figure
from rag.knowledge.regions import english_region_name
from rag.types import Answer, Hit, ParsedQuery

_LOWER = re.compile(r"更低|更少|更小|更慢|lower|smaller|less|fewer|slower")


def answer_comparison(
    query: ParsedQuery,
    ranked: Sequence[Evidence],
    terms: Sequence[str],
    hits: Sequence[Hit],
    describe: Callable[[str, ParsedQuery], str | None] | None = None,
) -> Answer | None:
    """Which report states the higher (or lower) figure; None when two comparable figures aren't found."""
    best: dict[str, tuple[Evidence, str, float]] = {}
    for ev in ranked:
        doc = ev.hit.chunk.doc_id
        if doc in best or not ev.period_ok or (query.metrics and not ev.has_metric):
            continue
        span = extract_figure(ev.text, query, terms)
        if span is None or span.figure is None:
            continue
        # unit-aware (1.2万元 > 9000元); a range ("6.5-7%") compares by its top
        value = span.figure.upper_scaled_value
        best[doc] = (ev, span.text, value)
        if len(best) == 2:
            break
    if len(best) < 2:
        return None
    (ev_a, fig_a, val_a), (ev_b, fig_b, val_b) = best.values()
    if ev_a.hit.meta.region and ev_a.hit.meta.region == ev_b.hit.meta.region and len(query.regions) < 2:
        return None
    if val_a == val_b:
        return None
    want_low = bool(_LOWER.search(query.text))
    a_wins = (val_a < val_b) if want_low else (val_a > val_b)
    (win, win_fig), (lose, lose_fig) = ((ev_a, fig_a), (ev_b, fig_b)) if a_wins else ((ev_b, fig_b), (ev_a, fig_a))
    def label(ev: Evidence) -> str:
        meta = ev.hit.meta
        if meta.region:
            return meta.region if query.language == "zh" else english_region_name(meta.region)
        described = describe(ev.hit.chunk.doc_id, query) if describe else None
        return described or (f"《{meta.title}》" if query.language == "zh" else english_region_name(None))

    label_w, label_l = label(win), label(lose)
    if query.language == "zh":
        text = f"{label_w}({win_fig}[1])高于{label_l}({lose_fig}[2])。" if not want_low else (
            f"{label_w}({win_fig}[1])低于{label_l}({lose_fig}[2])。"
        )
    else:
        rel = "lower" if want_low else "higher"
        text = f"{label_w}: {win_fig} [1], {rel} than {label_l}: {lose_fig} [2]."
    citations = (make_citation(1, win), make_citation(2, lose))
    return Answer(query.text, label_w[:80], text, False, query.language, citations, hits=tuple(hits))
