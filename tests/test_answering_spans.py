"""Tidying reader spans: whole figures, no edge punctuation, English qualifiers."""

from __future__ import annotations

import pytest

from rag.answering.spans import (
    quantities,
    short_answer_text,
    single_figure_preferred,
    snap_span,
    snapped_proposal,
)
from rag.reader.base import SpanProposal

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
    assert not quantities("2018年") and quantities("增长6.5%")


def test_english_short_answers_spell_out_the_qualifier() -> None:
    assert short_answer_text("7.7%左右", "en") == "about 7.7%"
    assert short_answer_text("7.7%左右", "zh") == "7.7%左右"
    assert short_answer_text("3万人以上", "en") == "over 3万人"
    assert short_answer_text("会展经济", "en") == "会展经济"


def test_reader_questions_use_report_vocabulary_and_ask_a_question() -> None:
    from rag.answering.rephrasing import ReaderQuestion, reader_question
    from rag.knowledge.bilingual import Lexicon
    from rag.types import ParsedQuery

    zh = ParsedQuery(text="武昌区2013年gdp增长目标", language="zh", regions=("武昌区",), years=(2013,), qtype="other",
                     metrics=("地区生产总值",))
    assert reader_question(zh).text == "武昌区2013年地区生产总值增长目标是多少?"
    en = ParsedQuery(text="shahekou 2016 unemployment rate target", language="en", regions=("沙河口区",),
                     years=(2016,), intent="target", qtype="numeric")
    assert reader_question(en) == ReaderQuestion("2016年沙河口区失业率目标是多少?", "zh")  # read in the reports' words
    general = ParsedQuery(text="Who won Super Bowl XLIX?", language="en", qtype="entity")
    lexicon = Lexicon([("超级碗", ["Super Bowl"])], {"超级碗": 3}, {})
    assert reader_question(general, lambda: lexicon) == ReaderQuestion("Who won Super Bowl 超级碗 XLIX?", "en")
    assert reader_question(general, lambda: None).text == "Who won Super Bowl XLIX?"  # no dictionary installed


def test_a_span_that_leaves_a_quote_open_is_widened_to_its_partner() -> None:
    text = "全区上下紧紧围绕把握‘新常态’、收官‘十二五’的主题,推进“暖房子”工程。"
    for cut, whole in [("把握‘新常态", "把握‘新常态’"), ("暖房子”工程", "“暖房子”工程"), ("“暖房子", "暖房子")]:
        at = text.find(cut)
        a, b = snap_span(text, at, at + len(cut))
        assert text[a:b] == whole


def test_a_bare_unit_is_not_an_answer() -> None:
    from rag.answering.spans import is_bare_unit

    assert is_bare_unit("个") and is_bare_unit("亿元") and is_bare_unit(" % ")
    assert not is_bare_unit("3个") and not is_bare_unit("会展经济")


def test_a_span_listing_figures_is_narrowed_to_the_one_in_the_unit_asked_for() -> None:
    from rag.reader.base import SpanProposal
    from rag.text.numbers import asked_unit

    passage = "全年新建校舍3.6万平方米、教室120间,新增学位5000个。"
    start = passage.index("3.6")
    wide = SpanProposal(0, start, passage.index("间") + 1, "3.6万平方米、教室120间", 9.0, 2.0)
    assert snapped_proposal(wide, passage, asked_unit("新建了多少间教室?")).text == "120间"
    assert snapped_proposal(wide, passage, asked_unit("新建校舍多少平方米?")).text == "3.6万平方米"
    assert snapped_proposal(wide, passage, None).text == "3.6万平方米、教室120间"  # no unit asked: as read
    assert snapped_proposal(wide, passage, asked_unit("惠及多少户?")).text == "3.6万平方米、教室120间"  # none fits


def _proposal(text: str, piece: str, passage: int = 0, score: float = 5.0) -> SpanProposal:
    start = text.index(piece)
    return SpanProposal(passage, start, start + len(piece), piece, score, 1.0)


def test_a_listing_span_gives_way_to_a_single_figure_the_reader_also_proposes() -> None:
    listing = _proposal(SENTENCE, "1.2万亿元,增长7.7%左右", score=9.0)
    single = _proposal(SENTENCE, "7.7%左右", score=6.0)
    words = _proposal(SENTENCE, "地区生产总值", score=4.0)
    assert single_figure_preferred([listing, single, words]) == [single, words]


def test_a_listing_span_stays_when_no_single_figure_inside_it_is_proposed() -> None:
    listing = _proposal(SENTENCE, "1.2万亿元,增长7.7%左右")
    elsewhere = _proposal(SENTENCE, "3万人")
    other_passage = _proposal(SENTENCE, "7.7%左右", passage=1)
    assert single_figure_preferred([listing, elsewhere, other_passage]) == [listing, elsewhere, other_passage]
