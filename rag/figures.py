"""Finding figures (number + unit + qualifier), dates and clauses in report sentences."""

from __future__ import annotations

import re
from dataclasses import dataclass

_UNITS = ["万亿元", "万亿美元", "万亿", "亿千瓦时", "万千瓦时", "亿吨", "亿人次", "万辆", "万套", "万家", "万个", "个百分点", "万平方米", "平方公里", "平方米", "亿美元", "万美元", "亿元", "万元", "千元", "元", "亿手", "万手", "万人次", "人次", "万人", "万户", "万亩", "万吨", "万千瓦", "千瓦时", "千瓦", "公顷", "公里", "千米", "标准箱", "亿", "万", "%", "‰", "倍", "人", "名", "条", "项", "个", "所", "张", "家", "栋", "幢", "户", "套", "台", "辆", "座", "处", "次", "场", "件", "宗", "亩", "吨", "天", "岁", "间", "批", "只", "部", "棵", "株", "米", "手", "支", "份", "级", "类", "元/月"]
_UNIT_RE = "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))
_NUM = r"\d+(?:\.\d+)?"
FIGURE = re.compile(
    rf"(?P<pre>约|近|超过|突破|达到|达)?(?P<num>{_NUM}(?:\s*(?:%|‰))?(?:\s*(?:-|~|～|—|至|到)\s*{_NUM})?)"
    rf"(?:(?P<mid>多|余)(?=\s*(?:{_UNIT_RE})))?\s*(?P<unit>{_UNIT_RE})?"
    r"(?P<post>左右|以上|以内|以下|多|余|强)?"
)
CLAUSE_SPLIT = re.compile(r"[,，;；。:：!！?？]")
DATE = re.compile(
    r"(?:19|20)\d{2}年\d{1,2}月(?:\d{1,2}日)?|(?:19|20)\d{2}\d{1,2}(?:\d{1,2})?日|\d{1,2}月\d{1,2}日|(?:19|20)\d{2}-\d{2}-\d{2}"
)
PERCENT_UNITS = frozenset({"%", "‰", "个百分点"})
MONEY_UNITS = frozenset({"万亿元", "万亿美元", "亿美元", "万美元", "亿元", "万元", "千元", "元", "元/月"})
COUNT_UNITS = frozenset(_UNITS) - PERCENT_UNITS - MONEY_UNITS - {"亿", "万", "万亿"}


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
        parts = [p for p in re.split(r"\s*(?:-|~|～|—|至|到)\s*", self.text) if p]
        if len(parts) < 2:
            return None
        try:
            return float(re.sub(r"[^\d.]", "", parts[0])), float(re.sub(r"[^\d.]", "", parts[1].split("%")[0]))
        except ValueError:
            return None

    @property
    def scaled_value(self) -> float:
        """The value in base units, for comparing figures written with different units (1.2万元 > 9000元)."""
        unit = self.unit
        for prefix, factor in (("万亿", 1e12), ("亿", 1e8), ("万", 1e4), ("千", 1e3)):
            if unit.startswith(prefix):
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
            value = float(re.split(r"[-~～—至到]", num.replace("%", "").replace("‰", ""))[0].strip())
        except ValueError:
            continue
        out.append(Figure(text[start:end], start, end, value, unit.strip(), m.group("mid") or m.group("post") or ""))
    return out


def clauses(text: str) -> list[tuple[int, int]]:
    """(start, end) of comma/semicolon-separated clauses."""
    spans = []
    pos = 0
    for m in CLAUSE_SPLIT.finditer(text):
        if m.start() > pos:
            spans.append((pos, m.start()))
        pos = m.end()
    if pos < len(text):
        spans.append((pos, len(text)))
    return spans
