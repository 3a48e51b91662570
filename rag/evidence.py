"""Sentence-level evidence: split retrieved passages into sentences and score them against the question."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag.knowledge.vocabulary import match_glossary
from rag.lexical import Tokenizer
from rag.retrieval import year_relevance
from rag.text.dates import DATE, WRITTEN_YEAR
from rag.text.numbers import find_figures
from rag.text.sentences import split_sentences
from rag.types import Hit, ParsedQuery

_INTENT_WORDS = frozenset(
    ["目标", "预期", "计划", "力争", "安排", "实际", "实现", "完成", "达到", "全年", "已经", "共有", "共", "多少", "新", "一年", "新一年", "当年", "上一年", "要", "将", "提出"]
)
_ZH_RUN = re.compile(r"[\u4e00-\u9fff]{2,}")
# Words that locate a report rather than a fact: they say nothing about which sentence answers.
_GENERIC = frozenset(
    ["政府", "工作", "报告", "政府工作报告", "区政府", "提出", "提及", "总结", "年度", "意见", "设定", "要求", "全区", "当年", "新", "一年", "这", "该", "中", "里", "district", "report", "government", "work", "annual", "plan", "according"]
)


@dataclass(frozen=True)
class Evidence:
    """A candidate answering sentence: where it is and how well it matches the question."""

    hit: Hit
    text: str
    start: int
    """Offset in the document's cleaned text."""
    end: int
    score: float
    coverage: float
    """Share (idf-weighted) of the question's content words found in the sentence or its section heading."""
    has_metric: bool
    period_ok: bool
    key_term: bool = True
    """The question's most distinctive concept (highest idf) is in the sentence or its section."""
    year_conflict: bool = False
    """The sentence names years, none of them the one asked about (a 2023 figure for a 2022 question)."""


_PAREN_LOCATOR = re.compile(r"[(（][^()（）]*(?:年|[A-Z][a-z]+)[^()（）]*[)）]")
_ZH_LOCATOR = re.compile(r"^.{2,60}?(?:报告|总结|意见|计划|规划)[^,，。?？]{0,8}?中[,，]")
_EN_LOCATOR = re.compile(
    r"^(?:according to|in|from)\s[^,]{3,160}?(?:report|opinion|plan|summary|glossary)[^,]*,\s*", re.IGNORECASE
)


def strip_locator(text: str) -> str:
    """Drop the part of a question that only says which report to look in ("在2018年政府工作报告中,", "According to…report,")."""
    out = _PAREN_LOCATOR.sub(" ", text)
    out = _ZH_LOCATOR.sub("", out)
    out = _EN_LOCATOR.sub("", out)
    return out


def content_terms(query: ParsedQuery, tokenizer: Tokenizer, region_words: Sequence[str]) -> list[tuple[str, ...]]:
    """The question's concepts that should appear near the answer, each a group of interchangeable words.

    Region names, years and report words are left out (routing handles them), and so is the asked metric
    (scored separately); an English question's concepts are its glossary entries and Chinese words.
    """
    skip = set(_GENERIC) | set(region_words) | {str(y) for y in query.years} | _INTENT_WORDS
    metric_group = tuple(query.metrics)

    def keep(t: str) -> bool:
        return t not in skip and not t.isdigit() and not any(t in m for m in query.metrics)

    text = strip_locator(query.text)
    if query.language == "zh":
        tokens = [t for t in tokenizer.tokenize(text, bigrams=False) if keep(t)]
        # Search-mode segmentation yields 地区/生产/总值 beside 地区生产总值: keep the longest.
        tokens = [t for t in tokens if not any(t != o and t in o for o in tokens)]
        zh_groups: list[tuple[str, ...]] = [(t,) for t in dict.fromkeys(tokens)]
        return [metric_group, *zh_groups] if metric_group else zh_groups
    groups: list[tuple[str, ...]] = [metric_group] if metric_group else []
    for entry in match_glossary(text, query.language):
        if entry.kind == "metric":
            continue
        words = tuple(z for z in entry.zh if keep(z))
        if words:
            groups.append(words)
    for run in _ZH_RUN.findall(text):
        for t in tokenizer.tokenize(run, bigrams=False):
            if keep(t) and not any(t in g for group in groups for g in group):
                groups.append((t,))
    for acronym in re.findall(r"(?<![A-Za-z])[A-Z][A-Z0-9&]{1,7}(?![A-Za-z])", text):
        if acronym not in ("GDP", "CPI", "R&D") and (acronym.lower(),) not in groups:
            groups.append((acronym.lower(),))
    return list(dict.fromkeys(groups))


def rank_evidence(
    query: ParsedQuery,
    hits: Sequence[Hit],
    groups: Sequence[tuple[str, ...]],
    term_weight: Callable[[str], float],
    desired_period: dict[str, str],
    max_hits: int = 6,
) -> list[Evidence]:
    """Every sentence of the top hits, best first."""
    weights = [(g, max(max(term_weight(t) for t in g), 0.2) * (2.0 if g == tuple(query.metrics) else 1.0)) for g in groups]
    total = sum(w for _, w in weights)
    seen: set[tuple[int, int, str]] = set()
    out: list[Evidence] = []
    for hit in hits[:max_hits]:
        chunk = hit.chunk
        for span in split_sentences(chunk.text, chunk.start):
            key = (span.start, span.end, chunk.doc_id)
            if key in seen:
                continue
            seen.add(key)
            text = span.text
            context = chunk.section.split(" > ")[0]
            lower = text.lower()
            hits_g = [any(t in lower or t in context for t in g) for g, _ in weights]
            matched = sum(w for (g, w), h in zip(weights, hits_g, strict=True) if h)
            key_term = not weights or hits_g[max(range(len(weights)), key=lambda i: weights[i][1])]
            years_here = set(WRITTEN_YEAR.findall(text)) | set(WRITTEN_YEAR.findall(chunk.section))
            year_conflict = bool(query.years) and bool(years_here) and not (years_here & {str(y) for y in query.years})
            has_metric = bool(query.metrics) and any(m in text for m in query.metrics)
            coverage = matched / total if total else (1.0 if has_metric else 0.0)
            want = desired_period.get(chunk.doc_id)
            mismatch = bool(want and chunk.period and chunk.period != want)
            # Only an explicit "target"/"actual" in the question rules a passage out; a verb merely tilts.
            period_ok = not (mismatch and query.intent_explicit)
            score = coverage + 0.25 / hit.rank
            if query.metrics:
                score += 0.5 if has_metric else -0.3
            if mismatch:
                score -= 0.6 if query.intent_explicit else 0.25
            if query.qtype in ("numeric", "comparison") and any(not f.is_year for f in find_figures(text)):
                score += 0.15
            if query.qtype == "date" and (DATE.search(text) or "起施行" in text):
                score += 0.3
            out.append(
                Evidence(hit, text, span.start, span.end, score, coverage, has_metric, period_ok, key_term, year_conflict)
            )
    out.sort(key=lambda e: -e.score)
    return out


def rescore_hits(
    query: ParsedQuery,
    hits: Sequence[Hit],
    groups: Sequence[tuple[str, ...]],
    term_weight: Callable[[str], float],
    desired_period: dict[str, str],
    *,
    weight: float = 1.0,
) -> list[Hit]:
    """Re-rank chunks by their best sentence: a chunk is as good as the sentence that answers in it."""
    if not hits:
        return []
    ranked = rank_evidence(query, hits, groups, term_weight, desired_period, max_hits=len(hits))
    best: dict[str, float] = {}
    for ev in ranked:
        best.setdefault(ev.hit.chunk.chunk_id, ev.score)
    top = max(h.score for h in hits) or 1.0
    scored = [(h.score / top + weight * best.get(h.chunk.chunk_id, 0.0), h) for h in hits]
    scored.sort(key=lambda x: -x[0])
    return [Hit(h.chunk, h.meta, float(s), rank) for rank, (s, h) in enumerate(scored, start=1)]


def required_periods(query: ParsedQuery, hits: Sequence[Hit]) -> dict[str, str]:
    """Per document, the one part of the report (review/plan) an answer must come from, where that is certain:
    the question says "target"/"actual" in so many words, or every year it names falls in the same part of that
    report (a 2024 question of a 2025 report: its review of 2024, never its 2025 plan). Elsewhere no constraint."""
    if query.intent_explicit:
        return desired_periods(query, hits)
    out: dict[str, str] = {}
    for hit in hits:
        kinds = [year_relevance(hit.meta, y) for y in query.years]
        if kinds and kinds[0] is not None and all(k == kinds[0] for k in kinds):  # every year, the same part
            out[hit.chunk.doc_id] = kinds[0]
    return out


def desired_periods(query: ParsedQuery, hits: Sequence[Hit]) -> dict[str, str]:
    """Per document, the part of the report (review/plan) the question's intent and year point at."""
    out: dict[str, str] = {}
    by_intent = {"target": "plan", "achieved": "review"}.get(query.intent)
    for hit in hits:
        if by_intent and query.intent_explicit:
            out[hit.chunk.doc_id] = by_intent
            continue
        kinds = [k for y in query.years if (k := year_relevance(hit.meta, y))]
        if kinds:
            out[hit.chunk.doc_id] = by_intent if by_intent in kinds else kinds[0]
        elif by_intent:
            out[hit.chunk.doc_id] = by_intent
    return out
