"""Tests for rag/loading.py: every supported format, encodings, and failures that do not stop the rest."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rag.errors import DocumentReadError
from rag.loading import (
    SUPPORTED_SUFFIXES,
    LoadedItem,
    LoadFailure,
    decode_bytes,
    document_from_text,
    load_documents,
)
from rag.types import Document

FIXTURES = Path(__file__).parent / "fixtures"
REPORT = "海珠区2018年政府工作报告\n\n一、2017年工作回顾\n\n实现地区生产总值1740.31亿元,同比增长7.6%。\n\n二、2018年工作安排\n\n地区生产总值增长7.7%左右。\n"


def _load(*paths: Path) -> list[LoadedItem]:
    return list(load_documents(list(paths)))


def _docs(items: list[LoadedItem]) -> list[Document]:
    return [item for item in items if isinstance(item, Document)]


def _failures(items: list[LoadedItem]) -> list[LoadFailure]:
    return [item for item in items if isinstance(item, LoadFailure)]


def _only_doc(path: Path) -> Document:
    items = _load(path)
    assert _failures(items) == []
    (doc,) = _docs(items)
    return doc


def test_gbk_fixture_is_decoded() -> None:
    doc = _only_doc(FIXTURES / "gbk_report.txt")
    assert doc.doc_id == "gbk_report.txt"
    assert "实现地区生产总值1740.31亿元,同比增长7.6%。" in doc.text
    assert doc.meta.region == "海珠区" and doc.meta.delivered == "2018-02-07"
    assert len(doc.content_hash) == 64


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "gb18030", "big5"])
def test_text_encodings(tmp_path: Path, encoding: str) -> None:
    text = (
        "政府工作報告\n各位代表：現在，我代表區人民政府向大會報告工作，請予審議。過去一年，我們取得了新成就。"
    )
    path = tmp_path / "report.txt"
    path.write_bytes(text.encode(encoding))
    assert decode_bytes(path.read_bytes()) == text
    assert _only_doc(path).text.startswith("政府工作報告\n各位代表：")


def test_undecodable_bytes_raise_a_clear_error() -> None:
    with pytest.raises(DocumentReadError, match="UTF-8 byte-order mark"):
        decode_bytes(b"\xef\xbb\xbf\xff\xfe\xfa")


def test_markdown_is_stripped_lightly(tmp_path: Path) -> None:
    path = tmp_path / "report.md"
    path.write_text(
        "# 海珠区2018年政府工作报告\n\n## 一、2017年工作回顾\n\n- 实现**地区生产总值**1740.31亿元,见[附件](a.html)。\n"
        + "> 引用的一句话。\n\n---\n",
        encoding="utf-8",
    )
    doc = _only_doc(path)
    assert (
        doc.text
        == "海珠区2018年政府工作报告\n\n一、2017年工作回顾\n\n实现地区生产总值1740.31亿元,见附件。\n引用的一句话。"
    )
    assert doc.meta.title == "海珠区2018年政府工作报告" and doc.meta.review_years == (2017,)


def test_html_drops_scripts_navigation_and_footer(tmp_path: Path) -> None:
    html = """<html><head><title>海珠区2018年政府工作报告_广州市海珠区人民政府</title>
<script>var x = "不要我";</script><style>p {color: red}</style></head><body>
<nav>首页 | 政务公开</nav><header>网站头部</header>
<div class="content"><p>一、2017年工作回顾</p><p>实现地区生产总值1740.31亿元,<b>同比增长7.6%</b>。</p>
<table><tr><td>指标</td><td>数值</td></tr></table><br>二、2018年工作安排</div>
<footer>联系我们 粤ICP备05083207号</footer></body></html>"""
    path = tmp_path / "report.html"
    path.write_text(html, encoding="utf-8")
    doc = _only_doc(path)
    assert doc.meta.title == "海珠区2018年政府工作报告"
    assert "实现地区生产总值1740.31亿元,同比增长7.6%。" in doc.text
    assert "一、2017年工作回顾\n" in doc.text and "指标 数值" in doc.text
    for hidden in ("不要我", "color", "首页", "网站头部", "ICP"):
        assert hidden not in doc.text
    assert doc.meta.review_years == (2017,) and doc.meta.plan_year == 2018


def test_html_with_declared_gbk_charset(tmp_path: Path) -> None:
    html = '<html><head><meta charset="gb2312"><title>沙河口区政府工作报告</title></head><body><p>各位代表：</p></body></html>'
    path = tmp_path / "page.htm"
    path.write_bytes(html.encode("gbk"))
    doc = _only_doc(path)
    assert doc.text == "各位代表："
    assert doc.meta.region == "沙河口区"


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
    doc = _only_doc(path)
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


def _minimal_pdf(text: str) -> bytes:
    """A one-page PDF written by hand (Helvetica, ASCII text)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out


def test_pdf_text_is_extracted(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(_minimal_pdf("Haizhu GDP grew 7.6 percent in 2017."))
    doc = _only_doc(path)
    assert doc.text == "Haizhu GDP grew 7.6 percent in 2017."
    assert doc.doc_id == "report.pdf"


def test_bad_pdfs_become_failures(tmp_path: Path) -> None:
    from pypdf import PdfWriter

    (tmp_path / "corrupt.pdf").write_bytes(b"%PDF-1.4\nthis is not really a pdf\n%%EOF")
    blank = PdfWriter()
    blank.add_blank_page(width=612, height=792)
    with (tmp_path / "blank.pdf").open("wb") as fh:
        blank.write(fh)
    locked = PdfWriter()
    locked.add_blank_page(width=612, height=792)
    locked.encrypt(user_password="secret", algorithm="RC4-128")
    with (tmp_path / "locked.pdf").open("wb") as fh:
        locked.write(fh)
    (tmp_path / "good.txt").write_text(REPORT, encoding="utf-8")

    items = _load(tmp_path)
    reasons = {Path(f.source).name: f.reason for f in _failures(items)}
    assert "unreadable PDF" in reasons["corrupt.pdf"]
    assert "no extractable text" in reasons["blank.pdf"]
    assert "encrypted" in reasons["locked.pdf"]
    assert [d.doc_id for d in _docs(items)] == ["good.txt"]


def test_jsonl_broken_lines_fail_alone(tmp_path: Path) -> None:
    good = {"doc_id": "gwr:prov2025:宁夏", "title": "2025年宁夏政府工作报告", "text": "一、2024年工作回顾\n各位代表：", "lang": "zh-Hans",
            "meta": {"year": 2025, "region": "宁夏", "level": "provincial"}}  # fmt: skip
    lines = [
        json.dumps(good, ensure_ascii=False),
        '{"doc_id": "broken", "text": ',
        "",
        json.dumps({"title": "no id", "text": "正文"}, ensure_ascii=False),
        json.dumps({"doc_id": "second", "text": "今年是改革开放40周年。"}, ensure_ascii=False),
        json.dumps({"doc_id": "second", "text": "重复"}, ensure_ascii=False),
    ]
    path = tmp_path / "corpus.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    items = _load(path)
    failures = {f.source: f.reason for f in _failures(items)}
    assert set(failures) == {f"{path}:2", f"{path}:4", f"{path}:6"}
    assert "invalid JSON" in failures[f"{path}:2"]
    assert "missing doc_id" in failures[f"{path}:4"]
    assert "duplicate doc_id" in failures[f"{path}:6"]
    first, second = _docs(items)
    assert first.doc_id == "gwr:prov2025:宁夏" and first.source == str(path)
    assert (first.meta.title, first.meta.region, first.meta.level, first.meta.year) == (
        "2025年宁夏政府工作报告",
        "宁夏回族自治区",
        "provincial",
        2025,
    )
    assert ("lang", "zh-Hans") in first.meta.source_meta
    assert second.doc_id == "second" and second.meta.year == 2018
    assert first.content_hash != second.content_hash and len(first.content_hash) == 64


def test_unsupported_missing_and_empty_files(tmp_path: Path) -> None:
    (tmp_path / "notes.xyz").write_text("x", encoding="utf-8")
    (tmp_path / "empty.txt").write_bytes(b"")
    items = _load(tmp_path / "notes.xyz", tmp_path / "missing.txt", tmp_path / "empty.txt")
    reasons = [f.reason for f in _failures(items)]
    assert reasons[0].startswith("unsupported file type .xyz (supported: ")
    assert all(suffix in reasons[0] for suffix in SUPPORTED_SUFFIXES)
    assert reasons[1] == "no such file or directory"
    assert reasons[2] == "empty file"


def test_folders_are_walked_sorted_skipping_hidden(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "reports", tmp_path / "reports")
    (tmp_path / "reports" / ".hidden.txt").write_text(REPORT, encoding="utf-8")
    (tmp_path / "reports" / ".git").mkdir()
    (tmp_path / "reports" / ".git" / "x.txt").write_text(REPORT, encoding="utf-8")
    (tmp_path / "reports" / "sub").mkdir()
    (tmp_path / "reports" / "sub" / "z_extra.txt").write_text(REPORT, encoding="utf-8")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "z_extra.txt").write_text(REPORT, encoding="utf-8")

    items = _load(tmp_path / "reports", tmp_path / "other")
    assert [d.doc_id for d in _docs(items)] == [
        "anonymised_excerpt.txt",
        "haizhu_2008_plan_excerpt.txt",
        "haizhu_2018_excerpt.txt",
        "shahekou_2016_excerpt.txt",
        "z_extra.txt",  # reports/sub/z_extra.txt sorts before reports/wuchang…
        "wuchang_2012_excerpt.txt",
    ]
    (duplicate,) = _failures(items)
    assert "duplicate doc_id z_extra.txt" in duplicate.reason


def test_document_from_text_for_uploads() -> None:
    doc = document_from_text("upload-1", REPORT, source="upload")
    assert doc.doc_id == "upload-1" and doc.source == "upload"
    assert doc.meta.year == 2018 and doc.meta.review_years == (2017,)
    assert doc.offset_map[0] == (0, 0)
    assert document_from_text("upload-1", REPORT).content_hash == doc.content_hash
    assert document_from_text("x", REPORT, content_hash="abc").content_hash == "abc"
    with pytest.raises(DocumentReadError):
        document_from_text("blank", " \n\n ")
    with pytest.raises(DocumentReadError):
        document_from_text(" ", REPORT)
