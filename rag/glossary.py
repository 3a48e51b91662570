"""Report vocabulary and place names as data: English phrases ↔ Chinese report terms, regions and aliases."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from rag.types import DocumentMeta

_SUFFIXES = ("特别行政区", "维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "自治州", "新区", "省", "市", "区", "县", "旗", "州")


@dataclass(frozen=True)
class GlossaryEntry:
    """One concept: English phrasings and the Chinese terms reports use for it."""

    en: tuple[str, ...]
    zh: tuple[str, ...]
    kind: str
    """metric (a quantity reports give figures for) | term | unit."""


@dataclass(frozen=True)
class Region:
    """A place with the names a question may use for it."""

    name: str
    zh: tuple[str, ...]
    en: tuple[str, ...]
    parent: str | None = None


def _load_json(name: str) -> Any:
    return json.loads(resources.files("rag").joinpath("data", name).read_text(encoding="utf-8"))


@cache
def glossary_entries() -> tuple[GlossaryEntry, ...]:
    """The packaged glossary (rag/data/glossary.json)."""
    raw = _load_json("glossary.json")
    return tuple(GlossaryEntry(tuple(e["en"]), tuple(e["zh"]), e["kind"]) for e in raw["entries"])


@cache
def intent_words() -> dict[str, dict[str, tuple[str, ...]]]:
    """Cue words for target vs achieved questions, by language."""
    raw = _load_json("glossary.json")["intent"]
    return {k: {lang: tuple(v) for lang, v in langs.items()} for k, langs in raw.items()}


@cache
def static_regions() -> tuple[Region, ...]:
    """The nation and the provinces with their English names."""
    raw = _load_json("regions.json")
    nat = raw["national"]
    out = [Region(nat["name"], tuple(nat["zh"]), tuple(nat["en"]))]
    for p in raw["provinces"]:
        out.append(Region(p["name"], (p["name"], p["short"]), tuple(p["en"])))
    return tuple(out)


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
        if len(specific) > 1 and "全国" in specific:
            specific.remove("全国")
        return tuple(specific)

    def parent_of(self, name: str) -> str | None:
        """The parent region of a region, when known."""
        return self._parents.get(name)

    def words(self) -> list[str]:
        """Chinese region names and stems, for the tokenizer's dictionary."""
        return sorted({z for r in self.regions for z in r.zh if len(z) >= 2})


def domain_words() -> list[str]:
    """Chinese report vocabulary, for the tokenizer's dictionary."""
    return sorted({z for e in glossary_entries() for z in e.zh if len(z) >= 2 and re.search(r"[\u4e00-\u9fff]", z)})


_EN_SUFFIX = {"区": "District", "县": "County", "市": "", "省": "Province", "自治区": "", "特别行政区": ""}


def english_region_name(name: str | None) -> str:
    """海珠区 → Haizhu District, 广东省 → Guangdong Province, 全国 → China (national)."""
    if not name:
        return "the anonymised district"
    for r in static_regions():
        if r.name == name:
            if name == "全国":
                return "China (national)"
            return r.en[0].title()
    stem = region_stem(name)
    suffix = next((v for k, v in _EN_SUFFIX.items() if name.endswith(k) and name != stem), "")
    return f"{pinyin_name(stem).title()} {suffix}".strip()
