"""Tidy a reader's span: whole figures (number + unit + qualifier), no dangling punctuation.

A reader picks token boundaries; report figures must come out whole ("1.2万亿元", not "1.2万"; "7.7%左右",
not "7.7"), so a span that cuts a figure is widened to the figure `find_figures` sees there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from rag.reader.base import SpanProposal
from rag.text.numbers import Figure, find_figures, is_unit, units_fit
from rag.types import Language

_EN_QUALIFIER = {"左右": "about {}", "以上": "over {}", "以内": "within {}", "以下": "below {}", "多": "over {}", "余": "over {}"}
_EDGE = " \t\r\n,，。;；:：、!！?？()（）\"“”'‘’《》「」『』[]【】"


_PAIRS = {"‘": "’", "“": "”", "《": "》", "「": "」", "『": "』", "（": "）", "(": ")", "【": "】", "[": "]"}
_CLOSERS = {v: k for k, v in _PAIRS.items()}
QUOTE_REACH = 24
"""How far a span may be widened to the partner of a quote or bracket it opens or closes."""


def snap_span(text: str, start: int, end: int) -> tuple[int, int]:
    """The span widened to whole figures it touches and to the partners of quotes/brackets it leaves
    open ("把握‘新常态" → "把握‘新常态’"), then stripped of edge punctuation that pairs nothing inside."""
    for figure in find_figures(text):
        if figure.is_year:
            continue
        if figure.start < end and start < figure.end:
            start, end = min(start, figure.start), max(end, figure.end)
    start, end = _balanced(text, start, end)
    while start < end and text[start] in _EDGE and not _pairs_inside(text, start, end, start):
        start += 1
    while end > start and text[end - 1] in _EDGE and not _pairs_inside(text, start, end, end - 1):
        end -= 1
    if end - start > 2 and text[start] in _PAIRS and _partner_at(text, start, end) == end - 1:
        start, end = start + 1, end - 1  # one pair around the whole span: the quoted words themselves
    return start, end


def _partner_at(text: str, start: int, end: int) -> int | None:
    """Where the opener at `start` is closed within text[start:end]."""
    depth = 0
    for i in range(start, end):
        if text[i] == text[start]:
            depth += 1
        elif text[i] == _PAIRS[text[start]]:
            depth -= 1
            if depth == 0:
                return i
    return None


def _balanced(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen to the partner of an unmatched opener (rightwards) or closer (leftwards), if near."""
    stack: list[str] = []
    unmatched_closer: str | None = None
    for ch in text[start:end]:
        if ch in _PAIRS:
            stack.append(ch)
        elif ch in _CLOSERS:
            if stack and stack[-1] == _CLOSERS[ch]:
                stack.pop()
            elif unmatched_closer is None and not stack:
                unmatched_closer = ch
    if stack:
        closer = _PAIRS[stack[0]]
        at = text.find(closer, end, end + QUOTE_REACH)
        if at >= 0:
            end = at + 1
    if unmatched_closer is not None:
        at = text.rfind(_CLOSERS[unmatched_closer], max(0, start - QUOTE_REACH), start)
        if at >= 0:
            start = at
    return start, end


def _pairs_inside(text: str, start: int, end: int, at: int) -> bool:
    """Whether the quote/bracket at `at` has its partner inside text[start:end]."""
    ch = text[at]
    if ch in _PAIRS:
        return _PAIRS[ch] in text[at + 1 : end]
    if ch in _CLOSERS:
        return _CLOSERS[ch] in text[start:at]
    return False


def is_bare_unit(text: str) -> bool:
    """A span that is only a unit or measure word ("个", "亿元", "%"): no answer by itself."""
    return is_unit(text.strip())


def snapped_proposal(proposal: SpanProposal, passage: str, unit: str | None = None) -> SpanProposal:
    """The proposal with its span snapped (`snap_span`) in its passage; scores unchanged. With the unit
    the question asks in (`asked_unit`), a span listing several figures of which exactly one is in that
    unit is narrowed to it ("多少栋" over "75万平方米、272栋" → "272栋")."""
    a, b = snap_span(passage, proposal.start, proposal.end)
    if unit is not None:
        figures = quantities(passage[a:b])
        fitting = [f for f in figures if units_fit(unit, f.unit)]
        if len(figures) > 1 and len(fitting) == 1:
            a, b = a + fitting[0].start, a + fitting[0].end
    return replace(proposal, start=a, end=b, text=passage[a:b])


def single_figure_preferred(proposals: Sequence[SpanProposal]) -> list[SpanProposal]:
    """For a question that asks for one quantity: a proposal listing several figures is dropped when the
    reader also proposes, in the same passage and within that span, a span holding exactly one figure
    ("655.87亿元,增长2.3%44个区…103.31亿元" goes when "655.87亿元" is proposed too). The choice between the
    figures stays with the reader's own scores; order is kept."""
    counts = [len(quantities(p.text)) for p in proposals]
    singles = [p for p, n in zip(proposals, counts, strict=True) if n == 1]

    def listed(p: SpanProposal) -> bool:
        return any(s.passage_index == p.passage_index and p.start <= s.start and s.end <= p.end for s in singles)

    return [p for p, n in zip(proposals, counts, strict=True) if n <= 1 or not listed(p)]


def quantities(text: str) -> list[Figure]:
    """The figures of a text that state a quantity (years are not quantities), left to right."""
    return [f for f in find_figures(text) if not f.is_year]


def short_answer_text(span: str, language: Language) -> str:
    """The span as a short answer: for English, a trailing qualifier in words ("7.7%左右" → "about 7.7%")."""
    if language != "en":
        return span
    figures = quantities(span)
    last = figures[-1] if figures else None
    if last is not None and last.end == len(span) and last.qualifier in _EN_QUALIFIER and span.endswith(last.qualifier):
        return _EN_QUALIFIER[last.qualifier].format(span[: len(span) - len(last.qualifier)])
    return span
