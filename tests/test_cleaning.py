"""Tests for rag/cleaning.py: real pages cleaned end to end, number repair, whitespace and the offset map."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from rag.cleaning import CleanResult, clean_text
from rag.text.offsets import to_original

FIXTURES = Path(__file__).parent / "fixtures" / "reports"


def _clean(name: str) -> tuple[str, CleanResult]:
    raw = (FIXTURES / name).read_text(encoding="utf-8")
    return raw, clean_text(raw)


def _fold(s: str) -> str:
    return unicodedata.normalize("NFKC", s).replace("\u3000", " ").replace("\xa0", " ")


def assert_offsets_consistent(raw: str, result: CleanResult) -> None:
    """Between anchors, cleaned text equals the raw text it came from (up to full-width folding)."""
    anchors = result.offset_map
    assert anchors[0][0] == 0
    assert [a for a, _ in anchors] == sorted({a for a, _ in anchors})
    for i, (clean_at, raw_at) in enumerate(anchors):
        clean_end = anchors[i + 1][0] if i + 1 < len(anchors) else len(result.text)
        piece = result.text[clean_at:clean_end]
        source = raw[raw_at : raw_at + len(piece)]
        assert _fold(piece) == _fold(source), (piece, source)
        assert to_original(anchors, clean_at) == raw_at


def test_haizhu_2018_portal_furniture_removed_and_prose_kept() -> None:
    raw, result = _clean("haizhu_2018_excerpt.txt")
    text = result.text
    for furniture in (
        "您当前所在的位置",
        "分享到",
        "浏览量",
        "发布日期",
        "相关文章",
        "访问总数",
        "联系我们",
        "ICP备",
        "公网安备",
        "主办",
    ):
        assert furniture not in text
    assert text.startswith("海珠区2018年政府工作报告\n")
    assert "——201827日在广州市海珠区第十六届人民代表大会第四次会议上" in text  # fused date left alone
    assert "实现地区生产总值1740.31亿元,同比(下同)增长7.6%" in text  # ASCII punctuation untouched
    assert "今年经济社会发展主要预期目标是:地区生产总值增长7.7%左右" in text
    assert "自201871日起施行" in text
    assert text.endswith("自201871日起施行第五章海珠湿地保护特别规定。")  # the empty "附件:" label went too
    assert any(f.startswith("发布日期:2018-02-22") for f in result.furniture)
    assert_offsets_consistent(raw, result)


def test_haizhu_2008_site_notice_and_timestamp_removed() -> None:
    raw, result = _clean("haizhu_2008_plan_excerpt.txt")
    assert "导语" not in result.text and "时间:2022-02-17" not in result.text
    assert "时间:2022-02-17 12:25:00" in result.furniture
    assert "做好第29届奥运会等重大活动、节日期间的维稳工作。" in result.text
    assert "城镇登记失业人员就业率在70%以上。" in result.text
    assert_offsets_consistent(raw, result)


def test_anonymised_document_page_furniture_and_banner() -> None:
    raw, result = _clean("anonymised_excerpt.txt")
    text = result.text
    for furniture in ("2021-04-10 发布", "37.5 KB", "24页", "申明敬告", "文档介绍", "查看更多"):
        assert furniture not in text
    assert text.count("区政府XX年工作总结与XX年工作计划") == 1
    assert text.startswith("区政府XX年工作总结与XX年工作计划\n")
    assert "XX年,全区上下紧紧围绕“把握‘新常态’、收官‘十二五’”主题" in text
    assert "全年实现地区生产总值950亿元,增长7.5%" in text
    assert "完成第二次全国地名普查。" in text
    assert_offsets_consistent(raw, result)


def test_portal_metadata_block_removed_with_values_kept_as_furniture() -> None:
    raw, result = _clean("shahekou_2016_excerpt.txt")
    text = result.text
    for label in (
        "索引号",
        "文件编号",
        "成文日期",
        "发布机构",
        "有效性",
        "公开方式",
        "公开范围",
        "2102000003",
        "面向社会",
        "上一篇",
        "下一篇",
    ):
        assert label not in text
    assert text.startswith("2016年沙河口区政府工作报告\n各位代表:")
    assert "一、2015年和“十二五”时期政府工作回顾" in text
    assert "地区生产总值增长6.5-7%,固定资产投资增长7%左右" in text
    assert "发布日期: 2016-08-18" in result.furniture
    assert "发布机构: 大连市政府办公室" in result.furniture
    assert_offsets_consistent(raw, result)


def test_wuchang_header_print_links_and_spaced_numbers() -> None:
    raw, result = _clean("wuchang_2012_excerpt.txt")
    text = result.text
    assert "打印本页" not in text and "返回顶部" not in text and "发布机构" not in text
    assert text.startswith("2012年政府工作报告\n")
    assert "——2012年12月25日在武汉市武昌区第十四届人民代表大会" in text
    assert "建设绿地6.6万平方米 。" in text
    assert "\n现在,我代表区人民政府向大会报告工作" in text  # indentation stripped
    assert "\n\n\n" not in text
    assert any("公开日期: 2013年02月01日" in f for f in result.furniture)
    assert_offsets_consistent(raw, result)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("新增绿地12. 2万平方米", "新增绿地12.2万平方米"),
        ("增长８ ．８ ％,高于预期", "增长8.8%,高于预期"),
        ("本届政府从1 9 9 3 年3 月就职", "本届政府从1993年3月就职"),
        ("增长１０％，财政收入增长８％。", "增长10%，财政收入增长8%。"),
        ("全国ＧＤＰ增长", "全国GDP增长"),
    ],
)
def test_number_repair(raw: str, expected: str) -> None:
    result = clean_text(raw)
    assert result.text == expected
    assert_offsets_consistent(raw, result)


def test_list_items_and_chinese_punctuation_are_not_touched() -> None:
    raw = "1. 2万人参加培训;\n2. IAB新一代信息技术。\n现在，我代表国务院；请予审议：谢谢。"
    assert clean_text(raw).text == raw


def test_fused_dates_are_left_alone() -> None:
    raw = "——201827日在广州市海珠区第十六届人民代表大会第四次会议上\n预计20184月基本完工。"
    assert clean_text(raw).text == raw


def test_newlines_indentation_and_blank_runs() -> None:
    raw = "标题\r\n\r\n\r\n\r\n\u3000\u3000第一段。  \r\n\t第二段\u200b内容。\n\n\n"
    result = clean_text(raw)
    assert result.text == "标题\n\n第一段。\n第二段内容。"
    assert_offsets_consistent(raw, result)


def test_broken_inline_links_rejoined_and_licence_notice_dropped() -> None:
    raw = (
        "根据《\n建议\n》精神，制定了《\n纲要（草案）\n》。\n\n"
        + "正文最后一句。\n\n本作品是中华人民共和国的\n法律\n、\n法规\n。\n\nPublic domain\nfalse"
    )
    result = clean_text(raw)
    assert result.text == "根据《建议》精神，制定了《纲要（草案）》。\n\n正文最后一句。"
    assert any(f.startswith("本作品是") for f in result.furniture)
    assert_offsets_consistent(raw, result)


def test_long_line_without_paragraph_breaks_is_split() -> None:
    sentence = "推进重点项目建设,完成固定资产投资577亿元。"
    raw = " ".join([sentence] * 80)
    lines = clean_text(raw).text.split("\n")
    assert len(lines) == 80 and all(line == sentence for line in lines)
