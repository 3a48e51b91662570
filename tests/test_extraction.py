"""rag/extraction.py: the answer span inside an evidence sentence (figure, cloze, definition, date, yes/no, clause)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import pipeline_tokenizer

from rag.extraction import (
    Span,
    extract_clause,
    extract_cloze,
    extract_date,
    extract_definition,
    extract_figure,
    extract_yes_no,
)
from rag.knowledge.regions import RegionCatalog
from rag.query import parse_question
from rag.types import DocumentMeta, ParsedQuery

TARGETS = "今年经济社会发展主要预期目标是:地区生产总值增长7.7%左右,一般公共预算收入增长2%(可比增长7.7%),城乡居民收入增长与经济增长基本同步。"
RESULTS = "实现地区生产总值1740.31亿元,同比(下同)增长7.6%,增速位居全市前列。"

Parse = Callable[[str], ParsedQuery]


@pytest.fixture(scope="module")
def parse() -> Parse:
    catalog = RegionCatalog([DocumentMeta(title="海珠区2018年政府工作报告", region="海珠区", year=2018)])
    tokenizer = pipeline_tokenizer()
    return lambda question: parse_question(question, catalog, tokenizer)


def _check(sentence: str, span: Span | None) -> Span:
    assert span is not None
    assert sentence[span.start : span.end] == span.text
    return span


# ----------------------------------------------------------------------------------------- figures


def test_figure_in_the_clause_of_the_metric(parse: Parse) -> None:
    span = _check(TARGETS, extract_figure(TARGETS, parse("海珠区2018年地区生产总值增长目标是多少?"), []))
    assert span.text == "7.7%左右"
    assert span.figure is not None and span.figure.qualifier == "左右"


def test_figure_of_another_metric_in_the_same_sentence(parse: Parse) -> None:
    span = _check(TARGETS, extract_figure(TARGETS, parse("海珠区2018年一般公共预算收入增长目标是多少?"), []))
    assert span.text == "2%"


def test_english_question_gets_the_same_figure(parse: Parse) -> None:
    span = _check(TARGETS, extract_figure(TARGETS, parse("What was Haizhu's 2018 GDP growth target?"), []))
    assert span.text == "7.7%左右"


def test_amount_when_the_question_asks_for_money(parse: Parse) -> None:
    span = _check(RESULTS, extract_figure(RESULTS, parse("海珠区2017年实现地区生产总值多少亿元?"), []))
    assert span.text == "1740.31亿元"


@pytest.mark.parametrize("question", ["海珠区2017年地区生产总值增长多少?", "What was Haizhu's actual GDP growth in 2017?"])
def test_growth_rate_in_the_clause_after_the_amount(parse: Parse, question: str) -> None:
    span = _check(RESULTS, extract_figure(RESULTS, parse(question), []))
    assert span.text == "7.6%"


def test_next_clause_with_a_connector(parse: Parse) -> None:
    sentence = "全年地区生产总值,同比增长8.1%。"
    span = _check(sentence, extract_figure(sentence, parse("地区生产总值增长多少?"), []))
    assert span.text == "8.1%"


def test_placeholder_figure_is_refused(parse: Parse) -> None:
    sentence = "新增国内注册商标XX件,省著名商标4件。"
    assert extract_figure(sentence, parse("新增国内注册商标多少件?"), ["注册商标"]) is None
    filled = "新增国内注册商标120件,省著名商标4件。"
    assert _check(filled, extract_figure(filled, parse("新增国内注册商标多少件?"), ["注册商标"])).text == "120件"


def test_numbers_given_in_the_question_are_not_the_answer(parse: Parse) -> None:
    q = parse("一般公共预算收入增长2%,可比增长多少?")
    span = _check(TARGETS, extract_figure(TARGETS, q, []))
    assert span.text == "7.7%"


def test_measure_word_picks_the_count(parse: Parse) -> None:
    sentence = "推进3所公办幼儿园建设,投入资金1200万元。"
    q = parse("海珠区2018年推进多少所公办幼儿园建设?")
    assert _check(sentence, extract_figure(sentence, q, ["公办幼儿园"])).text == "3所"


@pytest.mark.xfail(
    reason="extraction: _wanted_units reads '多少个百分点' as the measure word 个, and '0.5个百分点' does not end "
    "with 个, so the figure is scored -3 and dropped",
    strict=True,
)
def test_percentage_points_question(parse: Parse) -> None:
    sentence = "城镇化率提高1.2个百分点。"
    span = extract_figure(sentence, parse("城镇化率提高了多少个百分点?"), ["城镇化率"])
    assert _check(sentence, span).text == "1.2个百分点"


def test_from_to_question_spans_both_figures(parse: Parse) -> None:
    sentence = "全区社区数量由194个优化调整为181个,第五届社区换届工作圆满完成。"
    span = _check(sentence, extract_figure(sentence, parse("武昌区社区数量由多少个调整为多少个?"), ["社区数量"]))
    assert span.text == "由194个优化调整为181个"


def test_no_anchor_no_figure(parse: Parse) -> None:
    assert extract_figure("海珠湿地三期基本建成。", parse("海珠区2018年地区生产总值增长目标是多少?"), []) is None


def test_decrease_keeps_its_direction(parse: Parse) -> None:
    sentence = "单位能耗下降3%,城镇登记失业率下降0.3个百分点。"
    span = _check(sentence, extract_figure(sentence, parse("单位能耗变化了多少?"), ["能耗"]))
    assert span.text == "下降3%"
    span = _check(sentence, extract_figure(sentence, parse("城镇登记失业率变化多少?"), ["失业率"]))
    assert span.text == "下降0.3个百分点"


# ----------------------------------------------------------------------------------------- cloze


def test_cloze_island(parse: Parse) -> None:
    sentence = "全力以赴完成官洲岛整体搬迁工作。"
    span = _check(sentence, extract_cloze(sentence, parse("海珠区2008年完成哪个岛的整体搬迁工作?")))
    assert span.text == "官洲岛"


def test_cloze_checks_the_asked_noun(parse: Parse) -> None:
    # "哪个湖" cannot be answered by an island.
    assert extract_cloze("全力以赴完成官洲岛整体搬迁工作。", parse("完成哪个湖的整体搬迁工作?")) is None


def test_cloze_quoted_theme(parse: Parse) -> None:
    sentence = "紧紧围绕“把握新常态”主题,扎实推进各项工作。"
    span = _check(sentence, extract_cloze(sentence, parse("政府工作紧紧围绕的主题是什么?")))
    assert span.text == "把握新常态"


def test_cloze_without_wh_word(parse: Parse) -> None:
    assert extract_cloze("全力以赴完成官洲岛整体搬迁工作。", parse("官洲岛搬迁了")) is None


# ----------------------------------------------------------------------------------------- definitions


@pytest.mark.parametrize("sentence", ["NEM: 新能源、新材料产业", "29. NEM: 新能源、新材料产业。", "“NEM”:新能源、新材料产业。"])
def test_definition(parse: Parse, sentence: str) -> None:
    span = _check(sentence, extract_definition(sentence, parse("What does NEM refer to?"), ["nem"]))
    assert span.text == "新能源、新材料产业"


def test_definition_of_another_term_is_not_an_answer(parse: Parse) -> None:
    assert extract_definition("IAB: 新一代信息技术、人工智能、生物医药产业。", parse("What does NEM refer to?"), ["nem"]) is None
    assert extract_definition("没有冒号的句子。", parse("What does NEM refer to?"), ["nem"]) is None


def test_chinese_definition(parse: Parse) -> None:
    sentence = "7. 四洗:洗楼、洗管、洗井、洗河。"
    q = parse("四洗是指什么?")
    span = _check(sentence, extract_definition(sentence, q, ["四洗"]))
    assert span.text == "洗楼、洗管、洗井、洗河"


# ----------------------------------------------------------------------------------------- dates, yes/no, clause


def test_dates() -> None:
    s1 = "本条例自2019年1月1日起施行。"
    assert _check(s1, extract_date(s1)).text == "2019年1月1日"
    s2 = "——2018年2月7日在广州市海珠区第十六届人民代表大会第四次会议上"
    assert _check(s2, extract_date(s2)).text == "2018年2月7日"
    assert extract_date("没有日期。") is None


@pytest.mark.parametrize(
    ("sentence", "verdict"),
    [
        ("全年增长7.6%,超过年初目标。", True),
        ("增速高于全市平均水平。", True),
        ("增速低于预期。", False),
        ("未完成年度目标。", False),
        ("增长7.6%。", None),
    ],
)
def test_yes_no(sentence: str, verdict: bool | None) -> None:
    assert extract_yes_no(sentence) is verdict


def test_clause_naming_the_metric(parse: Parse) -> None:
    span = _check(TARGETS, extract_clause(TARGETS, parse("What was the GDP target?"), []))
    assert span.text == "地区生产总值增长7.7%左右"
    assert extract_clause("海珠湿地三期基本建成。", parse("What was the GDP target?"), []) is None
