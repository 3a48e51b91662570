"""Refusals: why the indexed reports cannot answer, as a typed value, worded in Chinese or English in one place."""

from __future__ import annotations

from collections.abc import Sequence

from rag.types import Answer, Hit, Language, ParsedQuery, RefusalKind, RefusalReason

NO_PASSAGES = RefusalReason("no_passages")
METRIC_NOT_NAMED = RefusalReason("metric_not_named")
FIGURE_NOT_STATED = RefusalReason("figure_not_stated")
LOW_CONFIDENCE = RefusalReason("low_confidence")

_FIXED: dict[RefusalKind, dict[Language, str]] = {
    "no_passages": {"en": "no passages", "zh": "没有可检索的段落"},
    "metric_not_named": {"en": "no passage names what was asked", "zh": "没有任何段落提到所问的指标"},
    "figure_not_stated": {"en": "the figure is not stated", "zh": "相关句子没有给出具体数字"},
    "low_confidence": {"en": "low confidence", "zh": "找到的段落与问题不够吻合"},
}


def render_reason(reason: RefusalReason, language: Language) -> str:
    """The reason as a clause of the refusal sentence: "no indexed report of 海珠区 covers 2019" / "海珠区2019年的报告…"."""
    if reason.kind in _FIXED:
        return _FIXED[reason.kind][language]
    if reason.kind == "other":
        return reason.detail
    places = "、".join(reason.places)
    years = "、".join(str(y) for y in reason.years)
    if reason.kind == "places_not_indexed":
        return f"no indexed report covers {places}" if language == "en" else f"{places}的报告不在已索引的文档中"
    if reason.kind == "years_not_indexed":
        return f"no indexed report of {places} covers {years}" if language == "en" else f"{places}{years}年的报告不在已索引的文档中"
    if language == "en":
        what = "targets for" if reason.period == "plan" else "results of"
        return f"no indexed report of {places} gives {what} {years}"
    what = "目标" if reason.period == "plan" else "实际完成情况"
    return f"已索引的报告中没有{places}{years}年的{what}"


_SHORT: dict[Language, str] = {"zh": "已索引的报告中没有找到答案", "en": "Not found in the indexed reports"}
_ANSWER: dict[Language, str] = {
    "zh": "已索引的报告中没有找到这个问题的答案({reason})。",
    "en": "The indexed reports do not contain the answer to this question ({reason}).",
}
_MODEL_REFUSAL: dict[Language, str] = {
    "zh": "报告中没有找到相关信息。",
    "en": "The indexed reports do not contain this information.",
}


def refusal(query: ParsedQuery, reason: RefusalReason, hits: Sequence[Hit] = ()) -> Answer:
    """An honest "not in these reports", saying what was searched."""
    text = _ANSWER[query.language].format(reason=render_reason(reason, query.language))
    return Answer(query.text, _SHORT[query.language], text, True, query.language, hits=tuple(hits))


def model_refusal(
    query: ParsedQuery, hits: Sequence[Hit], *, backend: str, timings_ms: dict[str, float]
) -> Answer:
    """A language model said the passages do not contain the answer (it gives no reason)."""
    text = _MODEL_REFUSAL[query.language]
    return Answer(
        question=query.text,
        short_answer=text,
        answer=text,
        refused=True,
        language=query.language,
        hits=tuple(hits),
        backend=backend,
        timings_ms=timings_ms,
    )
