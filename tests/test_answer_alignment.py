"""rag/answering/alignment.py: the question's words next to a span, per clause."""

from __future__ import annotations

from rag.answering.alignment import Alignment, clause_alignment, clause_bounds, question_units
from rag.answering.calibration import FEATURE_NAMES, features_of
from rag.reader.base import SpanProposal

SENTENCE = "主要预期目标是：地区生产总值增长5.5%左右，粮食产量880亿斤以上，单位地区生产总值能耗下降2%左右。"


def test_question_units_are_bigrams_of_chinese_runs_and_latin_words() -> None:
    assert question_units("单位GDP能耗") == {"单位", "能耗", "gdp"}
    assert question_units("Jilin 2025 能耗 target?") == {"jilin", "2025", "能耗", "target"}
    assert question_units("?") == frozenset()


def test_clause_bounds_stop_at_commas_colons_and_sentence_ends() -> None:
    at = SENTENCE.index("2%")
    left, right = clause_bounds(SENTENCE, at, at + 4)
    assert SENTENCE[left:right] == "单位地区生产总值能耗下降2%左右"
    at = SENTENCE.index("5.5%")
    left, right = clause_bounds(SENTENCE, at, at + 6)
    assert SENTENCE[left:right] == "地区生产总值增长5.5%左右"


def test_the_clause_naming_the_asked_indicator_aligns_better() -> None:
    units = question_units("吉林省单位GDP能耗下降目标是多少")
    energy = SENTENCE.index("2%左右")
    growth = SENTENCE.index("5.5%左右")
    right = clause_alignment(units, SENTENCE, energy, energy + 4)
    wrong = clause_alignment(units, SENTENCE, growth, growth + 6)
    assert right.terms == 4  # 单位, 能耗, 耗下, 下降
    assert wrong.terms == 0
    assert right.share > wrong.share


def test_no_question_unit_in_the_passage_gives_zero() -> None:
    assert clause_alignment(question_units("Super Bowl"), SENTENCE, 0, 4) == Alignment()
    assert clause_alignment(frozenset(), SENTENCE, 0, 4) == Alignment()


def test_alignment_is_a_calibration_feature() -> None:
    proposal = SpanProposal(0, 10, 14, "2%左右", 5.0, 2.0, -1.0, -3.0)
    features = features_of(True, proposal, alignment=Alignment(3, 0.75))
    values = features.values()
    assert {"clause_share", "log_clause_terms"} <= set(FEATURE_NAMES)
    assert values["clause_share"] == 0.75
    assert values["log_clause_terms"] > 1.0
