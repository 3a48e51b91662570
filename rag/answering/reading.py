"""The default answerer: a trained span reader reads the top passages, one calibrated score decides.

The reader proposes spans of the retrieved passages in one batch; each span is tidied (whole figures
with their units and qualifiers), scored by the calibrator (P(right answer)), and the best one is
answered with the sentence that contains it as the citation — or, below the calibrated threshold,
the question is refused. Comparisons still go through the figure comparison of the rule-based path.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from rag.answering.calibration import Calibrator, features_of, wants_figure
from rag.answering.spans import short_answer_text, snap_span
from rag.chunking import split_sentences
from rag.evidence import Evidence
from rag.extraction import extract_yes_no
from rag.generators.base import Generator
from rag.generators.extractive import cited_answer, refusal
from rag.reader.base import Reader, SpanProposal
from rag.types import Answer, Hit, ParsedQuery


@dataclass(frozen=True)
class ScoredSpan:
    """A tidied proposal located in the document, with its calibrated confidence."""

    hit: Hit
    proposal: SpanProposal
    start: int
    """Offset of the span in the document's cleaned text."""
    end: int
    text: str
    confidence: float


class ReaderAnswerer:
    """Generator backed by a span reader and a calibrator."""

    name = "reader"

    def __init__(
        self,
        reader: Reader,
        calibrator: Calibrator,
        *,
        max_passages: int = 5,
        comparisons: Generator | None = None,
    ) -> None:
        self.reader = reader
        self.calibrator = calibrator
        self.max_passages = max_passages
        self.comparisons = comparisons

    def candidates(self, query: ParsedQuery, hits: Sequence[Hit]) -> list[ScoredSpan]:
        """Every proposed span of the top passages, most confident first."""
        passages = list(hits[: self.max_passages])
        if not passages:
            return []
        proposals = self.reader.read([query.text], [[h.chunk.text for h in passages]], top_n=8)[0]
        figure_wanted = wants_figure(query.text)
        out: list[ScoredSpan] = []
        seen: set[tuple[int, int, int]] = set()
        for p in proposals:
            hit = passages[p.passage_index]
            a, b = snap_span(hit.chunk.text, p.start, p.end)
            if b <= a or (p.passage_index, a, b) in seen:
                continue
            seen.add((p.passage_index, a, b))
            tidy = SpanProposal(p.passage_index, a, b, hit.chunk.text[a:b], p.score, p.null_score)
            confidence = self.calibrator.confidence(features_of(figure_wanted, tidy))
            out.append(ScoredSpan(hit, tidy, hit.chunk.start + a, hit.chunk.start + b, tidy.text, confidence))
        out.sort(key=lambda s: -s.confidence)
        return out

    def generate(self, query: ParsedQuery, hits: Sequence[Hit]) -> Answer:
        """Answer from the hits, or refuse."""
        if not hits:
            return refusal(query, "no passages", hits)
        if query.qtype == "comparison" and self.comparisons is not None:
            return self.comparisons.generate(query, hits)
        ranked = self.candidates(query, hits)
        if not ranked or ranked[0].confidence < self.calibrator.threshold:
            return _with_backend(refusal(query, "low confidence", hits), self.name)
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
    max_passages: int = 5,
    threshold: float | None = None,
    comparisons: Generator | None = None,
) -> ReaderAnswerer:
    """The shipped (or given) reader with the calibration fitted for it."""
    from rag.errors import ModelUnavailableError
    from rag.reader.torch_reader import TorchReader
    from rag.reader.weights import DEFAULT_WEIGHTS_DIR

    directory = weights_dir or DEFAULT_WEIGHTS_DIR
    reader = TorchReader.load(directory, cache_dir=cache_dir)
    card = reader.manifest.card.get("calibration")
    if not isinstance(card, dict):
        raise ModelUnavailableError(
            f"reader weights in {directory} carry no calibration: run python -m rag.answering.calibration_fit --weights {directory}"
        )
    try:
        calibrator = Calibrator.from_card(card)
    except (KeyError, ValueError) as exc:
        raise ModelUnavailableError(f"reader calibration in {directory} is unusable ({exc})") from exc
    if threshold is not None:
        calibrator = replace(calibrator, threshold=threshold)
    return ReaderAnswerer(reader, calibrator, max_passages=max_passages, comparisons=comparisons)
