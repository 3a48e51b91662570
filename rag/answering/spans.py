"""Tidy a reader's span: whole figures (number + unit + qualifier), no dangling punctuation.

A reader picks token boundaries; report figures must come out whole ("1.2万亿元", not "1.2万"; "7.7%左右",
not "7.7"), so a span that cuts a figure is widened to the figure `find_figures` sees there.
"""

from __future__ import annotations

from rag.text.numbers import find_figures
from rag.types import Language

_EN_QUALIFIER = {"左右": "about {}", "以上": "over {}", "以内": "within {}", "以下": "below {}", "多": "over {}", "余": "over {}"}
_EDGE = " \t\r\n,，。;；:：、!！?？()（）\"“”'‘’《》「」『』[]【】"


def snap_span(text: str, start: int, end: int) -> tuple[int, int]:
    """The span widened to whole figures it touches and stripped of edge punctuation."""
    for figure in find_figures(text):
        if figure.is_year:
            continue
        if figure.start < end and start < figure.end:
            start, end = min(start, figure.start), max(end, figure.end)
    while start < end and text[start] in _EDGE:
        start += 1
    while end > start and text[end - 1] in _EDGE:
        end -= 1
    return start, end


def has_figure(text: str) -> bool:
    """Whether the text states a quantity (not just a year)."""
    return any(not f.is_year for f in find_figures(text))


def short_answer_text(span: str, language: Language) -> str:
    """The span as a short answer: for English, a trailing qualifier in words ("7.7%左右" → "about 7.7%")."""
    if language != "en":
        return span
    figures = [f for f in find_figures(span) if not f.is_year]
    last = figures[-1] if figures else None
    if last is not None and last.end == len(span) and last.qualifier in _EN_QUALIFIER and span.endswith(last.qualifier):
        return _EN_QUALIFIER[last.qualifier].format(span[: len(span) - len(last.qualifier)])
    return span
