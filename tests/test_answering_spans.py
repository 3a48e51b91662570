"""Tidying reader spans: whole figures, no edge punctuation, English qualifiers."""

from __future__ import annotations

import pytest

from rag.answering.spans import has_figure, short_answer_text, snap_span

SENTENCE = "全年地区生产总值达到1.2万亿元,增长7.7%左右,新增就业3万人。"


@pytest.mark.parametrize(
    ("piece", "expected"),
    [("1.2万", "1.2万亿元"), ("7.7", "7.7%左右"), ("3", "3万人"), ("地区生产总值", "地区生产总值")],
)
def test_a_span_touching_a_figure_is_widened_to_the_whole_figure(piece: str, expected: str) -> None:
    start = SENTENCE.index(piece)
    a, b = snap_span(SENTENCE, start, start + len(piece))
    assert SENTENCE[a:b] == expected


def test_edge_punctuation_is_dropped_but_years_are_not_figures() -> None:
    text = "“创新驱动”,2018年"
    assert text[slice(*snap_span(text, 0, 7))] == "创新驱动"
    assert not has_figure("2018年") and has_figure("增长6.5%")


def test_english_short_answers_spell_out_the_qualifier() -> None:
    assert short_answer_text("7.7%左右", "en") == "about 7.7%"
    assert short_answer_text("7.7%左右", "zh") == "7.7%左右"
    assert short_answer_text("3万人以上", "en") == "over 3万人"
    assert short_answer_text("会展经济", "en") == "会展经济"
