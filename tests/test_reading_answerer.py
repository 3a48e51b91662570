"""The reader-backed answerer: spans from the reader, one calibrated decision, exact sentence citations."""

from __future__ import annotations

import pytest
from conftest import ScriptedReader, assert_citations_exact

from rag.answering.calibration import FEATURE_NAMES, Calibrator
from rag.answering.reading import ReaderAnswerer
from rag.answering.rephrasing import reader_question
from rag.pipeline import Pipeline

MARGIN = FEATURE_NAMES.index("margin")


def margin_calibrator(threshold: float = 0.5) -> Calibrator:
    """Confidence = sigmoid(margin - 2): the scripted reader's margin of 4 gives 0.88."""
    coef = [0.0] * len(FEATURE_NAMES)
    coef[MARGIN] = 1.0
    return Calibrator(tuple([0.0] * len(coef)), tuple([1.0] * len(coef)), tuple(coef), -2.0, threshold)


QUESTION = "海珠区2018年地区生产总值增长目标是多少?"


def answer_with(pipeline: Pipeline, reader: ScriptedReader, question: str, threshold: float = 0.5):  # type: ignore[no-untyped-def]
    answerer = ReaderAnswerer(reader, margin_calibrator(threshold), max_passages=5)
    query = pipeline.parse(question)
    hits = pipeline.search(question, k=8).hits
    return answerer.generate(query, hits), hits


def test_the_reader_span_is_answered_with_the_sentence_that_contains_it(hashing_pipeline: Pipeline) -> None:
    reader = ScriptedReader({QUESTION: "7.7%左右"})
    answer, hits = answer_with(hashing_pipeline, reader, QUESTION)
    if not any("7.7%左右" in h.chunk.text for h in hits[:5]):
        pytest.skip("the hashing embedder did not retrieve the target sentence")
    assert not answer.refused and answer.short_answer == "7.7%左右" and answer.backend == "reader"
    (citation,) = answer.citations
    assert "7.7%左右" in citation.quote
    assert_citations_exact(hashing_pipeline, answer)
    # one batch: the question with the top passages
    (questions, passages), = reader.calls
    assert questions == (reader_question(hashing_pipeline.parse(QUESTION)).text,) and len(passages[0]) == min(5, len(hits))


def test_below_the_calibrated_threshold_it_refuses(hashing_pipeline: Pipeline) -> None:
    reader = ScriptedReader({QUESTION: "7.7%左右"})
    answer, _ = answer_with(hashing_pipeline, reader, QUESTION, threshold=0.99)
    assert answer.refused and answer.citations == () and answer.backend == "reader"


def test_no_span_at_all_is_an_honest_refusal(hashing_pipeline: Pipeline) -> None:
    answer, _ = answer_with(hashing_pipeline, ScriptedReader({}), "What was the 2018 target for moon landings?")
    assert answer.refused and answer.language == "en"


def test_a_span_cutting_a_figure_is_answered_whole(hashing_pipeline: Pipeline) -> None:
    reader = ScriptedReader({QUESTION: "7.7"})
    answer, hits = answer_with(hashing_pipeline, reader, QUESTION)
    if not any("7.7%左右" in h.chunk.text for h in hits[:5]):
        pytest.skip("the hashing embedder did not retrieve the target sentence")
    assert answer.short_answer.startswith("7.7%")


def test_english_questions_get_the_qualifier_in_words(hashing_pipeline: Pipeline) -> None:
    question = "What was Haizhu District's GDP growth target for 2018?"
    asked = reader_question(hashing_pipeline.parse(question)).text
    assert asked == "2018年海珠区地区生产总值增长目标是多少?"  # read in the reports' own words
    answer, hits = answer_with(hashing_pipeline, ScriptedReader({asked: "7.7%左右"}), question)
    if not any("7.7%左右" in h.chunk.text for h in hits[:5]):
        pytest.skip("the hashing embedder did not retrieve the target sentence")
    assert answer.short_answer == "about 7.7%" and "[1]" in answer.answer


def test_a_span_from_the_other_part_of_the_report_is_never_the_answer(hashing_pipeline: Pipeline) -> None:
    # "目标" (target) in so many words: a review-part figure must not answer, however sure the reader is
    question = "海珠区2018年地区生产总值增长目标是多少?"
    answer, hits = answer_with(hashing_pipeline, ScriptedReader({question: "1740.31亿元"}), question)
    if not any("1740.31亿元" in h.chunk.text and h.chunk.period == "review" for h in hits[:5]):
        pytest.skip("the hashing embedder did not retrieve the review sentence")
    assert answer.refused or "1740.31" not in answer.short_answer


def test_below_the_threshold_a_fallback_answer_needs_the_readers_agreement(hashing_pipeline: Pipeline) -> None:
    query = hashing_pipeline.parse(QUESTION)
    hits = hashing_pipeline.search(QUESTION, k=8).hits
    rules = hashing_pipeline.extractive.generate(query, hits)
    if rules.refused:
        pytest.skip("the rule-based answerer refused on the hashing embedder's hits")
    unsure = ScriptedReader({reader_question(query).text: rules.short_answer})
    agreed = ReaderAnswerer(unsure, margin_calibrator(threshold=0.99), fallback=hashing_pipeline.extractive)
    answer = agreed.generate(query, hits)
    assert answer.backend == "extractive" and answer.short_answer == rules.short_answer
    silent = ReaderAnswerer(ScriptedReader({}), margin_calibrator(), fallback=hashing_pipeline.extractive)
    assert silent.generate(query, hits).refused  # the reader proposed nothing there: refuse, don't risk it


def test_a_span_repeated_by_overlapping_chunks_keeps_its_best_rank_and_counts_its_support(
    hashing_pipeline: Pipeline,
) -> None:
    from rag.types import Chunk, DocumentMeta, Hit

    sentence = "全年完成进出口总额111.2亿美元。"
    meta = DocumentMeta("某区政府工作报告")
    # chunk 1 and chunk 3 overlap on the sentence (same document offsets); chunk 2 states it in another report
    hits = [
        Hit(Chunk("a#0", "a", "前言。" + sentence, 100, 103 + len(sentence)), meta, 3.0),
        Hit(Chunk("b#0", "b", sentence, 0, len(sentence)), meta, 2.5),
        Hit(Chunk("a#1", "a", sentence + "后记。", 103, 106 + len(sentence)), meta, 2.0),
    ]
    question = "全年完成进出口总额多少?"
    asked = reader_question(hashing_pipeline.parse(question)).text
    answerer = ReaderAnswerer(ScriptedReader({asked: "111.2亿美元"}), margin_calibrator(), max_passages=5)
    spans = answerer.candidates(hashing_pipeline.parse(question), hits)
    by_passage = {s.proposal.passage_index: s.features for s in spans}
    assert set(by_passage) == {0, 1, 2}
    assert [by_passage[i].rank for i in (0, 1, 2)] == [0, 1, 0]  # passage 2 repeats passage 0's place
    assert {f.support for f in by_passage.values()} == {3}  # three passages propose the same text
    assert by_passage[1].score_gap == pytest.approx(0.5) and by_passage[2].score_gap == 0.0
