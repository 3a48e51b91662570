"""rag/query.py: language, regions, years (fact years first), intent, question type, metrics and terms."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import pipeline_tokenizer

from rag.knowledge.regions import RegionCatalog
from rag.query import asks_several_quantities, detect_language, parse_question
from rag.types import DocumentMeta, ParsedQuery

METAS = [
    DocumentMeta(title="海珠区2018年政府工作报告", region="海珠区", year=2018, review_years=(2017,), plan_year=2018,
                 source_meta=(("parent_region", "广州市"),)),
    DocumentMeta(title="2016年沙河口区政府工作报告", region="沙河口区", year=2016, review_years=(2015,), plan_year=2016),
    DocumentMeta(title="区政府XX年工作总结", region=None, anonymised=True),
]

Parse = Callable[[str], ParsedQuery]


@pytest.fixture(scope="module")
def parse() -> Parse:
    catalog = RegionCatalog(METAS)
    tokenizer = pipeline_tokenizer()

    def _parse(question: str) -> ParsedQuery:
        return parse_question(question, catalog, tokenizer)

    return _parse


# ----------------------------------------------------------------------------------------- language


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("海珠区2018年地区生产总值增长目标是多少?", "zh"),
        ("What was Haizhu's 2018 GDP target?", "en"),
        ("What does 四洗 mean in the Haizhu report?", "en"),
        ("GDP增长目标", "zh"),
        ("2018", "en"),
    ],
)
def test_detect_language(text: str, language: str) -> None:
    assert detect_language(text) == language


# ----------------------------------------------------------------------------------------- full parses


def test_chinese_target_question(parse: Parse) -> None:
    q = parse("海珠区2018年地区生产总值增长目标是多少?")
    assert q.language == "zh"
    assert q.regions == ("海珠区",)
    assert q.years == (2018,)
    assert (q.intent, q.intent_explicit) == ("target", True)
    assert q.qtype == "numeric"
    assert q.metrics[0] == "地区生产总值"
    assert "地区生产总值" in q.terms and "海珠区" in q.terms


def test_english_question_finds_haizhu_by_pinyin(parse: Parse) -> None:
    q = parse("What was Haizhu's GDP growth target for 2018?")
    assert q.language == "en"
    assert q.regions == ("海珠区",)
    assert q.years == (2018,)
    assert (q.intent, q.intent_explicit) == ("target", True)
    assert q.qtype == "numeric"
    assert "地区生产总值" in q.metrics
    # English questions search with Chinese terms: glossary translations, region names and the year.
    assert {"地区生产总值", "海珠区", "海珠", "2018"} <= set(q.terms)


def test_question_text_is_nfkc_normalised(parse: Parse) -> None:
    q = parse("  海珠区２０１８年地区生产总值增长目标是多少？ ")
    assert q.text == "海珠区2018年地区生产总值增长目标是多少?"
    assert q.years == (2018,)


@pytest.mark.parametrize(
    ("question", "years"),
    [
        ("According to the 2018 report, what was Haizhu's GDP growth in 2017?", (2017, 2018)),
        ("在2018年的报告中,海珠区2017年地区生产总值增长多少?", (2017, 2018)),
        ("海珠区2018年政府工作报告中2017年地区生产总值增长多少?", (2017, 2018)),
        ("Compare 2016 and 2017", (2016, 2017)),
        ("地区生产总值增长7.7%左右吗?", ()),
        ("增长2018.5亿元", ()),
        ("编号20180", ()),
        ("1949年以来", (1949,)),
    ],
)
def test_years_fact_years_before_the_report_year(parse: Parse, question: str, years: tuple[int, ...]) -> None:
    assert parse(question).years == years


@pytest.mark.parametrize(
    ("question", "intent", "explicit"),
    [
        ("海珠区2018年地区生产总值增长目标是多少?", "target", True),
        ("沙河口区2016年地区生产总值预期增长多少?", "target", True),
        ("沙河口区2016年全年实际实现的地区生产总值增速是多少?", "achieved", True),
        ("海珠区2017年实现地区生产总值多少亿元?", "achieved", False),
        ("海珠区2017年实际地区生产总值是多少(不是计划数)?", "achieved", True),
        ("沙河口区2015年新增就业多少人(并非预期目标)?", "achieved", True),
        ("沙河口区2016年计划新增就业多少人?", "target", True),
        ("海珠区2017年地区生产总值增长多少?", "any", False),
        ("What was Haizhu's 2018 GDP target?", "target", True),
        ("What was the planned GDP growth of Shahekou in 2016?", "target", True),
        ("What was the actual GDP growth of Haizhu in 2017?", "achieved", True),
        ("What GDP growth did Haizhu achieve in 2017?", "any", False),
        ("What GDP growth was achieved by Haizhu in 2017?", "achieved", False),
        ("How fast did Haizhu's GDP grow in 2017?", "any", False),
    ],
)
def test_intent(parse: Parse, question: str, intent: str, explicit: bool) -> None:
    q = parse(question)
    assert (q.intent, q.intent_explicit) == (intent, explicit)


@pytest.mark.parametrize(
    ("question", "qtype"),
    [
        ("海珠区2018年地区生产总值增长目标是多少?", "numeric"),
        ("海珠区2018年计划新建几所幼儿园?", "numeric"),
        ("What was Haizhu's 2018 GDP target?", "numeric"),
        ("How many kindergartens will Haizhu build in 2018?", "numeric"),
        ("海珠区和沙河口区哪个地区生产总值增速更高?", "comparison"),
        ("Which district had higher GDP growth, Haizhu or Shahekou?", "comparison"),
        ("Did Haizhu meet its GDP target in 2017?", "yes_no"),
        ("海珠区2017年是否完成了目标任务?", "yes_no"),
        ("海珠区2018年政府工作报告是什么时候作的?", "date"),
        ("When was the Haizhu 2018 report delivered?", "date"),
        ("NEM是指什么?", "definition"),
        ("What does NEM refer to?", "definition"),
        ("What does IAB stand for?", "definition"),
        ("海珠区2018年的十件民生实事有哪些?", "list"),
        ("海珠区2008年完成哪个岛的整体搬迁工作?", "entity"),
        ("Which island did Haizhu relocate in 2008?", "entity"),
    ],
)
def test_question_types(parse: Parse, question: str, qtype: str) -> None:
    assert parse(question).qtype == qtype


def test_chinese_yes_no_question_about_a_rate(parse: Parse) -> None:
    assert parse("海珠区2017年地区生产总值增速是否超过7%?").qtype == "yes_no"


def test_which_question_with_was_is_an_entity_question(parse: Parse) -> None:
    assert parse("Which island was relocated in 2008?").qtype == "entity"


def test_regions_in_questions(parse: Parse) -> None:
    assert parse("Shahekou 2016 GDP target?").regions == ("沙河口区",)
    assert parse("广州市海珠区2018年的目标").regions == ("海珠区",)
    assert parse("北京市2018年地区生产总值增长目标是多少?").regions == ("北京市",)
    assert parse("海珠区和沙河口区哪个地区生产总值增速更高?").regions == ("海珠区", "沙河口区")
    assert parse("地区生产总值增长目标是多少?").regions == ()


def test_acronyms_become_search_terms(parse: Parse) -> None:
    q = parse("What does NEM refer to?")
    assert "nem" in q.terms
    assert q.metrics == ()


@pytest.mark.parametrize(
    ("question", "several"),
    [
        ("高新技术企业从多少家增加到多少家?", True),
        ("一般公共预算收入和税收收入分别是多少?", True),
        ("How many schools and how many hospitals were built?", True),
        ("地区生产总值增长目标是多少?", False),
        ("how many new jobs?", False),
    ],
)
def test_asks_several_quantities(question: str, several: bool) -> None:
    assert asks_several_quantities(question) is several
