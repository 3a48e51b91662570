"""Whether a short answer matches the gold: answer normalisation and the ``answer_check`` modes (pure functions)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from rag.text.numbers import cn_decimal

# --- answer normalisation -------------------------------------------------------------------------------

_CN_NUMERAL = "零〇一二两三四五六七八九十百千"
_CN_RUN = re.compile(rf"[{_CN_NUMERAL}]+(?:点[零〇一二三四五六七八九]+)?")
_PERCENT_CN = re.compile(rf"百分之([{_CN_NUMERAL}]+(?:点[零〇一二三四五六七八九]+)?|\d+(?:\.\d+)?)")
# A Chinese numeral is converted only in front of one of these (or alone), where it cannot be part of a word
# such as 十三五 (a plan name, which rag.text.numbers never reads as a number), 统一 or 四川.
_MEASURE_WORDS = frozenset(
    "个次名条所项张栋件家座种位人户天年月日号元倍岁届批期场台辆只头本部篇周轮级类亩吨米%万亿"
)
_QUOTES = re.compile("[\"'“”‘’「」『』]")
_DIGIT_GROUP_COMMA = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_TRAILING_PUNCT = "。.,，;；:：!！?？、 "
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def _is_ascii_alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _is_cjk(ch: str) -> bool:
    return bool(ch) and ("\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf")


def _cn_number(run: str) -> str | None:
    """A Chinese numeral in digits; a bare 零 is a word here (零件, 零部件), not the number 0."""
    return None if run.partition("点")[0] in ("零", "〇") else cn_decimal(run)


def _replace_cn_percent(match: re.Match[str]) -> str:
    body = match.group(1)
    number = body if body[0].isdigit() else _cn_number(body)
    return f"{number}%" if number is not None else match.group(0)


def _convert_cn_numerals(text: str) -> str:
    out: list[str] = []
    pos = 0
    for match in _CN_RUN.finditer(text):
        start, end = match.span()
        following = text[end] if end < len(text) else ""
        run = match.group(0)
        standalone = start == 0 and end == len(text)
        preceding = text[start - 1] if start > 0 else ""
        # At the end of a string a lone digit after a word is usually part of it (之一, 统一), not a count.
        at_end = following == "" and (len(run) > 1 or not _is_cjk(preceding))
        if standalone or following in _MEASURE_WORDS or at_end:
            number = _cn_number(run)
            if number is not None:
                out.append(text[pos:start])
                out.append(number)
                pos = end
    out.append(text[pos:])
    return "".join(out)


def _squeeze_spaces(text: str) -> str:
    """Drop whitespace except one space between two ASCII letters/digits ("about 7.7%", but "12. 2万" → "12.2万")."""
    parts = text.split()
    if not parts:
        return ""
    out = [parts[0]]
    for part in parts[1:]:
        if _is_ascii_alnum(out[-1][-1]) and _is_ascii_alnum(part[0]):
            out.append(" ")
        out.append(part)
    return "".join(out)


def normalize_answer(text: str) -> str:
    """Canonical form for answer comparison.

    NFKC (full/half width, ``％`` → ``%``), case-folded, quotes removed, ``百分之X`` → ``X%``, well-formed Chinese
    numerals before a measure word or standing alone → Arabic (``十三条`` → ``13条``, ``十三五`` kept), digit-group
    commas dropped, whitespace squeezed, trailing punctuation stripped. Units (亿元, 万) stay as written.
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _QUOTES.sub("", text)
    text = _PERCENT_CN.sub(_replace_cn_percent, text)
    text = _convert_cn_numerals(text)
    text = _DIGIT_GROUP_COMMA.sub("", text)
    text = _squeeze_spaces(text)
    return text.strip(_TRAILING_PUNCT)


def numbers_in(text: str) -> tuple[float, ...]:
    """The numbers written in an already normalised string."""
    return tuple(float(m) for m in _NUMBER.findall(text))


def _contains(haystack: str, needle: str) -> bool:
    """Substring test that does not split an ASCII word or number (gold "no" is not in "not")."""
    start = haystack.find(needle)
    while start != -1:
        end = start + len(needle)
        before = haystack[start - 1] if start > 0 else ""
        after = haystack[end] if end < len(haystack) else ""
        left_ok = not (before and _is_ascii_alnum(before) and _is_ascii_alnum(needle[0]))
        right_ok = not (after and _is_ascii_alnum(after) and _is_ascii_alnum(needle[-1]))
        if left_ok and right_ok:
            return True
        start = haystack.find(needle, start + 1)
    return False


SHORT_ANSWER_SLACK = 12
"""A prediction containing the gold may be this many characters longer ("7.7%左右", "about 7.7%")."""
GROUP_SLACK = 30
"""For group modes, a prediction may exceed the total length of the matched items by this much."""


def _matches_single(pred_norm: str, gold_norm: str) -> bool:
    if not gold_norm:
        return False
    if pred_norm == gold_norm:
        return True
    if len(pred_norm) > len(gold_norm) + SHORT_ANSWER_SLACK or not _contains(pred_norm, gold_norm):
        return False
    # "7.7% and 2%" must not pass for gold "7.7%": every number of the prediction has to be in the gold.
    gold_numbers = set(numbers_in(gold_norm))
    return all(n in gold_numbers for n in numbers_in(pred_norm))


def _matches_all_groups(pred_norm: str, groups: Sequence[Sequence[str]]) -> bool:
    if not groups:
        return False
    budget = GROUP_SLACK
    for group in groups:
        alts = [g for g in (normalize_answer(a) for a in group) if g]
        matched = next((g for g in alts if pred_norm == g or _contains(pred_norm, g)), None)
        if matched is None:
            return False
        budget += len(matched)
    return len(pred_norm) <= budget


def _as_groups(gold_answers: Sequence[str | Sequence[str]]) -> list[tuple[str, ...]]:
    return [(g,) if isinstance(g, str) else tuple(g) for g in gold_answers]


def answer_correct(
    pred: str,
    refused: bool,
    gold_answers: Sequence[str | Sequence[str]],
    check_mode: str = "any_of",
) -> bool:
    """Whether a short answer is right under an ``answer_check`` mode.

    Args:
        gold_answers: ``any_of``: the alternatives (strings; nested lists are flattened). ``all_groups_any_alt``:
            groups of alternatives, every group must match. ``any_variant_all_items``: variants, each a list of
            items that must all match. ``refusal``: ignored.

    A refusal is never a correct answer; under ``refusal`` only a refusal is correct.
    """
    if check_mode == "refusal":
        return refused
    pred_norm = normalize_answer(pred)
    if refused or not pred_norm:
        return False
    groups = _as_groups(gold_answers)
    if check_mode == "any_of":
        return any(_matches_single(pred_norm, normalize_answer(g)) for group in groups for g in group)
    if check_mode == "all_groups_any_alt":
        return _matches_all_groups(pred_norm, groups)
    if check_mode == "any_variant_all_items":
        return any(_matches_all_groups(pred_norm, [(item,) for item in variant]) for variant in groups)
    raise ValueError(f"unknown answer_check mode {check_mode!r}")
