"""Answer matching (eval/answer_matching.py) on tiny hand-made cases."""

from __future__ import annotations

import pytest

from eval.answer_matching import answer_correct, normalize_answer

# --- normalize_answer ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("７．７％", "7.7%"),
        ("7.7 %", "7.7%"),
        ("百分之七点七", "7.7%"),
        ("百分之8", "8%"),
        ("十三", "13"),
        ("十三条", "13条"),
        ("一百九十四个", "194个"),
        ("2018年七月一日", "2018年7月1日"),
        ("二〇一八年", "2018年"),
        ("八百万元", "800万元"),
        ("12. 2万平方米", "12.2万平方米"),
        ("1,740.31亿元", "1740.31亿元"),
        ("About 7.7% ", "about 7.7%"),
        ("Haizhu  District.", "haizhu district"),
        ("800万元。", "800万元"),
        ("把握‘新常态’", "把握新常态"),
    ],
)
def test_normalize_answer(raw: str, expected: str) -> None:
    assert normalize_answer(raw) == expected


@pytest.mark.parametrize("ambiguous", ["十三五", "十二五", "五大险种", "三大产业之一", "统一", "四川"])
def test_normalize_keeps_words_that_look_like_numerals(ambiguous: str) -> None:
    assert normalize_answer(ambiguous) == ambiguous


def test_units_are_kept_as_written() -> None:
    assert normalize_answer("1740.31亿元") != normalize_answer("174031000000元")
    assert normalize_answer("800万") == "800万"


# --- answer_correct --------------------------------------------------------------------------------------


GDP = ["7.7%", "7.7%左右", "about 7.7%"]


@pytest.mark.parametrize(
    "pred", ["7.7%", "about 7.7%", "7.7%左右", "约7.7%", "７．７％", "百分之七点七", "7.7% 左右。"]
)
def test_short_answers_with_qualifiers_match(pred: str) -> None:
    assert answer_correct(pred, False, GDP)


def test_within_qualifier_matches() -> None:
    assert answer_correct("within 2.7%", False, ["2.7%"])
    assert answer_correct("2.7%以内", False, ["2.7%"])


@pytest.mark.parametrize(
    "pred",
    [
        "7.7% and 2%",  # an extra number
        "17.7%",  # gold is a substring but not the number
        "地区生产总值增长7.7%左右,一般公共预算收入增长2%(可比增长7.7%)",  # a long passage containing the gold
        "",
    ],
)
def test_strictness(pred: str) -> None:
    assert not answer_correct(pred, False, ["7.7%"])


def test_refusal_is_never_correct() -> None:
    assert not answer_correct("7.7%", True, ["7.7%"])
    assert answer_correct("信息不足", True, [], "refusal")
    assert not answer_correct("12人", False, [], "refusal")


def test_chinese_numerals_and_units() -> None:
    assert answer_correct("十三条", False, ["13条", "13"])
    assert answer_correct("13", False, ["13条", "13"])
    assert not answer_correct("13", False, ["13条"])  # only the listed forms (or a short superstring) count
    assert answer_correct("169名", False, ["169名"])
    assert not answer_correct("169万", False, ["169名"])


def test_english_words_are_not_split() -> None:
    assert not answer_correct("not sure", False, ["no"])
    assert answer_correct("No.", False, ["no"])
    assert answer_correct("Haizhu District", False, ["Haizhu"])


def test_all_groups_any_alt() -> None:
    groups = [["东盟"], ["中国"], ["日本"], ["韩国"], ["澳大利亚"], ["新西兰"]]
    assert answer_correct("东盟十国、中国、日本、韩国、澳大利亚和新西兰", False, groups, "all_groups_any_alt")
    assert not answer_correct("东盟、中国、日本、韩国", False, groups, "all_groups_any_alt")
    dates = [["1月3日"], ["1月12日", "一月十二日"]]
    assert answer_correct("宣誓仪式1月3日,首次会议一月十二日", False, dates, "all_groups_any_alt")
    long_text = "1月3日" + "其" * 40 + "1月12日"
    assert not answer_correct(long_text, False, dates, "all_groups_any_alt")


def test_any_variant_all_items() -> None:
    variants = [["养老保险", "医疗保险"], ["pension", "medical"]]
    assert answer_correct("Pension and medical insurance", False, variants, "any_variant_all_items")
    assert answer_correct("养老保险、医疗保险", False, variants, "any_variant_all_items")
    assert not answer_correct("养老保险、medical", False, variants, "any_variant_all_items")
