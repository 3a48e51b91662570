"""Numbers as reports and answers write them: Chinese numerals, figures with units, scaled number mentions.

The one parser of Chinese numerals (via `cn2an`) and of figures; `rag.generators.verification`, the
extractors and `eval.answer_matching` all read numbers through this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Literal

import cn2an

# ------------------------------------------------------------------------------------- Chinese numerals

CN_DIGITS: dict[str, int] = {"零": 0, "〇": 0, "两": 2} | {ch: i for i, ch in enumerate("一二三四五六七八九", start=1)}
"""The digit characters and their values (两 is 2 in 两百, 两个)."""

_PLAN_NAME = re.compile(r"十[一二三四五六七八九]五")


def is_plan_name(text: str) -> bool:
    """十三五, 十四五: the name of a Five-Year Plan, never the number 135 or 145."""
    return _PLAN_NAME.fullmatch(text) is not None


def plan_ordinal(text: str) -> int | None:
    """The plan's number in a plan name: 十四五 → 14 (the 14th Five-Year Plan); None for other text."""
    return cn_integer(text[:-1]) if is_plan_name(text) else None


def cn_digits(text: str) -> int | None:
    """A numeral read digit by digit as years are written (二〇一八 → 2018, 一九五八 → 1958), or a single digit.

    Other runs of digits are words (三五 "a few", 一一 "one by one", 三三两两 "in twos and threes").
    """
    if len(text) == 1:
        return CN_DIGITS.get(text)
    if len(text) != 4 or any(ch not in CN_DIGITS or ch == "两" for ch in text):
        return None
    return int("".join(str(CN_DIGITS[ch]) for ch in text))


def _canonical(spelled: str) -> str:
    """A spelling with the freedoms writers take dropped: zeros (一千零五) and a leading 一 of 一十."""
    spelled = spelled.replace("零", "")
    return spelled[1:] if spelled.startswith("一十") else spelled


@lru_cache(maxsize=4096)
def cn_integer(text: str) -> int | None:
    """A Chinese integer: 十三 → 13, 一百零五 → 105, 三万五千 → 35000, 二〇一八 → 2018; None if not a number.

    A spelling counts when it is how `cn2an` writes the number (两 for 二, 〇 for 零 and a leading 一十
    allowed): colloquial abbreviations (一百五, 一万一), digit runs other than years and plan names (十三五)
    are not numbers.
    """
    if not text or is_plan_name(text):
        return None
    if all(ch in CN_DIGITS for ch in text):
        return cn_digits(text)
    spelled = text.replace("两", "二").replace("〇", "零")
    try:
        value = cn2an.cn2an(spelled, "strict")
    except ValueError:
        return None
    number = int(value)
    # cn2an reads some ill-formed spellings leniently (一亿十万 as 一亿): only its own spelling is trusted.
    if number != value or _canonical(cn2an.an2cn(number)) != _canonical(spelled):
        return None
    return number


def cn_decimal(text: str) -> str | None:
    """A Chinese numeral in Arabic digits: 十三 → "13", 七点七 → "7.7"; None if it is not a well-formed number."""
    whole, _, frac = text.partition("点")
    value = cn_integer(whole)
    if value is None:
        return None
    if not frac:
        return str(value)
    if any(ch not in CN_DIGITS or ch == "两" for ch in frac):
        return None
    return f"{value}." + "".join(str(CN_DIGITS[ch]) for ch in frac)


SCALE_WORDS: dict[str, int] = {
    "万亿": 10**12, "千亿": 10**11, "百亿": 10**10, "亿": 10**8, "千万": 10**7, "百万": 10**6, "万": 10**4,
}  # fmt: skip
"""Chinese words that scale the number before them (1740.31亿 = 174031000000); 万亿 before 万."""

# --------------------------------------------------------------------------------- figures with units

_UNITS = ["万亿元", "万亿美元", "万亿", "亿千瓦时", "万千瓦时", "亿吨", "亿人次", "万辆", "万套", "万家", "万个", "个百分点", "万平方米", "平方公里", "平方米", "亿美元", "万美元", "亿元", "万元", "千元", "元", "亿手", "万手", "万人次", "人次", "万人", "万户", "万亩", "万吨", "万千瓦", "千瓦时", "千瓦", "公顷", "公里", "千米", "标准箱", "亿", "万", "%", "‰", "倍", "人", "名", "条", "项", "个", "所", "张", "家", "栋", "幢", "户", "套", "台", "辆", "座", "处", "次", "场", "件", "宗", "亩", "吨", "天", "岁", "间", "批", "只", "部", "棵", "株", "米", "手", "支", "份", "级", "类", "元/月"]
_UNIT_RE = "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))
_GROUPED_DIGITS = r"\d{1,3}(?:,\d{3})+"
"""An integer written in comma-separated digit groups ("22,338,618", "16,000")."""
_NUM = rf"(?:{_GROUPED_DIGITS}(?![\d,])|\d+)(?:\.\d+)?"
"""A number, digit groups written with commas included."""
_RANGE_SEP = r"(?:-|~|～|—|至|到)"
FIGURE = re.compile(
    rf"(?P<pre>约|近|超过|突破|达到|达)?(?P<num>{_NUM}(?:\s*(?:%|‰))?(?:\s*{_RANGE_SEP}\s*{_NUM})?)"
    rf"(?:(?P<mid>多|余)(?=\s*(?:{_UNIT_RE})))?\s*(?P<unit>{_UNIT_RE})?"
    r"(?P<post>左右|以上|以内|以下|多|余|强)?"
)
def is_unit(text: str) -> bool:
    """Whether the text is exactly one of the figure units or measure words."""
    return text in _UNIT_SET


_UNIT_SET = frozenset(_UNITS)
PERCENT_UNITS = frozenset({"%", "‰", "个百分点"})
MONEY_UNITS = frozenset({"万亿元", "万亿美元", "亿美元", "万美元", "亿元", "万元", "千元", "元", "元/月"})
COUNT_UNITS = frozenset(_UNITS) - PERCENT_UNITS - MONEY_UNITS - {"亿", "万", "万亿"}
_UNIT_PREFIX_SCALES = (*SCALE_WORDS.items(), ("千", 10**3))


@dataclass(frozen=True)
class Figure:
    """A number with its unit and qualifier, located in a text."""

    text: str
    start: int
    end: int
    value: float
    unit: str
    qualifier: str

    @property
    def range(self) -> tuple[float, float] | None:
        """(low, high) of a written range ("6.5-7%" → (6.5, 7.0)); None for a single number."""
        parts = [p for p in re.split(rf"\s*{_RANGE_SEP}\s*", self.text) if p]
        if len(parts) < 2:
            return None
        try:
            return float(re.sub(r"[^\d.]", "", parts[0])), float(re.sub(r"[^\d.]", "", parts[1].split("%")[0]))
        except ValueError:
            return None

    @property
    def scaled_value(self) -> float:
        """The value in base units, for comparing figures written with different units (1.2万元 > 9000元)."""
        for prefix, factor in _UNIT_PREFIX_SCALES:
            if self.unit.startswith(prefix):
                return self.value * factor
        return self.value

    @property
    def upper_scaled_value(self) -> float:
        """The top of a range (or the single value) in base units: what comparisons of targets use."""
        top = self.range[1] if self.range else self.value
        return self.scaled_value * (top / self.value) if self.value else top

    @property
    def is_year(self) -> bool:
        """A bare four-digit year (2018) rather than a quantity."""
        return not self.unit and 1900 <= self.value <= 2100 and "." not in self.text


def find_figures(text: str) -> list[Figure]:
    """All figures in a text, left to right; the unit is glued to the number ("7.7%左右", "800万元")."""
    out: list[Figure] = []
    for m in FIGURE.finditer(text):
        num = m.group("num")
        unit = m.group("unit") or ""
        if not unit:
            unit = "%" if "%" in num else ("‰" if "‰" in num else "")
        # A year followed by 年 is not a count ("2018年"), nor is a month/day.
        after = text[m.end() : m.end() + 1]
        if not unit and after in ("年", "月", "日"):
            continue
        start = m.start("num")
        end = m.end()
        try:
            value = float(re.split(r"[-~～—至到]", num.replace("%", "").replace("‰", "").replace(",", ""))[0].strip())
        except ValueError:
            continue
        out.append(Figure(text[start:end], start, end, value, unit.strip(), m.group("mid") or m.group("post") or ""))
    return out


_ASKED_UNIT = re.compile(rf"(?:多少|几)(?P<unit>{_UNIT_RE})")


def asked_unit(question: str) -> str | None:
    """The unit a quantity question names ("多少栋" → 栋, "增长几个百分点" → 个百分点), if any."""
    m = _ASKED_UNIT.search(question)
    return m.group("unit") if m else None


def units_fit(asked: str, unit: str) -> bool:
    """Whether a figure in `unit` answers a question asking in `asked`: the same unit, one a scaled form
    of the other (万人 / 人, 万平方米 / 平方米), or both money or both percentages."""
    if not unit:
        return False
    if asked == unit or unit.endswith(asked) or asked.endswith(unit):
        return True
    return any(asked in family and unit in family for family in (MONEY_UNITS, PERCENT_UNITS))


# ------------------------------------------------------------------ number mentions (for verification)

NumberKind = Literal["plain", "percent", "permille"]


@dataclass(frozen=True)
class NumberMention:
    """A number as written in text, with its value after unit scaling (1740.31亿 → 174031000000)."""

    text: str
    value: Decimal
    kind: NumberKind
    mantissa: Decimal
    """The digits as written, before scaling (1740.31 in "1740.31亿")."""
    scale: Decimal
    start: int
    end: int

    @property
    def decimals(self) -> int:
        """Decimal places written in the mantissa."""
        exponent = self.mantissa.as_tuple().exponent
        return -exponent if isinstance(exponent, int) and exponent < 0 else 0


_FULLWIDTH = str.maketrans("０１２３４５６７８９．％，", "0123456789.%,")

# Longest alternatives first; English units need a word boundary after them.
_MENTION_UNITS: tuple[tuple[str, Decimal, NumberKind], ...] = (
    ("percentage points", Decimal(1), "percent"),
    ("percentage point", Decimal(1), "percent"),
    ("个百分点", Decimal(1), "percent"),
    ("百分点", Decimal(1), "percent"),
    ("per cent", Decimal(1), "percent"),
    ("percent", Decimal(1), "percent"),
    ("pct", Decimal(1), "percent"),
    ("%", Decimal(1), "percent"),
    ("‰", Decimal(1), "permille"),
    ("hundred million", Decimal(10) ** 8, "plain"),
    ("ten thousand", Decimal(10) ** 4, "plain"),
    ("trillion", Decimal(10) ** 12, "plain"),
    ("billion", Decimal(10) ** 9, "plain"),
    ("million", Decimal(10) ** 6, "plain"),
    ("thousand", Decimal(10) ** 3, "plain"),
    ("bn", Decimal(10) ** 9, "plain"),
    ("mn", Decimal(10) ** 6, "plain"),
    *((word, Decimal(scale), "plain") for word, scale in SCALE_WORDS.items()),
)
_MENTION_UNIT_LOOKUP = {name: (scale, kind) for name, scale, kind in _MENTION_UNITS}
_MENTION_UNIT_PATTERN = "|".join(
    re.escape(name) + (r"(?![A-Za-z])" if name[0].isascii() and name[0].isalpha() else "")
    for name, _, _ in _MENTION_UNITS
)
_ARABIC_RE = re.compile(
    rf"(?<![\d.])(?P<num>{_GROUPED_DIGITS}(?![\d])|\d+)(?P<frac>\.\d+)?(?:\s?(?P<unit>"
    + _MENTION_UNIT_PATTERN
    + r"))?",
    re.IGNORECASE,
)
_CN_RE = re.compile(
    r"(?P<prefix>百分之|千分之)?(?P<int>[零〇一二两三四五六七八九十百千万亿]+)"
    r"(?:点(?P<frac>[零〇一二三四五六七八九]+))?(?P<suffix>个百分点)?"
)
_LIST_MARKER_RE = re.compile(r"^(\s*)\d{1,2}([.)、]\s)", re.MULTILINE)


def _cn_mentions(text: str) -> Iterator[NumberMention]:
    for match in _CN_RE.finditer(text):
        integer, frac = match.group("int"), match.group("frac")
        prefix, suffix = match.group("prefix"), match.group("suffix")
        # A lone numeral character (一般, 统一, 两会, 十分) is a word, not a number, unless a % form or 点 anchors it.
        if len(integer) == 1 and not (prefix or suffix or frac):
            continue
        value = cn_integer(integer)
        if value is None:
            value = plan_ordinal(integer)
        if value is None:
            continue
        mantissa = Decimal(value)
        if frac:
            mantissa = Decimal(f"{value}." + "".join(str(CN_DIGITS[ch]) for ch in frac))
        kind: NumberKind = "permille" if prefix == "千分之" else "percent" if prefix or suffix else "plain"
        yield NumberMention(match.group(0), mantissa, kind, mantissa, Decimal(1), match.start(), match.end())


def extract_numbers(text: str) -> tuple[NumberMention, ...]:
    """Every number in text: Arabic (decimals, thousands commas, %, ‰, 亿/万, billion/million) and Chinese numerals.

    List markers at line starts ("1. ", "2) ") are not numbers.
    """
    norm = _LIST_MARKER_RE.sub(lambda m: m.group(1) + " " * (len(m.group(0)) - len(m.group(1))), text)
    norm = norm.translate(_FULLWIDTH)
    mentions: list[NumberMention] = []
    for match in _ARABIC_RE.finditer(norm):
        digits = match.group("num").replace(",", "") + (match.group("frac") or "")
        try:
            mantissa = Decimal(digits)
        except InvalidOperation:
            continue
        unit = match.group("unit")
        scale, kind = _MENTION_UNIT_LOOKUP[unit.lower()] if unit else (Decimal(1), "plain")
        mentions.append(
            NumberMention(match.group(0), mantissa * scale, kind, mantissa, scale, match.start(), match.end())
        )
    mentions.extend(_cn_mentions(norm))
    return tuple(sorted(mentions, key=lambda m: m.start))
