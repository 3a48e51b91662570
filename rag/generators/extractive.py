"""The default answerer: picks the answering sentence and extracts the figure/name/list it states.

No language model: every answer is a span of a cited sentence, so a number is never invented. When no
sentence names what was asked, or the figure is missing, it refuses and says what it searched.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence

from rag.answering.spans import short_answer_text
from rag.evidence import Evidence, content_terms, rank_evidence
from rag.extraction import (
    Span,
    extract_clause,
    extract_cloze,
    extract_date,
    extract_definition,
    extract_figure,
    extract_yes_no,
)
from rag.knowledge.regions import english_region_name
from rag.lexical import Tokenizer
from rag.retrieval import year_relevance
from rag.text.numbers import find_figures
from rag.types import Answer, Citation, Hit, ParsedQuery


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


def refusal(query: ParsedQuery, reason: str, hits: Sequence[Hit] = ()) -> Answer:
    """An honest "not in these reports", saying what was searched."""
    if query.language == "zh":
        short = "已索引的报告中没有找到答案"
        text = f"已索引的报告中没有找到这个问题的答案({_zh_reason(reason)})。"
    else:
        short = "Not found in the indexed reports"
        text = f"The indexed reports do not contain the answer to this question ({reason})."
    return Answer(query.text, short, text, True, query.language, hits=tuple(hits))


def _zh_reason(reason: str) -> str:
    m = re.match(r"no indexed report of (.+) covers (.+)", reason)
    if m:
        return f"{m.group(1)}{m.group(2)}年的报告不在已索引的文档中"
    m = re.match(r"no indexed report of (.+) gives (targets for|results of) (.+)", reason)
    if m:
        kind = "目标" if m.group(2) == "targets for" else "实际完成情况"
        return f"已索引的报告中没有{m.group(1)}{m.group(3)}年的{kind}"
    m = re.match(r"no indexed report covers (.+)", reason)
    if m:
        return f"{m.group(1)}的报告不在已索引的文档中"
    return {
        "no passage names what was asked": "没有任何段落提到所问的指标",
        "the figure is not stated": "相关句子没有给出具体数字",
        "low confidence": "找到的段落与问题不够吻合",
        "no passages": "没有可检索的段落",
    }.get(reason, reason)


class ExtractiveGenerator:
    """Extractive answers with sentence citations and calibrated refusals."""

    name = "extractive"

    def __init__(
        self,
        tokenizer: Tokenizer,
        term_weight: Callable[[str], float],
        region_words: Callable[[], Sequence[str]],
        *,
        min_coverage: float = 0.5,
        max_hits: int = 6,
        describe: Callable[[str, ParsedQuery], str | None] | None = None,
    ) -> None:
        self.describe = describe
        self.tokenizer = tokenizer
        self.term_weight = term_weight
        self.region_words = region_words
        self.min_coverage = min_coverage
        self.max_hits = max_hits

    def generate(self, query: ParsedQuery, hits: Sequence[Hit]) -> Answer:
        """Answer from the hits, or refuse."""
        if not hits:
            return refusal(query, "no passages", hits)
        groups = content_terms(query, self.tokenizer, self.region_words())
        terms = [t for g in groups for t in g]
        periods = desired_periods(query, hits)
        ranked = rank_evidence(query, hits, groups, self.term_weight, periods, self.max_hits)
        if query.qtype == "comparison":
            from rag.generators.comparison import answer_comparison

            compared = answer_comparison(query, ranked, terms, hits, self.describe)
            if compared is not None:
                return compared
        if query.metrics and not any(e.has_metric for e in ranked):
            return refusal(query, "no passage names what was asked", hits)
        for evidence in ranked[:8]:
            if evidence.coverage < self.min_coverage or not evidence.period_ok:
                continue
            if not evidence.key_term or evidence.year_conflict:
                continue
            if query.metrics and not evidence.has_metric:
                continue
            span, short = self._extract(query, evidence, terms)
            if span is None:
                # Quoting a whole sentence as "the answer" is only honest when it plainly matches the question.
                if query.qtype in ("numeric", "date", "yes_no") or query.metrics or evidence.coverage < 0.8:
                    continue
                if len(evidence.text) > 80:
                    continue
                span = Span(evidence.text, 0, len(evidence.text))
                short = evidence.text
            return self._answer(query, evidence, span, short, hits)
        reason = "the figure is not stated" if ranked and ranked[0].coverage >= self.min_coverage else "low confidence"
        return refusal(query, reason, hits)

    def stream(self, query: ParsedQuery, hits: Sequence[Hit]) -> Iterator[str | Answer]:
        """The extractive answer is ready at once; it is streamed in small pieces for a uniform interface."""
        answer = self.generate(query, hits)
        text = answer.answer
        step = 6
        for i in range(0, len(text), step):
            yield text[i : i + step]
        yield answer

    def _extract(self, query: ParsedQuery, ev: Evidence, terms: Sequence[str]) -> tuple[Span | None, str]:
        s = ev.text
        qtype = query.qtype
        if qtype in ("definition", "list", "entity"):
            span = extract_definition(s, query, terms)
            if span is None and query.language == "zh":
                span = extract_cloze(s, query)
            if span is None and qtype != "list":
                span = extract_figure(s, query, terms) if re.search(r"多少|how many|how much", query.text) else None
            if span is None and query.language == "en":
                span = extract_clause(s, query, terms)
            return span, span.text if span else ""
        if qtype == "date":
            span = extract_date(s)
            return span, span.text if span else ""
        if qtype == "yes_no":
            verdict = extract_yes_no(s)
            if verdict is None:
                return None, ""
            clause = extract_clause(s, query, terms) or Span(s, 0, len(s))
            word = ("Yes" if verdict else "No") if query.language == "en" else ("是" if verdict else "否")
            return clause, word
        if qtype == "other":
            # No quantity was asked for: never answer with a stray number from the sentence.
            span = extract_cloze(s, query) if query.language == "zh" else None
            return span, span.text if span else ""
        span = extract_figure(s, query, terms)
        if span is None:
            return None, ""
        return span, short_answer_text(span.text, query.language)

    def _answer(self, query: ParsedQuery, ev: Evidence, span: Span, short: str, hits: Sequence[Hit]) -> Answer:
        return cited_answer(query, ev, short, hits)


def cited_answer(query: ParsedQuery, ev: Evidence, short: str, hits: Sequence[Hit], backend: str = "extractive") -> Answer:
    """The answer text around a short answer, quoting and citing its evidence sentence as [1]."""
    citation = make_citation(1, ev)
    title = ev.hit.meta.title or ev.hit.chunk.doc_id
    if query.language == "zh":
        text = f"{short}。根据《{title}》:“{ev.text}”[1]"
    else:
        place = english_region_name(ev.hit.meta.region)
        year = f" {ev.hit.meta.year}" if ev.hit.meta.year else ""
        text = f"{short} [1]. Source: {place}{year} government work report ({title}): “{ev.text}”"
    return Answer(query.text, short[:80], text, False, query.language, (citation,), hits=tuple(hits), backend=backend)


def make_citation(n: int, ev: Evidence) -> Citation:
    """A citation quoting the evidence sentence with its exact offsets."""
    meta = ev.hit.meta
    return Citation(
        n=n,
        doc_id=ev.hit.chunk.doc_id,
        title=meta.title,
        region=meta.region,
        year=meta.year,
        section=ev.hit.chunk.section,
        quote=ev.text,
        start=ev.start,
        end=ev.end,
        score=round(ev.score, 4),
    )


def figure_value(text: str) -> float | None:
    """Numeric value of the first figure in a text (for comparisons)."""
    figs = [f for f in find_figures(text) if not f.is_year]
    return figs[0].value if figs else None
