"""The one catalogue of regions: the nation, the provinces, the places of the indexed reports and their names.

Canonical names (宁夏 → 宁夏回族自治区), levels, stems (海珠区 → 海珠), pinyin and English names, and which places a
question names, all come from here and from rag/data/regions.json.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from rag.knowledge import load_data
from rag.types import DocumentMeta

NATIONAL_REGION = "全国"

_SUFFIXES = ("特别行政区", "维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "自治州", "新区", "省", "市", "区", "县", "旗", "州")
_EN_SUFFIX = {"区": "District", "县": "County", "市": "", "省": "Province", "自治区": "", "特别行政区": ""}

ADMIN_UNIT = re.compile(
    r"[\u4e00-\u9fff]+?(?:特别行政区|自治区|自治州|自治县|自治旗|省|市|地区|盟|区|县|旗|州(?![市区县]))"
)
"""One administrative unit of a place string (广州市海珠区 is 广州市 then 海珠区)."""


@dataclass(frozen=True)
class Region:
    """A place with the names a question may use for it."""

    name: str
    zh: tuple[str, ...]
    en: tuple[str, ...]
    parent: str | None = None


@cache
def static_regions() -> tuple[Region, ...]:
    """The nation and the provinces with their English names (rag/data/regions.json)."""
    raw = load_data("regions.json")
    nat = raw["national"]
    out = [Region(nat["name"], tuple(nat["zh"]), tuple(nat["en"]))]
    for p in raw["provinces"]:
        out.append(Region(p["name"], (p["name"], p["short"]), tuple(p["en"])))
    return tuple(out)


@cache
def provinces() -> dict[str, str]:
    """Short name → canonical name of every provincial-level division (北京 → 北京市, 宁夏 → 宁夏回族自治区)."""
    return {p["short"]: p["name"] for p in load_data("regions.json")["provinces"]}


def canonical_region(name: str) -> str:
    """Canonical name of a region: provinces get their full name (宁夏 → 宁夏回族自治区); others unchanged."""
    name = name.strip()
    for short, full in provinces().items():
        if name in (short, full) or (
            full.endswith("自治区") and name.startswith(short) and name.endswith("自治区")
        ):
            return full
    return name


def region_level(name: str) -> str | None:
    """national | provincial | city | district for a canonical region name."""
    if name == NATIONAL_REGION:
        return "national"
    if name in provinces().values():
        return "provincial"
    if name.endswith(("区", "县", "旗")):
        return "district"
    if name.endswith(("市", "州", "盟", "地区")):
        return "city"
    return None


def region_stem(name: str) -> str:
    """海珠区 → 海珠, 内蒙古自治区 → 内蒙古 (kept whole if the stem would be a single character)."""
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


def pinyin_name(zh: str) -> str:
    """Romanised place name without tones: 海珠 → haizhu, 沙河口 → shahekou."""
    from pypinyin import lazy_pinyin

    return "".join(lazy_pinyin(zh)).lower()


def english_region_name(name: str | None) -> str:
    """海珠区 → Haizhu District, 广东省 → Guangdong Province, 全国 → China (national)."""
    if not name:
        return "the anonymised district"
    for r in static_regions():
        if r.name == name:
            if name == NATIONAL_REGION:
                return "China (national)"
            return r.en[0].title()
    stem = region_stem(name)
    suffix = next((v for k, v in _EN_SUFFIX.items() if name.endswith(k) and name != stem), "")
    return f"{pinyin_name(stem).title()} {suffix}".strip()


def region_from_meta(meta: DocumentMeta) -> Region | None:
    """The region a document is about, with Chinese and pinyin aliases built from its name."""
    if not meta.region:
        return None
    for r in static_regions():
        if r.name == meta.region or meta.region in r.zh:
            return r
    stem = region_stem(meta.region)
    parent = dict(meta.source_meta).get("parent_region")
    en = (pinyin_name(stem),) if re.search(r"[\u4e00-\u9fff]", stem) else (stem.lower(),)
    return Region(meta.region, tuple(dict.fromkeys((meta.region, stem))), en, parent)


class RegionCatalog:
    """Every region a question can name: the static table plus the regions of the indexed documents."""

    def __init__(self, metas: list[DocumentMeta]) -> None:
        regions: dict[str, Region] = {r.name: r for r in static_regions()}
        for meta in metas:
            region = region_from_meta(meta)
            if region and region.name not in regions:
                regions[region.name] = region
            elif region and region.parent and regions[region.name].parent is None:
                # A later report may name the parent city an earlier one did not.
                known = regions[region.name]
                regions[region.name] = Region(known.name, known.zh, known.en, region.parent)
            if region and region.parent and region.parent not in regions:
                stem = region_stem(region.parent)
                regions[region.parent] = Region(region.parent, (region.parent, stem), (pinyin_name(stem),))
        self.regions = tuple(regions.values())
        self._parents = {r.name: r.parent for r in self.regions if r.parent}

    def find(self, text: str) -> tuple[str, ...]:
        """Regions named in a question (most specific first: a district drops its parent city)."""
        lower = text.lower()
        found: list[str] = []
        for r in self.regions:
            hit = any(z in text for z in r.zh) or any(re.search(rf"(?<![a-z]){re.escape(e)}(?![a-z])", lower) for e in r.en)
            if hit:
                found.append(r.name)
        parents = {self._parents.get(n) for n in found}
        specific = [n for n in found if n not in parents]
        if len(specific) > 1 and NATIONAL_REGION in specific:
            specific.remove(NATIONAL_REGION)
        return tuple(specific)

    def parent_of(self, name: str) -> str | None:
        """The parent region of a region, when known."""
        return self._parents.get(name)

    def words(self) -> list[str]:
        """Chinese region names and stems, for the tokenizer's dictionary."""
        return sorted({z for r in self.regions for z in r.zh if len(z) >= 2})


_ZH_PLACE = re.compile(r"^(?:[\u4e00-\u9fff]{2,3}[市省])?([\u4e00-\u9fff]{2,3}[区县市省])")
_EN_PLACE = re.compile(r"\b([A-Z][a-z]+(?: [A-Z][a-z]+)?) (District|County|City|Province)\b")


def unknown_places(text: str, catalog: RegionCatalog, known: tuple[str, ...]) -> tuple[str, ...]:
    """Places named at the start of a Chinese question, or as "X District" in English, that match no region."""
    if known:
        return ()
    out: list[str] = []
    m = _ZH_PLACE.match(text)
    # Self-references (全区, 本市) are two characters, too short for a place here.
    if m and not catalog.find(m.group(1)):
        out.append(m.group(1))
    for m in _EN_PLACE.finditer(text):
        if not catalog.find(m.group(1)):
            out.append(m.group(0))
    return tuple(out)
