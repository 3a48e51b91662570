"""Relative years in a question point at a part of the report: 今年/明年 at its plan, 去年 at its review."""

from __future__ import annotations

import pytest

from rag.query import detect_intent


@pytest.mark.parametrize(
    ("question", "language", "intent"),
    [
        ("海珠区今年GDP增长多少?", "zh", "target"),
        ("新的一年城镇新增就业多少人?", "zh", "target"),
        ("去年全区地区生产总值增长了多少?", "zh", "achieved"),
        ("what is the gdp growth for this year", "en", "target"),
        ("how much will investment grow next year", "en", "target"),
        ("2018年GDP增长多少?", "zh", "any"),
    ],
)
def test_relative_years_set_the_period_intent(question: str, language: str, intent: str) -> None:
    assert detect_intent(question, language) == intent  # type: ignore[arg-type]
