"""The default answerer: a trained span reader reads the top passages, one calibrated score decides.

The reader proposes spans of the retrieved passages in one batch; each span is tidied (whole figures
with their units and qualifiers), scored by the calibrator (P(right answer)), and the best one is
answered with the sentence that contains it as the citation. Below the calibrated threshold the
question goes to the rule-based extractive answerer when one is given (RAG_READER_FALLBACK=rules, the
default: measured, the reader alone still refuses too many report questions), whose answer is kept only
where the reader proposed a span at the same place; else the question is refused.
Comparisons still go through the figure comparison of the rule-based path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from rag.answering.calibration import AnswerFeatures, Calibration, Calibrator, features_of, wants_figure
from rag.answering.rephrasing import reader_question
from rag.answering.spans import is_bare_unit, short_answer_text, single_figure_preferred, snapped_proposal
from rag.citations import cited_answer
from rag.evidence import Evidence, required_periods
from rag.extraction import extract_yes_no
from rag.generators.base import Generator
from rag.knowledge.bilingual import Lexicon, load_lexicon
from rag.query import asks_several_quantities
from rag.reader.base import Reader, ReaderPrecision, SpanProposal
from rag.refusal import LOW_CONFIDENCE, NO_PASSAGES, refusal
from rag.text.numbers import asked_unit
from rag.text.sentences import split_sentences
from rag.types import Answer, Hit, ParsedQuery

CANDIDATES = 16
"""Reader proposals scored per question: enough that a short top passage's span (its no-answer score
runs higher, so its margin lower) is still among them for the retrieval features to weigh."""


@dataclass(frozen=True)
class ScoredSpan:
    """A tidied proposal located in the document, with its calibrated confidence."""

    hit: Hit
    proposal: SpanProposal
    """Offsets in the hit's chunk text."""
    confidence: float
    features: AnswerFeatures

    @property
    def start(self) -> int:
        """Offset of the span in the document's cleaned text."""
        return self.hit.chunk.start + self.proposal.start

    @property
    def end(self) -> int:
        """End offset of the span in the document's cleaned text."""
        return self.hit.chunk.start + self.proposal.end

    @property
    def text(self) -> str:
        """The span's text."""
        return self.proposal.text


class ReaderAnswerer:
    """Generator backed by a span reader and a calibrator."""

    name = "reader"

    def __init__(
        self,
        reader: Reader,
        calibration: Calibration | Calibrator,
        *,
        max_passages: int = 5,
        comparisons: Generator | None = None,
        fallback: Generator | None = None,
        lexicon: Callable[[], Lexicon | None] = load_lexicon,
    ) -> None:
        """`lexicon` gives the bilingual dictionary for English questions (asked on the first one)."""
        self.fallback = fallback
        self.lexicon = lexicon
        self.reader = reader
        self.calibration = calibration if isinstance(calibration, Calibration) else Calibration(calibration)
        self.max_passages = max_passages
        self.comparisons = comparisons

    def candidates(self, query: ParsedQuery, hits: Sequence[Hit]) -> list[ScoredSpan]:
        """Every proposed span of the top passages, most confident first (only from the report part the
        question's explicit target/actual intent points at)."""
        return self._read(query, hits)[0]

    def _read(self, query: ParsedQuery, hits: Sequence[Hit]) -> tuple[list[ScoredSpan], Calibrator]:
        """The candidates and the calibrator that scored them (chosen by the language the reader read)."""
        asked = reader_question(query, self.lexicon)
        question = asked.text
        calibrator = self.calibration.for_language(asked.language)
        passages = list(hits[: self.max_passages])
        if not passages:
            return [], calibrator
        proposals = self.reader.read([question], [[h.chunk.text for h in passages]], top_n=CANDIDATES)[0]
        figure_wanted = wants_figure(question)
        unit = asked_unit(question)
        tidied: list[SpanProposal] = []
        seen: set[tuple[int, int, int]] = set()
        for p in proposals:
            tidy = snapped_proposal(p, passages[p.passage_index].chunk.text, unit)
            key = (tidy.passage_index, tidy.start, tidy.end)
            if tidy.end <= tidy.start or key in seen or is_bare_unit(tidy.text):
                continue
            seen.add(key)
            tidied.append(tidy)
        if figure_wanted and not asks_several_quantities(question):
            tidied = single_figure_preferred(tidied)
        out: list[ScoredSpan] = []
        for tidy, (rank, support) in zip(tidied, _retrieval_context(passages, tidied), strict=True):
            gap = passages[0].score - passages[rank].score
            features = features_of(figure_wanted, tidy, unit=unit, rank=rank, support=support, score_gap=gap)
            out.append(ScoredSpan(passages[tidy.passage_index], tidy, calibrator.confidence(features), features))
        # Routing's period signal: a question that says "target" (or "actual") in so many words, or whose years
        # all fall in one part of a report, is answered only from that part, never with the other part's figure.
        periods = required_periods(query, passages)

        def period_fits(s: ScoredSpan) -> bool:
            want = periods.get(s.hit.chunk.doc_id)
            return not want or not s.hit.chunk.period or s.hit.chunk.period == want

        out = [s for s in out if period_fits(s)]
        out.sort(key=lambda s: -s.confidence)
        return out, calibrator

    def generate(self, query: ParsedQuery, hits: Sequence[Hit]) -> Answer:
        """Answer from the hits, or refuse."""
        if not hits:
            return refusal(query, NO_PASSAGES, hits)
        if query.qtype == "comparison" and self.comparisons is not None:
            return self.comparisons.generate(query, hits)
        ranked, calibrator = self._read(query, hits)
        if not ranked or ranked[0].confidence < calibrator.threshold_for(ranked[0].features):
            if self.fallback is not None:
                fallback = self.fallback.generate(query, hits)
                if fallback.refused or _agrees(fallback, ranked):
                    return fallback
            return _with_backend(refusal(query, LOW_CONFIDENCE, hits), self.name)
        best = ranked[0]
        evidence = _sentence_evidence(best)
        short = short_answer_text(best.text, query.language)
        if query.qtype == "yes_no":
            verdict = extract_yes_no(evidence.text)
            yes = True if verdict is None else verdict
            short = ("Yes" if yes else "No") if query.language == "en" else ("是" if yes else "否")
        return cited_answer(query, evidence, short, hits, backend=self.name)

    def stream(self, query: ParsedQuery, hits: Sequence[Hit]) -> Iterator[str | Answer]:
        """The answer is ready at once; it is streamed in small pieces for a uniform interface."""
        answer = self.generate(query, hits)
        for i in range(0, len(answer.answer), 6):
            yield answer.answer[i : i + 6]
        yield answer


def _retrieval_context(passages: Sequence[Hit], proposals: Sequence[SpanProposal]) -> list[tuple[int, int]]:
    """For each proposal: the rank of the best-ranked passage that holds its place in its document
    (overlapping chunks repeat sentences, and the reader need not propose the span in each), and how many
    passages propose the same text."""
    proposers: dict[str, set[int]] = {}
    for p in proposals:
        proposers.setdefault(p.text.strip(), set()).add(p.passage_index)
    out: list[tuple[int, int]] = []
    for p in proposals:
        own = passages[p.passage_index].chunk
        start, end = own.start + p.start, own.start + p.end
        rank = next(
            i
            for i, h in enumerate(passages)
            if i == p.passage_index or (h.chunk.doc_id == own.doc_id and h.chunk.start <= start and end <= h.chunk.end)
        )
        out.append((rank, len(proposers[p.text.strip()])))
    return out


def _agrees(answer: Answer, ranked: Sequence[ScoredSpan]) -> bool:
    """Whether a fallback answer is backed by the reader: one of the reader's spans overlaps where the
    fallback's short answer stands in its cited sentence (or, when it is not a span of it, e.g. 是/否,
    lies in that sentence). Two independent extractors agreeing is evidence; a rule answer the reader
    never proposed is refused rather than risked (a wrong figure is worse than a refusal)."""
    for citation in answer.citations:
        where = _locate(answer.short_answer, citation.quote)
        a, b = (citation.start + where[0], citation.start + where[1]) if where else (citation.start, citation.end)
        if any(s.hit.chunk.doc_id == citation.doc_id and s.start < b and a < s.end for s in ranked):
            return True
    return False


def _locate(short: str, quote: str) -> tuple[int, int] | None:
    at = quote.find(short)
    if at >= 0:
        return at, at + len(short)
    for figure in re.findall(r"\d+(?:\.\d+)?%?", short):  # "about 7.7%" stands as "7.7%左右"
        at = quote.find(figure)
        if at >= 0:
            return at, at + len(figure)
    return None


def _sentence_evidence(span: ScoredSpan) -> Evidence:
    """The sentence of the chunk that contains the span, as citable evidence."""
    chunk = span.hit.chunk
    sentences = split_sentences(chunk.text, chunk.start)
    best = next((s for s in sentences if s.start <= span.start and span.end <= s.end), None)
    if best is None:  # the span crosses a sentence boundary: cite the sentences it covers
        covering = [s for s in sentences if s.end > span.start and s.start < span.end]
        start = covering[0].start if covering else span.start
        end = covering[-1].end if covering else span.end
        text = chunk.text[start - chunk.start : end - chunk.start]
    else:
        start, end, text = best.start, best.end, best.text
    return Evidence(span.hit, text, start, end, span.confidence, 1.0, False, True)


def _with_backend(answer: Answer, backend: str) -> Answer:
    return replace(answer, backend=backend)


def load_answerer(
    *,
    cache_dir: Path,
    weights_dir: Path | None = None,
    precision: ReaderPrecision = "auto",
    max_passages: int = 5,
    threshold: float | None = None,
    comparisons: Generator | None = None,
    fallback: Generator | None = None,
) -> ReaderAnswerer:
    """The shipped (or given) reader with the calibration fitted for it."""
    from rag.errors import ModelUnavailableError
    from rag.reader.torch_reader import TorchReader
    from rag.reader.weights import DEFAULT_WEIGHTS_DIR

    directory = weights_dir or DEFAULT_WEIGHTS_DIR
    reader = TorchReader.load(directory, cache_dir=cache_dir, precision=precision)
    card = reader.manifest.card.get("calibration")
    if not isinstance(card, dict):
        raise ModelUnavailableError(
            f"reader weights in {directory} carry no calibration: run python -m rag.answering.calibration_fit --weights {directory}"
        )
    english = reader.manifest.card.get("calibration_en")
    try:
        zh = Calibrator.from_card(card)
        en = Calibrator.from_card(english) if isinstance(english, dict) else None
    except (KeyError, ValueError) as exc:
        raise ModelUnavailableError(f"reader calibration in {directory} is unusable ({exc})") from exc
    if threshold is not None:
        zh = replace(zh, threshold=threshold, text_threshold=threshold)
        en = replace(en, threshold=threshold, text_threshold=threshold) if en is not None else None
    return ReaderAnswerer(
        reader, Calibration(zh, en), max_passages=max_passages, comparisons=comparisons, fallback=fallback
    )
