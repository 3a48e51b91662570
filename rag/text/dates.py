"""Years and dates as reports and questions write them: 2018年, 二〇一八年, '25, 2018年2月7日."""

from __future__ import annotations

import datetime as dt
import re

from rag.text.numbers import CN_DIGITS

YEAR = r"(?:19|20)\d{2}"
"""Regular-expression fragment of a four-digit year, for patterns built around one."""

QUESTION_YEAR = re.compile(r"(?<![\d.])(19[4-9]\d|20[0-4]\d)(?![\d.%])")
"""A year a question asks about (1940–2049), not part of a decimal or a percentage."""

YEAR_TOKEN = re.compile(r"(?<!\d)(19[4-9]\d|20[0-4]\d)(?!\d)")
"""Any 1940–2049 year standing alone among digits (what a follow-up question replaces)."""

WRITTEN_YEAR = re.compile(rf"(?<!\d)({YEAR})(?=年)")
"""A year written with 年, as report sentences date their figures."""

DATE = re.compile(
    rf"{YEAR}年\d{{1,2}}月(?:\d{{1,2}}日)?|{YEAR}\d{{1,2}}(?:\d{{1,2}})?日|\d{{1,2}}月\d{{1,2}}日|{YEAR}-\d{{2}}-\d{{2}}"
)
"""A calendar date (2018年2月7日, 3月15日, 2020-05-01, and the fused 201827日 of some web copies)."""

# "25年" / "'25" as people type years; not durations ("近10年", "10年来", "十年") or decades ("90年代").
_SHORT_YEAR_ZH = re.compile(r"(?<![\d.第近前后过去这多几每了满约])(\d{2})(?=年(?!代|来|以来|间|内|多|前|后|左右))")
_SHORT_YEAR_EN = re.compile(r"(?<![\w.])['’](\d{2})(?![\d%])")
_CN_YEAR = re.compile(r"[〇零一二三四五六七八九]{4}(?=年)")
_CN_DIGIT_TABLE = str.maketrans({ch: str(value) for ch, value in CN_DIGITS.items()})


def expand_short_years(text: str) -> str:
    """Write two-digit years out in full: "江西25年" → "江西2025年", "in '98" → "in 1998" (00–49 → 20xx)."""

    def full(m: re.Match[str]) -> str:
        yy = int(m.group(1))
        return str(2000 + yy if yy < 50 else 1900 + yy)

    return _SHORT_YEAR_EN.sub(full, _SHORT_YEAR_ZH.sub(full, text))


def fold_cn_years(text: str) -> str:
    """Chinese-numeral years in Arabic digits: "二〇一八年" → "2018年" (same length, so offsets hold)."""
    return _CN_YEAR.sub(lambda m: m.group().translate(_CN_DIGIT_TABLE), text)


def question_years(text: str) -> list[int]:
    """The years a question names, in order of appearance (repeats kept)."""
    return [int(y) for y in QUESTION_YEAR.findall(text)]


def iso_date(year: int, month: int, day: int) -> str | None:
    """YYYY-MM-DD, or None when there is no such day."""
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return None
