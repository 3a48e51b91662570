"""Exact match and character F1 for span sets."""

from __future__ import annotations

from eval.spans import char_f1, exact_match, span_tokens


def test_tokens_are_characters_for_chinese_and_words_for_ascii() -> None:
    assert span_tokens("光荣和ω-Force。") == ["光", "荣", "和", "ω", "force"]
    assert span_tokens("增长 7.7%") == ["增", "长", "7.7"]


def test_exact_match_ignores_punctuation_width_and_case() -> None:
    assert exact_match("《战国无双3》", ["战国无双3"]) == 1.0
    assert exact_match("ＡＢＣ", ["abc"]) == 1.0
    assert exact_match("光荣", ["光荣和ω-force"]) == 0.0
    assert exact_match("x", []) == 0.0


def test_f1_takes_the_best_alternative() -> None:
    assert char_f1("村雨城", ["任天堂游戏谜之村雨城", "村雨城"]) == 1.0
    assert abs(char_f1("光荣", ["光荣和ω-force"]) - 2 * (1.0 * 0.4) / 1.4) < 1e-9
    assert char_f1("", ["a"]) == 0.0 and char_f1("abc", ["xyz"]) == 0.0
