"""Work out whose report a text is and which years it reviews and plans, from the text's own evidence."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rag.knowledge.regions import ADMIN_UNIT, NATIONAL_REGION, canonical_region, provinces, region_level
from rag.text.dates import YEAR, fold_cn_years, iso_date
from rag.types import DocumentMeta

EVENT_YEARS: dict[str, int] = {
    "北京奥运会": 2008, "上海世博会": 2010, "广州亚运会": 2010, "深圳大运会": 2011,
    "南京青奥会": 2014, "杭州G20峰会": 2016, "北京冬奥会": 2022, "杭州亚运会": 2023,
}  # fmt: skip
"""Well-known events that date a text when nothing better does."""

_ANNIVERSARY_BASES: tuple[tuple[str, int], ...] = (
    (r"改革开放", 1978),
    (r"(?:新中国|中华人民共和国)成立", 1949),
    (r"(?:建党|中国共产党成立)", 1921),
    (r"抗日战争(?:暨世界反法西斯战争)?胜利", 1945),
    (r"辛亥革命", 1911),
    (r"香港回归(?:祖国)?", 1997),
    (r"澳门回归(?:祖国)?", 1999),
)

_HEAD_CHARS = 3000
_ORDINAL = (
    r"(?:[一二三四五六七八九十]+、|[（(][一二三四五六七八九十]+[)）]|第[一二三四五六七八九十]+部分)?\s*"
)
_YEAR_HEADING = re.compile(rf"^{_ORDINAL}(?:首先报告|对|关于)?(?P<y>{YEAR})\s*年")
_NOT_PLAN = re.compile(r"完成情况|总结|规划|纲要|远景")
_DATE_IN_LINE = re.compile(r"\d{4}\s*年\s*\d{1,2}\s*月")
_RELATIVE_REVIEW = re.compile(
    rf"^{_ORDINAL}(?:关于)?(?:过去|去年|一年来)(?:的?一年|五年)?(?:和五年)?的?(?:政府)?工作(?:的)?(?:回顾|$)"
)
_PLAN_PROSE = re.compile(rf"报告(?:中)?提出的[^。\n]{{0,30}}?(?P<y>{YEAR})年")
_REVIEW_MARKERS = re.compile(r"过去(?:的)?一年|一年来|工作回顾|回顾过去")
_DATE = rf"(?P<y>{YEAR})\s*年\s*(?P<m>\d{{1,2}})\s*月\s*(?P<d>\d{{1,2}})\s*日"
_WHERE = r"[^\n]{0,30}?在(?P<where>[^\n]{0,40}?)第[一二三四五六七八九十百\d]+\s*届"
_DELIVERY = re.compile(rf"(?:^|——|—|-{{2,}})\s*{_DATE}{_WHERE}", re.M)
_FUSED_DELIVERY = re.compile(rf"(?:^|——|—|-{{2,}})\s*(?P<y>{YEAR})(?P<md>\d{{2,4}})日{_WHERE}", re.M)
_ADOPTED = re.compile(rf"[（(]{_DATE}[^\n]{{0,40}}?(?:人民代表大会|会议)[^\n]{{0,20}}?通过[)）]")
_NATIONAL = re.compile(r"国务院|中华人民共和国|全国人民代表大会")
_TITLE_WORDS = re.compile(r"政府工作报告|工作报告|工作意见|工作总结|工作计划|工作要点|报告")
_TITLE_TAIL = re.compile(
    r"(?:人民政府|政府)?(?:工作报告|工作意见|工作总结|工作计划|工作要点|报告).*$|人民政府.*$|政府.*$"
)
_PLACEHOLDER_REGION = re.compile(r"(?<![A-Za-z])(?:[xX]{2}|[*＊×○]{2})(?P<suffix>自治区|省|市|区|县|镇|街道)")
_PLACEHOLDER_YEAR = re.compile(r"(?<![A-Za-z0-9])[xX]{2}\s*年")
_SELF_LEVEL = re.compile(r"(?:我|全)(?P<u>省|市|区|县)")
_SELF_NAME = re.compile(
    r"(?:推动|建设|打造|促进|发展|服务|为|让|把)(?P<stem>[\u4e00-\u9fff]{2})(?:经济社会|现代化|人民|高质量发展)"
)
_GENERIC_STEMS = {"我区", "全区", "我市", "全市", "我县", "全县", "我省", "全省", "城区", "区域", "城市", "社会",
                  "经济", "全面", "地区", "农村", "城乡", "国家", "全国", "中国", "广大", "人民", "现代", "产业"}  # fmt: skip
_PUBLISHED_LABELS = ("发布日期", "发布时间", "发布", "公开日期", "更新时间", "时间", "日期", "成文日期")
_ANY_DATE = re.compile(rf"(?P<y>{YEAR})\s*(?:[-/.年])\s*(?P<m>\d{{1,2}})\s*(?:[-/.月])\s*(?P<d>\d{{1,2}})")


@dataclass(frozen=True)
class _Region:
    name: str | None = None
    level: str | None = None
    parent: str | None = None


def extract_metadata(
    text: str,
    *,
    title_hint: str | None = None,
    furniture: Sequence[str] = (),
    source_meta: Mapping[str, object] | None = None,
) -> DocumentMeta:
    """Title, region, level, report/review/plan years and dates of a cleaned report.

    Args:
        text: cleaned report text.
        title_hint: a title from outside the text (JSONL `title`, HTML <title>); preferred when given.
        furniture: lines clean_text removed; only used for the (low-trust) publication date.
        source_meta: a JSONL record's `meta` (year, region, level, …): strong hints, carried as source_meta.
    """
    src = dict(source_meta or {})
    head = _head(text)
    title = (title_hint or "").strip() or _find_title(head) or _furniture_title(furniture)
    anonymised = (
        len(_PLACEHOLDER_REGION.findall(head + title)) + len(_PLACEHOLDER_YEAR.findall(head + title)) >= 2
    )
    region = _region(text, head, title, src, anonymised)
    delivered, delivered_year = _delivery(head)
    meta_year = _as_year(src.get("year"))
    title_year = _title_year(title)
    review, plan = _headings(text, meta_year or title_year)
    plan_year = (
        plan or _plan_from_delivery(delivered, delivered_year) or (max(review) + 1 if review else None)
    )
    year = meta_year or title_year or delivered_year or plan_year
    if year is None:
        year = plan_year = _clue_year(text)
    if plan_year is None:
        plan_year = year
    if not review and plan_year is not None:
        review = _relative_review(text, plan_year)
    extra = {k: str(v) for k, v in src.items() if v is not None and str(v) != ""}
    if region.parent:
        extra["parent_region"] = region.parent
    return DocumentMeta(
        title=title,
        region=region.name,
        level=str(src["level"]) if src.get("level") else region.level,
        year=year,
        review_years=review,
        plan_year=plan_year,
        delivered=delivered,
        published=_published(furniture),
        anonymised=anonymised,
        source_meta=tuple(sorted(extra.items())),
    )


def _head(text: str) -> str:
    return fold_cn_years(text[:_HEAD_CHARS])


def _find_title(head: str) -> str:
    lines = [line.strip() for line in head.split("\n") if line.strip()][:12]
    for line in lines:
        if len(line) <= 50 and _TITLE_WORDS.search(line) and not line.startswith(("——", "-")):
            return line
    return next((line for line in lines if len(line) <= 50), "")


def _furniture_title(furniture: Sequence[str]) -> str:
    for line in furniture:
        m = re.match(r"^(?:信息)?名\s*称\s*[:：]\s*(?P<t>\S+)", line)
        if m:
            return m.group("t")
    return ""


def _as_year(value: object) -> int | None:
    if isinstance(value, int) and 1900 < value < 2100:
        return value
    if isinstance(value, str) and re.fullmatch(YEAR, value.strip()):
        return int(value)
    return None


def _title_year(title: str) -> int | None:
    m = re.search(rf"({YEAR})\s*年", fold_cn_years(title))
    return int(m.group(1)) if m else None


# --- region ----------------------------------------------------------------------------------------


def _region(text: str, head: str, title: str, src: Mapping[str, object], anonymised: bool) -> _Region:
    if src.get("region"):
        name = canonical_region(str(src["region"]))
        return _Region(name, region_level(name))
    if src.get("level") == "national" or _NATIONAL.search(title):
        return _Region(NATIONAL_REGION, "national")
    delivery = _DELIVERY.search(head) or _FUSED_DELIVERY.search(head)
    if (
        delivery
        and not delivery.group("where").strip()
        and "全国" in head[delivery.end() : delivery.end() + 20]
    ):
        return _Region(NATIONAL_REGION, "national")
    candidates = [_title_place(title)]
    if delivery:
        candidates.append(delivery.group("where"))
    candidates += [m.group(1) for m in re.finditer(r"代表(.{1,15}?)人民政府", head)]
    parsed = [r for r in map(_parse_units, candidates) if r.name]
    if parsed:
        first = parsed[0]
        parent = next((r.parent for r in parsed if r.name == first.name and r.parent), None)
        return _Region(first.name, first.level, parent)
    if re.search(r"我代表国务院", head):
        return _Region(NATIONAL_REGION, "national")
    if anonymised:
        m = _PLACEHOLDER_REGION.search(head + title)
        return _Region(None, region_level("某" + m.group("suffix")) if m else None)
    return _self_named(text)


def _title_place(title: str) -> str:
    place = re.sub(rf"{YEAR}\s*年度?|[xX]{{2}}\s*年度?", "", fold_cn_years(title))
    return _TITLE_TAIL.sub("", place).strip(" -—_|·:：")


def _parse_units(candidate: str) -> _Region:
    """Admin units of a place string: 广州市海珠区 → 海珠区 (parent 广州市); 宁夏 → 宁夏回族自治区; else empty."""
    candidate = re.sub(r"\s+", "", candidate)
    if candidate in provinces() or candidate in provinces().values():
        name = canonical_region(candidate)
        return _Region(name, region_level(name))
    units: list[str] = []
    pos = 0
    while pos < len(candidate):
        m = ADMIN_UNIT.match(candidate, pos)
        if not m or len(m.group()) < 2:
            break
        units.append(m.group())
        pos = m.end()
    if not units or pos != len(candidate):
        return _Region()
    name = canonical_region(units[-1])
    parent = canonical_region(units[-2]) if len(units) > 1 else None
    return _Region(name, region_level(name), parent)


def _self_named(text: str) -> _Region:
    """Reports that never spell out "X区": the self-level (我区/全区) plus a stem used as a name ("建设海珠现代化…")."""
    levels = Counter(m.group("u") for m in _SELF_LEVEL.finditer(text))
    if not levels:
        return _Region()
    unit = levels.most_common(1)[0][0]
    stems = Counter(
        m.group("stem") for m in _SELF_NAME.finditer(text) if m.group("stem") not in _GENERIC_STEMS
    )
    for stem, n in stems.most_common():
        if n >= 2:
            name = canonical_region(stem + unit)
            return _Region(name, region_level(name))
    return _Region()


# --- dates and years ---------------------------------------------------------------------------------


def _delivery(head: str) -> tuple[str | None, int | None]:
    """ISO date and year of the "——2018年2月7日在…人民代表大会…" line (fused "——201827日在" if unambiguous)."""
    m = _DELIVERY.search(head)
    if m:
        iso = iso_date(int(m.group("y")), int(m.group("m")), int(m.group("d")))
        return iso, int(m.group("y"))
    fused = _FUSED_DELIVERY.search(head)
    if fused:
        year, md = int(fused.group("y")), fused.group("md")
        dates = {d for i in range(1, len(md)) if (d := iso_date(year, int(md[:i]), int(md[i:]))) and md[i] != "0"}
        return (dates.pop() if len(dates) == 1 else None), year
    adopted = _ADOPTED.search(head)
    if adopted:
        return None, int(adopted.group("y"))
    return None, None


def _plan_from_delivery(delivered: str | None, delivered_year: int | None) -> int | None:
    """Delivered early in year N plans N; a year-end report (October on) plans N+1."""
    if delivered:
        date = dt.date.fromisoformat(delivered)
        return date.year + 1 if date.month >= 10 else date.year
    return delivered_year


def _headings(text: str, base_year: int | None) -> tuple[tuple[int, ...], int | None]:
    """Review years and plan year from section headings ("一、2017年工作回顾", "二、2018年工作安排")."""
    reviews: list[tuple[int, int]] = []
    plans: list[tuple[int, int]] = []
    for n, raw in enumerate(fold_cn_years(text).split("\n")):
        line = raw.strip()
        if not line or len(line) > 40 or line[-1] in "。；;，,":
            continue
        if ("报告" in line and not line.startswith("首先报告")) or _DATE_IN_LINE.search(line):
            continue  # a title or a delivery line, not a section heading
        m = _YEAR_HEADING.match(line)
        if not m:
            continue
        year = int(m.group("y"))
        if "回顾" in line or line.startswith("首先报告"):
            reviews.append((n, year))
            both = re.search(rf"回顾和(?P<y>{YEAR})\s*年", line)
            if both:
                plans.append((n, int(both.group("y"))))
        elif not _NOT_PLAN.search(line):
            plans.append((n, year))
    first_review = reviews[0][0] if reviews else -1
    plan = next((y for n, y in plans if n >= first_review and (base_year is None or y >= base_year)), None)
    if plan is None:
        prose = _PLAN_PROSE.search(text)
        plan = int(prose.group("y")) if prose else None
    return tuple(sorted({y for _, y in reviews})), plan


def _relative_review(text: str, plan_year: int) -> tuple[int, ...]:
    """Reviews introduced as "过去一年/过去五年…工作回顾", or a review section without a year in its heading."""
    for raw in text.split("\n"):
        m = _RELATIVE_REVIEW.match(raw.strip())
        if m:
            span = 5 if "五年" in raw and "一年" not in raw else 1
            return tuple(range(plan_year - span, plan_year))
    return (plan_year - 1,) if _REVIEW_MARKERS.search(text) else ()


def _clue_year(text: str) -> int | None:
    """Date a plan-only text by events it prepares for (第29届奥运会 → 2008) or anniversaries (改革开放40周年)."""
    clues: Counter[int] = Counter()
    for m in re.finditer(r"第(\d{1,2})届(?:夏季)?(?:奥运会|奥林匹克运动会)", text):
        clues[1896 + 4 * (int(m.group(1)) - 1)] += 1
    for event, year in EVENT_YEARS.items():
        clues[year] += text.count(event)
    for pattern, base in _ANNIVERSARY_BASES:
        for m in re.finditer(rf"{pattern}(\d{{1,3}})周年", text):
            clues[base + int(m.group(1))] += 1
    clues = +clues
    plan_only = "今年" in text and not _REVIEW_MARKERS.search(text)
    if not clues or not plan_only:
        return None
    return clues.most_common(1)[0][0]


def _published(furniture: Sequence[str]) -> str | None:
    """Publication date from page furniture (发布日期 / 公开日期 / "2021-04-10 发布"); low trust."""
    best: tuple[int, str] | None = None
    for line in furniture:
        date = _ANY_DATE.search(line)
        if not date:
            continue
        iso = iso_date(int(date.group("y")), int(date.group("m")), int(date.group("d")))
        if iso is None:
            continue
        rank = next((i for i, label in enumerate(_PUBLISHED_LABELS) if label in line), len(_PUBLISHED_LABELS))
        if best is None or rank < best[0]:
            best = (rank, iso)
    return best[1] if best else None
