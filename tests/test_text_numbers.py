"""rag/text/numbers.py: Chinese numerals, figures (number + unit + qualifier) with exact offsets, number mentions."""

from __future__ import annotations

from decimal import Decimal

import pytest

from rag.text.numbers import (
    Figure,
    cn_decimal,
    cn_integer,
    extract_numbers,
    find_figures,
    is_plan_name,
    plan_ordinal,
)


def _only(text: str) -> Figure:
    figures = find_figures(text)
    assert len(figures) == 1, figures
    fig = figures[0]
    assert text[fig.start : fig.end] == fig.text
    return fig


@pytest.mark.parametrize(
    ("text", "figure", "value", "unit", "qualifier"),
    [
        ("地区生产总值增长7.7%左右", "7.7%左右", 7.7, "%", "左右"),
        ("地区生产总值增长6.5-7%", "6.5-7%", 6.5, "%", ""),
        ("户籍人口自然增长率控制在2.7‰以下", "2.7‰以下", 2.7, "‰", "以下"),
        ("大商所实现期货交易量9.85亿手", "9.85亿手", 9.85, "亿手", ""),
        ("实现地区生产总值1740.31亿元", "1740.31亿元", 1740.31, "亿元", ""),
        ("比上年提高0.5个百分点", "0.5个百分点", 0.5, "个百分点", ""),
        ("城镇登记失业人员就业率在70%以上", "70%以上", 70.0, "%", "以上"),
        ("第三方代管出租屋13.6万平方米", "13.6万平方米", 13.6, "万平方米", ""),
        ("推进3所公办幼儿园建设", "3所", 3.0, "所", ""),
        ("约800万元", "800万元", 800.0, "万元", ""),
        ("增长10%-12%", "10%-12%", 10.0, "%", ""),
        ("登记失业率控制在2.8%以内", "2.8%以内", 2.8, "%", "以内"),
        ("实际利用外资1.2亿美元", "1.2亿美元", 1.2, "亿美元", ""),
    ],
)
def test_find_figures(text: str, figure: str, value: float, unit: str, qualifier: str) -> None:
    fig = _only(text)
    assert (fig.text, fig.value, fig.unit, fig.qualifier) == (figure, value, unit, qualifier)
    assert not fig.is_year


def test_range_of_counts_keeps_both_figures() -> None:
    text = "全区社区数量由194个优化调整为181个"
    figures = find_figures(text)
    assert [(f.text, f.value, f.unit) for f in figures] == [("194个", 194.0, "个"), ("181个", 181.0, "个")]
    for f in figures:
        assert text[f.start : f.end] == f.text


def test_years_and_dates_are_not_figures() -> None:
    assert find_figures("2018年2月7日") == []
    assert find_figures("今年是2018年") == []
    (bare,) = find_figures("截至2018,完成")
    assert bare.is_year and bare.unit == ""
    (count,) = find_figures("新增2018个")
    assert not count.is_year


def test_figures_in_a_sentence_left_to_right() -> None:
    text = "今年经济社会发展主要预期目标是:地区生产总值增长7.7%左右,一般公共预算收入增长2%(可比增长7.7%)。"
    figures = find_figures(text)
    assert [f.text for f in figures] == ["7.7%左右", "2%", "7.7%"]
    assert [f.start for f in figures] == sorted(f.start for f in figures)


@pytest.mark.parametrize(("text", "figure", "unit"), [("依申请公开政府信息500余条", "500余条", "条"), ("投资50多亿元", "50多亿元", "亿元")])
def test_approximate_qualifier_before_the_unit(text: str, figure: str, unit: str) -> None:
    fig = _only(text)
    assert (fig.text, fig.unit) == (figure, unit)


def test_figures_compare_across_units_and_ranges_stay_ranges() -> None:
    (a,) = find_figures("人均收入1.2万元")
    (b,) = find_figures("补贴9000元")
    assert a.scaled_value > b.scaled_value
    (big,) = find_figures("总量达到1.2万亿元")
    assert big.text == "1.2万亿元" and big.unit == "万亿元" and big.scaled_value == 1.2e12
    (r,) = find_figures("增长6.5-7%")
    assert r.range == (6.5, 7.0) and r.unit == "%"
    assert a.range is None


def test_upper_scaled_value_uses_the_top_of_a_range_in_base_units() -> None:
    (r,) = find_figures("增长6.5-7%")
    assert r.upper_scaled_value == 7.0
    (m,) = find_figures("投资1.5-2万元")
    assert m.upper_scaled_value == 20000.0
    (s,) = find_figures("收入9000元")
    assert s.upper_scaled_value == 9000.0


# ------------------------------------------------------------------------------------ Chinese numerals


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("十", 10), ("一十三", 13), ("二十五", 25), ("一百零五", 105), ("一千零五", 1005), ("一千零五十", 1050),
        ("两百", 200), ("三万五千", 35000), ("三万零五百", 30500), ("三亿零五百三十万", 305300000),
        ("二〇一八", 2018), ("一九五八", 1958), ("七", 7),
    ],
)  # fmt: skip
def test_cn_integer_reads_well_formed_numerals(text: str, value: int) -> None:
    assert cn_integer(text) == value


@pytest.mark.parametrize(
    "text",
    ["十三五", "十四五", "三百五", "一百五", "一万一", "六亿三千", "三五", "一一", "三三两两", "零三", "一亿十万", "一百零", "二千零十七", "百", ""],
)
def test_cn_integer_refuses_words_abbreviations_and_plan_names(text: str) -> None:
    assert cn_integer(text) is None


def test_plan_names_are_plans_not_numbers() -> None:
    assert is_plan_name("十三五") and is_plan_name("十四五") and not is_plan_name("十五")
    assert plan_ordinal("十四五") == 14 and plan_ordinal("十四") is None


def test_cn_decimal() -> None:
    assert cn_decimal("十") == "10"
    assert cn_decimal("二十五") == "25"
    assert cn_decimal("一千零五") == "1005"
    assert cn_decimal("七点七") == "7.7"
    assert cn_decimal("三百五") is None
    assert cn_decimal("三五") is None
    assert cn_decimal("十三五") is None


# ------------------------------------------------------------------------------------- number mentions


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("地区生产总值1740.31亿元，增长7.6%", [("174031000000", "plain"), ("7.6", "percent")]),
        ("174.031 billion yuan", [("174031000000", "plain")]),
        ("1,234.5 million and 3‰", [("1234500000", "plain"), ("3", "permille")]),
        ("百分之七点五，增长两个百分点", [("7.5", "percent"), ("2", "percent")]),
        ("三万五千人，第十四届，二〇一八年", [("35000", "plain"), ("14", "plain"), ("2018", "plain")]),
        ("一般统一两会十分重要，千方百计", []),
        ("１２．５％", [("12.5", "percent")]),
    ],
)
def test_extract_numbers(text: str, expected: list[tuple[str, str]]) -> None:
    found = [(m.value, m.kind) for m in extract_numbers(text)]
    assert found == [(Decimal(value), kind) for value, kind in expected]


@pytest.mark.parametrize(
    ("text", "figures"),
    [
        ("最大的素数有22,338,618位数", [("22,338,618", 22338618.0)]),
        ("约16,000 个树种", [("16,000 个", 16000.0)]),
        ("1,234.5万元", [("1,234.5万元", 1234.5)]),
        ("增长7%,300个项目", [("7%", 7.0), ("300个", 300.0)]),  # a clause break, not a digit group
        ("12,34个", [("12", 12.0), ("34个", 34.0)]),
    ],
)
def test_digit_groups_written_with_commas_are_one_number(text: str, figures: list[tuple[str, float]]) -> None:
    assert [(f.text, f.value) for f in find_figures(text)] == figures
