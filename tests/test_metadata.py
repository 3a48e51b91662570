"""Tests for rag/metadata.py on excerpts of the sample reports and JSONL-style records."""

from __future__ import annotations

from pathlib import Path

from rag.cleaning import clean_text
from rag.metadata import extract_metadata
from rag.types import DocumentMeta

FIXTURES = Path(__file__).parent / "fixtures" / "reports"


def _meta(name: str) -> DocumentMeta:
    cleaned = clean_text((FIXTURES / name).read_text(encoding="utf-8"))
    return extract_metadata(cleaned.text, furniture=cleaned.furniture)


def test_haizhu_2008_plan_dated_by_text_not_by_web_timestamp() -> None:
    meta = _meta("haizhu_2008_plan_excerpt.txt")
    assert meta.region == "海珠区" and meta.level == "district"
    assert meta.year == 2008 and meta.plan_year == 2008
    assert meta.review_years == ()
    assert meta.published == "2022-02-17"  # kept, but only as low-trust publication date
    assert not meta.anonymised


def test_haizhu_2018_fused_delivery_date() -> None:
    meta = _meta("haizhu_2018_excerpt.txt")
    assert meta.title == "海珠区2018年政府工作报告"
    assert (meta.region, meta.level, meta.year) == ("海珠区", "district", 2018)
    assert meta.review_years == (2017,) and meta.plan_year == 2018
    assert meta.delivered == "2018-02-07"
    assert meta.published == "2018-02-22"
    assert ("parent_region", "广州市") in meta.source_meta


def test_anonymised_report() -> None:
    meta = _meta("anonymised_excerpt.txt")
    assert meta.anonymised
    assert meta.region is None
    assert meta.year is None and meta.plan_year is None and meta.review_years == ()
    assert meta.title == "区政府XX年工作总结与XX年工作计划"


def test_shahekou_2016_from_title_and_headings() -> None:
    meta = _meta("shahekou_2016_excerpt.txt")
    assert meta.title == "2016年沙河口区政府工作报告"
    assert (meta.region, meta.year, meta.review_years, meta.plan_year) == ("沙河口区", 2016, (2015,), 2016)
    assert meta.published == "2016-08-18"


def test_wuchang_year_end_report_plans_next_year() -> None:
    meta = _meta("wuchang_2012_excerpt.txt")
    assert meta.region == "武昌区"
    assert ("parent_region", "武汉市") in meta.source_meta
    assert meta.delivered == "2012-12-25"
    assert meta.review_years == (2012,) and meta.plan_year == 2013
    assert meta.published == "2013-02-01"


def test_year_end_delivery_without_headings_falls_back_to_date_rule() -> None:
    text = "政府工作报告\n——2012年12月25日在武汉市武昌区第十四届人民代表大会第二次会议上\n各位代表:\n过去一年,我们做了很多工作。"
    meta = extract_metadata(text)
    assert (meta.plan_year, meta.review_years, meta.delivered) == (2013, (2012,), "2012-12-25")


def test_ambiguous_fused_date_keeps_year_only() -> None:
    meta = extract_metadata("某某区政府工作报告\n——2018111日在某某市某某区第三届人民代表大会第一次会议上\n")
    assert meta.delivered is None and meta.year == 2018


def test_jsonl_provincial_record_hints() -> None:
    text = "2025年宁夏政府工作报告\n——2025年1月19日在宁夏回族自治区第十三届人民代表大会第三次会议上\n一、2024年工作回顾\n二、2025年目标任务"
    meta = extract_metadata(
        text,
        title_hint="2025年宁夏政府工作报告",
        source_meta={"year": 2025, "region": "宁夏", "level": "provincial"},
    )
    assert (meta.region, meta.level, meta.year, meta.review_years, meta.plan_year) == (
        "宁夏回族自治区",
        "provincial",
        2025,
        (2024,),
        2025,
    )
    assert meta.delivered == "2025-01-19"
    assert ("region", "宁夏") in meta.source_meta


def test_national_report_and_resolution() -> None:
    report = extract_metadata(
        "政府工作报告\n——2024年3月5日在第十四届全国人民代表大会第二次会议上\n一、2023年工作回顾\n二、2024年经济社会发展总体要求和政策取向",
        title_hint="2024年中华人民共和国国务院政府工作报告",
        source_meta={"year": "2024", "level": "national"},
    )
    assert (report.region, report.level, report.year, report.review_years, report.plan_year) == (
        "全国",
        "national",
        2024,
        (2023,),
        2024,
    )
    resolution = extract_metadata(
        "会议充分肯定国务院过去一年的工作，同意报告提出的2025年经济社会发展的总体要求。",
        title_hint="第十四届全国人民代表大会第三次会议关于政府工作报告的决议",
        source_meta={"year": None, "level": "national"},
    )
    assert (resolution.region, resolution.year, resolution.plan_year) == ("全国", 2025, 2025)
    assert ("year", "None") not in resolution.source_meta


def test_relative_review_heading() -> None:
    meta = extract_metadata(
        "一、过去五年工作回顾\n二、2018年经济社会发展总体要求",
        title_hint="2018年中华人民共和国国务院政府工作报告",
    )
    assert meta.review_years == (2013, 2014, 2015, 2016, 2017) and meta.plan_year == 2018


def test_plan_only_text_dated_by_anniversary() -> None:
    meta = extract_metadata("今年是改革开放40周年,我们要做好以下工作。\n(一)加快发展。")
    assert meta.year == 2018 and meta.plan_year == 2018


def test_no_evidence_means_no_year() -> None:
    meta = extract_metadata("区政府工作意见\n今年要做好以下工作。", furniture=("时间:2022-02-17 12:25:00",))
    assert meta.year is None and meta.plan_year is None
    assert meta.published == "2022-02-17"





def test_title_region_with_parent_city() -> None:
    meta = extract_metadata("2019年广州市越秀区政府工作报告\n各位代表:")
    assert meta.region == "越秀区" and ("parent_region", "广州市") in meta.source_meta and meta.year == 2019
