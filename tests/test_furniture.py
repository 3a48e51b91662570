"""Tests for rag/furniture.py, through clean_text: furniture lines go, prose stays, banners are kept once."""

from __future__ import annotations

from rag.cleaning import clean_text


def test_prose_lines_survive_furniture_rules() -> None:
    prose = "来源:基层调研显示,全区共有城中村27条,涉及户籍人口12万人,我们将按照一村一策的原则分类推进改造,确保改造工作平稳有序推进。"
    assert clean_text(prose).text == prose
    short_content = "主办单位：省教育厅，各州、市人民政府"
    assert clean_text(short_content).text == short_content


def test_banner_repeated_three_times_is_kept_once_but_twice_is_kept() -> None:
    three = "某某区政府网\n第一段正文。\n某某区政府网\n第二段正文。\n某某区政府网\n第三段正文。"
    assert clean_text(three).text == "某某区政府网\n第一段正文。\n第二段正文。\n第三段正文。"
    two = "事项一览\n甲。\n事项一览\n乙。"
    assert clean_text(two).text == two


def test_pdf_page_numbers_and_repeated_table_rows() -> None:
    raw = "正文第一页。\n- 2 -\n正文第二页。\n第 3 页 共 24 页\n合计 | 完成 | 完成\n合计 | 完成 | 完成\n合计 | 完成 | 完成"
    assert (
        clean_text(raw).text
        == "正文第一页。\n正文第二页。\n合计 | 完成 | 完成\n合计 | 完成 | 完成\n合计 | 完成 | 完成"
    )
