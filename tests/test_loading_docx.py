"""rag/loading/docx.py: paragraphs and tables of a DOCX in order, and the title of its properties."""

from __future__ import annotations

from pathlib import Path

from loading_helpers import only_doc


def test_docx_paragraphs_and_tables(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.core_properties.title = "2016年沙河口区政府工作报告"
    document.add_paragraph("一、2015年工作回顾")
    document.add_paragraph("实现区级财政收入14.07亿元。")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "指标", "目标"
    table.cell(1, 0).text, table.cell(1, 1).text = "地区生产总值", "增长6.5-7%"
    document.add_paragraph("三、2016年主要工作")
    path = tmp_path / "report.docx"
    document.save(str(path))
    doc = only_doc(path)
    assert (
        doc.text
        == "一、2015年工作回顾\n实现区级财政收入14.07亿元。\n指标 | 目标\n地区生产总值 | 增长6.5-7%\n三、2016年主要工作"
    )
    assert (doc.meta.title, doc.meta.region, doc.meta.year, doc.meta.review_years) == (
        "2016年沙河口区政府工作报告",
        "沙河口区",
        2016,
        (2015,),
    )

