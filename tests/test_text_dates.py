"""rag/text/dates.py: years and dates as reports and questions write them."""

from __future__ import annotations

import pytest

from rag.text.dates import (
    DATE,
    QUESTION_YEAR,
    WRITTEN_YEAR,
    expand_short_years,
    fold_cn_years,
    iso_date,
    question_years,
)


def test_dates() -> None:
    text = "——2018年2月7日在会上;自2019年1月1日起施行,3月15日召开,2020-05-01发布"
    assert DATE.findall(text) == ["2018年2月7日", "2019年1月1日", "3月15日", "2020-05-01"]


@pytest.mark.parametrize(
    ("typed", "expanded"),
    [
        ("江西25年gdp增速目标?", "江西2025年gdp增速目标?"),
        ("18年海珠区GDP目标", "2018年海珠区GDP目标"),
        ("what was the target in '98?", "what was the target in 1998?"),
        ("近10年增长多少", "近10年增长多少"),
        ("10年来变化", "10年来变化"),
        ("90年代", "90年代"),
        ("2025年目标", "2025年目标"),
    ],
)
def test_two_digit_years_are_written_out_but_durations_are_not(typed: str, expanded: str) -> None:
    assert expand_short_years(typed) == expanded


def test_question_years_skip_decimals_and_percentages() -> None:
    assert question_years("2017年和2018年的目标") == [2017, 2018]
    assert question_years("增长2018.5或2019%") == []
    assert QUESTION_YEAR.search("1939年") is None and QUESTION_YEAR.search("2050年") is None


def test_written_years_and_chinese_numeral_years() -> None:
    assert WRITTEN_YEAR.findall("2017年完成，2018目标") == ["2017"]
    folded = fold_cn_years("二〇一八年政府工作报告，一九九八年")
    assert folded == "2018年政府工作报告，1998年"


def test_iso_date() -> None:
    assert iso_date(2018, 2, 7) == "2018-02-07"
    assert iso_date(2018, 2, 30) is None
