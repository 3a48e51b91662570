"""rag/refusal.py: refusal reasons as values, worded in Chinese and English by one function."""

from __future__ import annotations

import pytest

from rag.refusal import LOW_CONFIDENCE, NO_PASSAGES, model_refusal, refusal, render_reason
from rag.types import ParsedQuery, RefusalReason

ZH = ParsedQuery(text="问题", language="zh")
EN = ParsedQuery(text="q", language="en")


@pytest.mark.parametrize(
    ("reason", "en", "zh"),
    [
        (RefusalReason("years_not_indexed", ("海珠区",), (2019,)), "no indexed report of 海珠区 covers 2019", "海珠区2019年的报告不在已索引的文档中"),
        (
            RefusalReason("period_not_indexed", ("沙河口区",), (2016,), "review"),
            "no indexed report of 沙河口区 gives results of 2016",
            "已索引的报告中没有沙河口区2016年的实际完成情况",
        ),
        (
            RefusalReason("period_not_indexed", ("海珠区",), (2017,), "plan"),
            "no indexed report of 海珠区 gives targets for 2017",
            "已索引的报告中没有海珠区2017年的目标",
        ),
        (RefusalReason("places_not_indexed", ("北京市",)), "no indexed report covers 北京市", "北京市的报告不在已索引的文档中"),
        (
            RefusalReason("years_not_indexed", ("海珠区", "沙河口区"), (2018, 2019)),
            "no indexed report of 海珠区、沙河口区 covers 2018、2019",
            "海珠区、沙河口区2018、2019年的报告不在已索引的文档中",
        ),
        (NO_PASSAGES, "no passages", "没有可检索的段落"),
        (LOW_CONFIDENCE, "low confidence", "找到的段落与问题不够吻合"),
        (RefusalReason("metric_not_named"), "no passage names what was asked", "没有任何段落提到所问的指标"),
        (RefusalReason("figure_not_stated"), "the figure is not stated", "相关句子没有给出具体数字"),
    ],
)
def test_reasons_are_worded_in_both_languages(reason: RefusalReason, en: str, zh: str) -> None:
    assert render_reason(reason, "en") == en
    assert render_reason(reason, "zh") == zh
    answer = refusal(ZH, reason)
    assert answer.refused and answer.citations == ()
    assert answer.short_answer == "已索引的报告中没有找到答案"
    assert answer.answer == f"已索引的报告中没有找到这个问题的答案({zh})。"


def test_refusal_in_english() -> None:
    answer = refusal(EN, NO_PASSAGES)
    assert answer.answer == "The indexed reports do not contain the answer to this question (no passages)."
    assert answer.short_answer == "Not found in the indexed reports"
    assert answer.language == "en"


def test_a_reason_worded_by_its_producer_is_shown_as_written() -> None:
    other = RefusalReason("other", detail="something new")
    assert refusal(ZH, other).answer == "已索引的报告中没有找到这个问题的答案(something new)。"


def test_model_refusal_has_its_own_wording() -> None:
    zh = model_refusal(ZH, (), backend="openai", timings_ms={"generate": 1.0})
    assert zh.refused and zh.short_answer == zh.answer == "报告中没有找到相关信息。" and zh.backend == "openai"
    assert model_refusal(EN, (), backend="openai", timings_ms={}).answer == "The indexed reports do not contain this information."
