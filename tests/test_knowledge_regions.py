"""rag/knowledge/regions.py: region names (canonical, level, stems, pinyin, English), the catalogue, unknown places."""

from __future__ import annotations

import pytest

from rag.knowledge.regions import (
    RegionCatalog,
    canonical_region,
    english_region_name,
    pinyin_name,
    provinces,
    region_from_meta,
    region_level,
    region_stem,
    static_regions,
    unknown_places,
)
from rag.types import DocumentMeta

HAIZHU = DocumentMeta(title="海珠区2018年政府工作报告", region="海珠区", year=2018, source_meta=(("parent_region", "广州市"),))
SHAHEKOU = DocumentMeta(title="2016年沙河口区政府工作报告", region="沙河口区", year=2016)
WUCHANG = DocumentMeta(title="2012年政府工作报告", region="武昌区", source_meta=(("parent_region", "武汉市"),))
ANONYMISED = DocumentMeta(title="区政府XX年工作总结", region=None, anonymised=True)
GUANGDONG = DocumentMeta(title="2025年广东省政府工作报告", region="广东省", level="provincial")


@pytest.fixture(scope="module")
def catalog() -> RegionCatalog:
    return RegionCatalog([HAIZHU, SHAHEKOU, WUCHANG, ANONYMISED, GUANGDONG])


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("海珠区", "海珠"),
        ("沙河口区", "沙河口"),
        ("广州市", "广州"),
        ("广东省", "广东"),
        ("内蒙古自治区", "内蒙古"),
        ("广西壮族自治区", "广西"),
        ("香港特别行政区", "香港"),
        ("浦东新区", "浦东"),
        ("和区", "和区"),  # a one-character stem is kept whole
        ("全国", "全国"),
    ],
)
def test_region_stem(name: str, stem: str) -> None:
    assert region_stem(name) == stem


def test_pinyin_name_has_no_tones_or_spaces() -> None:
    assert pinyin_name("海珠") == "haizhu"
    assert pinyin_name("沙河口") == "shahekou"
    assert pinyin_name("武昌") == "wuchang"


@pytest.mark.parametrize(
    ("name", "english"),
    [
        ("海珠区", "Haizhu District"),
        ("沙河口区", "Shahekou District"),
        ("广州市", "Guangzhou"),
        ("广东省", "Guangdong"),
        ("全国", "China (national)"),
        (None, "the anonymised district"),
        ("", "the anonymised district"),
    ],
)
def test_english_region_name(name: str | None, english: str) -> None:
    assert english_region_name(name) == english


def test_region_from_meta_builds_chinese_and_pinyin_aliases() -> None:
    region = region_from_meta(HAIZHU)
    assert region is not None
    assert region.name == "海珠区"
    assert region.zh == ("海珠区", "海珠")
    assert region.en == ("haizhu",)
    assert region.parent == "广州市"
    assert region_from_meta(ANONYMISED) is None


def test_region_from_meta_reuses_the_static_table_for_provinces() -> None:
    region = region_from_meta(GUANGDONG)
    assert region is not None and region.name == "广东省"
    assert "guangdong" in region.en


def test_static_regions_cover_the_nation_and_provinces() -> None:
    names = [r.name for r in static_regions()]
    assert names[0] == "全国"
    assert {"北京市", "广东省", "内蒙古自治区"} <= set(names)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("海珠区2018年地区生产总值增长目标是多少?", ("海珠区",)),
        ("海珠2018年的目标", ("海珠区",)),
        ("What was Haizhu's 2018 GDP target?", ("海珠区",)),
        ("what was HAIZHU district's target", ("海珠区",)),
        ("Shahekou and Wuchang", ("沙河口区", "武昌区")),
        ("广州市海珠区", ("海珠区",)),  # the district drops its parent city
        ("广州市的目标", ("广州市",)),
        ("北京市2018年的目标", ("北京市",)),
        ("全国和广东的目标", ("广东省",)),  # the nation is dropped beside a specific region
        ("haizhuang is not a place", ()),  # pinyin matches whole words only
        ("地区生产总值增长目标", ()),
    ],
)
def test_catalog_find(catalog: RegionCatalog, text: str, found: tuple[str, ...]) -> None:
    assert catalog.find(text) == found


def test_catalog_parents_and_words(catalog: RegionCatalog) -> None:
    assert catalog.parent_of("海珠区") == "广州市"
    assert catalog.parent_of("武昌区") == "武汉市"
    assert catalog.parent_of("沙河口区") is None
    words = catalog.words()
    assert {"海珠区", "海珠", "沙河口", "广州市", "武汉"} <= set(words)
    assert all(len(w) >= 2 for w in words)
    assert words == sorted(words)


def test_parent_is_kept_whichever_report_comes_first() -> None:
    catalog = RegionCatalog([DocumentMeta(title="政府年度工作意见", region="海珠区", year=2008), HAIZHU])
    assert catalog.parent_of("海珠区") == "广州市"


@pytest.mark.parametrize(
    ("name", "canonical", "level"),
    [
        ("宁夏", "宁夏回族自治区", "provincial"),
        ("广西壮族自治区", "广西壮族自治区", "provincial"),
        ("内蒙古", "内蒙古自治区", "provincial"),
        ("广东省", "广东省", "provincial"),
        ("上海市", "上海市", "provincial"),
        ("吉林市", "吉林市", "city"),
        ("海珠区", "海珠区", "district"),
    ],
)
def test_region_names(name: str, canonical: str, level: str) -> None:
    assert canonical_region(name) == canonical
    assert region_level(canonical) == level


def test_provinces_are_the_static_table() -> None:
    assert provinces()["宁夏"] == "宁夏回族自治区" and len(provinces()) == 34
    assert {r.name for r in static_regions()[1:]} == set(provinces().values())


def test_unknown_places_are_named_places_no_region_matches(catalog: RegionCatalog) -> None:
    assert unknown_places("天河区2018年GDP增长多少?", catalog, ()) == ("天河区",)
    assert unknown_places("What was Tianhe District's GDP?", catalog, ()) == ("Tianhe District",)
    assert unknown_places("海珠区2018年GDP增长多少?", catalog, ()) == ()
    assert unknown_places("天河区2018年GDP增长多少?", catalog, ("海珠区",)) == ()
