"""Pulling the answer span out of an evidence sentence, by question type."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.text.dates import DATE
from rag.text.numbers import COUNT_UNITS, MONEY_UNITS, PERCENT_UNITS, Figure, find_figures
from rag.text.sentences import clauses
from rag.types import ParsedQuery

_CONNECTOR = re.compile(r"^\s*(?:达到|达|增长|下降|突破|实现|完成|约|为|是|比|同比|其中|共|合计|累计|提高到|提高至|上调至|调整为)")
_MEASURE = "个名条项所张家栋幢户套台辆座处次场件宗亩吨人批只部棵株份级类"
_PERCENT_Q = re.compile(r"增长|增速|增幅|下降|率|比重|比例|百分|growth|rate|percent|%|grow|increase|ratio|share")
_MONEY_Q = re.compile(r"多少钱|资金|金额|收入|总额|投资|总值|预算|how much|gdp|revenue|sales|income|investment|funds|budget|yuan")
_WH_ZH = re.compile(rf"哪个[{_MEASURE}]?|哪一[{_MEASURE}]|哪些|哪[{_MEASURE}]|什么|谁|多少[{_MEASURE}]?")
_PLACEHOLDER = re.compile(r"(?<![A-Za-z])(?:XX|xx|××)(?![A-Za-z])")


@dataclass(frozen=True)
class Span:
    """An answer span inside a sentence (offsets relative to the sentence)."""

    text: str
    start: int
    end: int
    figure: Figure | None = None


def _anchors(sentence: str, query: ParsedQuery, terms: Sequence[str]) -> list[tuple[int, int]]:
    """Where the asked-about thing is named in the sentence: metric terms first, then question words."""
    spans = [(m.start(), m.end()) for t in query.metrics for m in re.finditer(re.escape(t), sentence)]
    if spans:
        return spans
    by_len = sorted((t for t in terms if len(t) >= 2), key=len, reverse=True)
    for t in by_len:
        spans += [(m.start(), m.end()) for m in re.finditer(re.escape(t), sentence)]
    return spans


def _wanted_units(query: ParsedQuery) -> tuple[frozenset[str] | None, str | None]:
    """Unit class the question asks for, and a measure word if it names one (多少名 → 名)."""
    text = query.text.lower()
    measure = re.search(rf"(?:多少|几)([{_MEASURE}])", query.text)
    if measure:
        return None, measure.group(1)
    if _PERCENT_Q.search(text):
        return PERCENT_UNITS, None
    if re.search(r"how many", text) and not _MONEY_Q.search(text):
        return COUNT_UNITS | {"亿", "万", ""}, None
    if _MONEY_Q.search(text) and query.intent != "target":
        # Targets are mostly growth rates ("GDP target" = 增长7.7%), so only results prefer amounts.
        return MONEY_UNITS | {"亿", "万"}, None
    return None, None


def extract_figure(sentence: str, query: ParsedQuery, terms: Sequence[str]) -> Span | None:
    """The figure the question asks for: in the clause naming the asked metric, of the asked unit."""
    anchors = _anchors(sentence, query, terms)
    if not anchors:
        return None
    units, measure = _wanted_units(query)
    in_question = set(re.findall(r"\d+(?:\.\d+)?", query.text))
    spans = clauses(sentence)
    best: tuple[float, Figure] | None = None
    figures = [f for f in find_figures(sentence) if not f.is_year and f.text.split("%")[0] not in in_question]
    figures = [f for f in figures if re.sub(r"[^\d.]", "", f.text.split("-")[0]) not in in_question]
    for a_start, a_end in anchors:
        idx = next((i for i, (s, e) in enumerate(spans) if s <= a_start < e), None)
        if idx is None:
            continue
        c_start, c_end = spans[idx]
        if _PLACEHOLDER.search(sentence[c_start:c_end]):
            return None  # the figure was anonymised away ("新增注册商标XX件")
        pool = [f for f in figures if c_start <= f.start < c_end]
        if idx + 1 < len(spans) and _CONNECTOR.match(sentence[spans[idx + 1][0] : spans[idx + 1][1]]):
            # "地区生产总值1740.31亿元,同比增长7.6%": the next clause continues the same subject.
            n_start, n_end = spans[idx + 1]
            pool += [f for f in figures if n_start <= f.start < n_end]
        for f in pool:
            score = 0.0
            if measure:
                score += 3.0 if f.unit.endswith(measure) else -3.0
            elif units is not None:
                score += 2.0 if f.unit in units else -2.0
            gap = f.start - a_end if f.start >= a_end else (a_start - f.end) * 1.5
            score -= max(gap, 0) / 20.0
            if best is None or score > best[0]:
                best = (score, f)
    if best is None or best[0] < -1.5:
        return None
    fig = best[1]
    start, end = fig.start, fig.end
    if query.text.count("多少") >= 2 or re.search(r"由.{0,4}多少.{0,8}(?:为|到|至)", query.text):
        # "由多少X变为多少X" (from N to M): the answer spans both figures.
        later = [f for f in figures if f.start > fig.end and f.start - fig.end < 15]
        if later:
            back = sentence.rfind("由", max(0, start - 2), start)
            start = back if back >= 0 else start
            end = later[0].end
    elif sentence[max(0, start - 2) : start] in ("下降", "减少"):
        start -= 2
    return Span(sentence[start:end], start, end, fig)


def extract_definition(sentence: str, query: ParsedQuery, terms: Sequence[str]) -> Span | None:
    """Glossary-style lines "TERM:explanation" where TERM is named in the question."""
    m = re.search(r"[:：]", sentence)
    if not m:
        return None
    head = re.sub(r"^[\s\d.、“”\"'‘’]+|[\s“”\"'‘’]+$", "", sentence[: m.start()])
    if not head:
        return None
    q = query.text.lower()
    named = head.lower() in q or (len(head) >= 2 and any(t in head for t in terms if len(t) >= 2))
    if not named:
        return None
    start = m.end()
    body = sentence[start:].rstrip("。.;,， ")
    lead = len(body) - len(body.lstrip(" “\""))
    body = body.strip(" “”\"")
    if not body:
        return None
    return Span(body, start + lead, start + lead + len(body))


def extract_date(sentence: str) -> Span | None:
    """A date, or the X of "自X起(施行)"."""
    m = re.search(r"自(.{2,20}?)起", sentence)
    if m:
        return Span(m.group(1), m.start(1), m.end(1))
    d = DATE.search(sentence)
    return Span(d.group(0), d.start(), d.end()) if d else None


def extract_cloze(sentence: str, query: ParsedQuery) -> Span | None:
    """Align the question's words around its wh-word with the sentence.

    完成[哪个岛]整体搬迁 + "完成官洲岛整体搬迁工作" → 官洲岛;
    坚持的发展理念是[什么] + "坚持“创新驱动”理念" → 创新驱动.
    """
    q = query.text.rstrip("?？。 ")
    wh = _WH_ZH.search(q)
    if not wh:
        return None
    left, right = q[: wh.start()], q[wh.end() :]
    noun = re.match(r"([\u4e00-\u9fff]{1,3})的", right) if wh.group(0).startswith("哪") else None
    asked = wh.group(0) + (noun.group(1) if noun else "")
    if noun:
        right = right[noun.end() - 1 :]
    right_clean = right.lstrip("的")
    start: int | None = None
    end: int | None = None
    if len(right_clean) >= 2:
        anchor = _longest_edge_in(left.rstrip("是为的"), sentence, 2, from_end=True)
        if anchor is not None:
            start = anchor[1]
            found = _longest_edge_in(right_clean, sentence[start:], 2, from_end=False)
            end = start + found[0] if found is not None else None
    else:
        stem = left.rstrip("是为的")
        head = stem[-2:]
        head_pos = sentence.find(head)
        if len(head) == 2 and head_pos > 0:
            anchor_end = _rightmost_common(stem[:-2], sentence[:head_pos], 2)
            if anchor_end is not None:
                start, end = anchor_end, head_pos
    if start is None or end is None or end <= start:
        return None
    raw = sentence[start:end]
    span = raw.strip(" “”\"‘’的")
    if not span or len(span) > 60 or re.search(r"[,，;；。]", span):
        return None
    measure = asked[-1] if asked.startswith("哪") and len(asked) > 1 else ""
    if measure and measure in _MEASURE + "岛湖山河" and not span.endswith(measure):
        return None
    lead = start + raw.find(span)
    return Span(span, lead, lead + len(span))


def _rightmost_common(text: str, sentence: str, min_len: int) -> int | None:
    """End offset in sentence of the longest substring of text found there (rightmost on ties)."""
    for n in range(min(len(text), 12), min_len - 1, -1):
        ends = [sentence.rfind(text[i : i + n]) + n for i in range(len(text) - n + 1) if text[i : i + n] in sentence]
        if ends:
            return max(ends)
    return None


def _longest_edge_in(text: str, sentence: str, min_len: int, *, from_end: bool) -> tuple[int, int] | None:
    """(start, end) in sentence of the longest prefix (or suffix) of text, up to 12 characters, found there."""
    for n in range(min(len(text), 12), min_len - 1, -1):
        piece = text[-n:] if from_end else text[:n]
        pos = sentence.find(piece)
        if pos >= 0:
            return pos, pos + n
    return None


def extract_yes_no(sentence: str) -> bool | None:
    """Whether the sentence states an excess (超过/高于) or a shortfall (低于/未达到)."""
    if re.search(r"低于|慢于|少于|小于|未达到|未完成|没有达到", sentence):
        return False
    if re.search(r"超过|高于|快于|多于|大于|超出|领先", sentence):
        return True
    return None


def extract_clause(sentence: str, query: ParsedQuery, terms: Sequence[str]) -> Span | None:
    """The clause that names the asked-about thing (a fallback for entity questions)."""
    anchors = _anchors(sentence, query, terms)
    if not anchors:
        return None
    a = anchors[0][0]
    for s, e in clauses(sentence):
        if s <= a < e:
            text = sentence[s:e].strip()
            lead = sentence[s:e].find(text)
            return Span(text[:80], s + lead, s + lead + len(text[:80]))
    return None
