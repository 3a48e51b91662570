"""The default answerer: picks the answering sentence and extracts the figure/name/list it states.

No language model: every answer is a span of a cited sentence, so a number is never invented. When no
sentence names what was asked, or the figure is missing, it refuses and says what it searched.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence

from rag.answering.spans import short_answer_text
from rag.citations import cited_answer
from rag.evidence import Evidence, content_terms, desired_periods, rank_evidence
from rag.extraction import (
    Span,
    extract_clause,
    extract_cloze,
    extract_date,
    extract_definition,
    extract_figure,
    extract_yes_no,
)
from rag.generators.comparison import answer_comparison
from rag.lexical import Tokenizer
from rag.refusal import FIGURE_NOT_STATED, LOW_CONFIDENCE, METRIC_NOT_NAMED, NO_PASSAGES, refusal
from rag.text.numbers import find_figures
from rag.types import Answer, Hit, ParsedQuery


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
            return refusal(query, NO_PASSAGES, hits)
        groups = content_terms(query, self.tokenizer, self.region_words())
        terms = [t for g in groups for t in g]
        periods = desired_periods(query, hits)
        ranked = rank_evidence(query, hits, groups, self.term_weight, periods, self.max_hits)
        if query.qtype == "comparison":
            compared = answer_comparison(query, ranked, terms, hits, self.describe)
            if compared is not None:
                return compared
        if query.metrics and not any(e.has_metric for e in ranked):
            return refusal(query, METRIC_NOT_NAMED, hits)
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
        reason = FIGURE_NOT_STATED if ranked and ranked[0].coverage >= self.min_coverage else LOW_CONFIDENCE
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


def figure_value(text: str) -> float | None:
    """Numeric value of the first figure in a text (for comparisons)."""
    figs = [f for f in find_figures(text) if not f.is_year]
    return figs[0].value if figs else None
