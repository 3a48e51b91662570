"""Hostile and broken inputs through rag.loading and Pipeline.ingest: each gets a clear per-file reason, or is
read correctly, and one bad file never aborts the batch. Every fixture is generated here, in tmp_path."""

from __future__ import annotations

import hashlib
import os
import random
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from rag.index.generations import load_index
from rag.loading import (
    MAX_DOCUMENT_CHARS,
    MAX_TEXT_FILE_BYTES,
    LoadedItem,
    LoadFailure,
    load_documents,
)
from rag.loading.docx import MAX_DOCX_UNPACKED_BYTES
from rag.pipeline_factory import load_pipeline
from rag.settings import Settings
from rag.types import Document

REPORT = "海珠区2018年政府工作报告\n一、2017年工作回顾\n实现地区生产总值1740.31亿元,同比增长7.6%。\n二、2018年工作安排\n地区生产总值增长7.7%左右。\n"
OTHER_REPORT = "沙河口区2016年政府工作报告\n建议经济增长的主要预期目标为:地区生产总值增长6.5-7%。\n"


def _load(*paths: Path) -> list[LoadedItem]:
    return list(load_documents(list(paths)))


def _reasons(items: list[LoadedItem]) -> dict[str, str]:
    return {Path(i.source).name: i.reason for i in items if isinstance(i, LoadFailure)}


def _doc_ids(items: list[LoadedItem]) -> list[str]:
    return [i.doc_id for i in items if isinstance(i, Document)]


def _only_reason(path: Path) -> str:
    items = _load(path)
    assert _doc_ids(items) == [], items
    (failure,) = items
    assert isinstance(failure, LoadFailure) and failure.source == str(path)
    return failure.reason


def _only_doc(path: Path) -> Document:
    (doc,) = _load(path)
    assert isinstance(doc, Document), doc
    return doc


# ----------------------------------------------------------------------------------- fixture builders


def _pdf(path: Path, text: str | None = None, *, image: bool = False, user_password: str | None = None,
         owner_password: str | None = None) -> Path:  # fmt: skip
    """A one-page PDF built with pypdf: Helvetica text (a text layer), a bitmap (a "scan"), or nothing."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject, NumberObject

    writer = PdfWriter()
    page = writer.add_blank_page(width=300, height=300)
    resources = DictionaryObject()
    ops: list[str] = []
    if text is not None:
        font = DictionaryObject(
            {NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
             NameObject("/BaseFont"): NameObject("/Helvetica")}
        )  # fmt: skip
        resources[NameObject("/Font")] = DictionaryObject({NameObject("/F1"): writer._add_object(font)})
        ops.append(f"BT /F1 12 Tf 20 250 Td ({text}) Tj ET")
    if image:
        bitmap = DecodedStreamObject()
        bitmap.set_data(bytes([0, 255, 255, 0]))
        bitmap.update(
            {NameObject("/Type"): NameObject("/XObject"), NameObject("/Subtype"): NameObject("/Image"),
             NameObject("/Width"): NumberObject(2), NameObject("/Height"): NumberObject(2),
             NameObject("/ColorSpace"): NameObject("/DeviceGray"), NameObject("/BitsPerComponent"): NumberObject(8)}
        )  # fmt: skip
        resources[NameObject("/XObject")] = DictionaryObject({NameObject("/Im0"): writer._add_object(bitmap)})
        ops.append("q 200 0 0 200 50 50 cm /Im0 Do Q")
    content = DecodedStreamObject()
    content.set_data("\n".join(ops).encode("ascii"))
    page[NameObject("/Resources")] = resources
    page[NameObject("/Contents")] = writer._add_object(content)
    if user_password is not None or owner_password is not None:
        writer.encrypt(user_password=user_password or "", owner_password=owner_password, algorithm="RC4-128")
    with path.open("wb") as fh:
        writer.write(fh)
    return path


_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Target="word/document.xml" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"/></Relationships>'
)
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _document_xml(*paragraphs: str) -> str:
    body = "".join(f"<w:p><w:r><w:t>{p}</w:t></w:r></w:p>" for p in paragraphs)
    return f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{_W}"><w:body>{body}</w:body></w:document>'


def _docx(path: Path, document_xml: str | None = None, *, content_types: bool = True) -> Path:
    """A minimal DOCX written with zipfile (the three parts python-docx needs)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        if content_types:
            archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _RELS)
        archive.writestr(
            "word/document.xml",
            document_xml if document_xml is not None else _document_xml(*REPORT.splitlines()),
        )
    return path


def _docx_bomb(path: Path, unpacked_mb: int) -> Path:
    """A DOCX whose document.xml really inflates to `unpacked_mb` MB of spaces (streamed: never held in memory)."""
    head, tail = _document_xml("PLACEHOLDER").split("PLACEHOLDER")
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _RELS)
        with archive.open("word/document.xml", "w", force_zip64=True) as fh:
            fh.write(head.encode())
            block = b" " * (1 << 20)
            for _ in range(unpacked_mb):
                fh.write(block)
            fh.write(tail.encode())
    return path


# ----------------------------------------------------------------------------------- empty and binary files


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("empty.txt", b"", "empty file"),
        ("blank.md", b" \n\t\r\n  \n", "empty file"),
        ("bom-only.txt", b"\xef\xbb\xbf", "no text left"),
        (
            "furniture-only.html",
            "<html><script>x()</script><nav>首页 > 新闻</nav></html>".encode(),
            "no text left",
        ),
        ("empty.pdf", b"", "empty file"),
        ("empty.docx", b"", "empty file"),
        ("empty.jsonl", b"\n\n", "empty file"),
    ],
)
def test_empty_files_fail_alone_with_a_reason(tmp_path: Path, name: str, data: bytes, expected: str) -> None:
    (tmp_path / name).write_bytes(data)
    assert expected in _only_reason(tmp_path / name)


def _random_bytes(n: int, *, seed: int = 7, low: int = 0) -> bytes:
    rng = random.Random(seed)
    return bytes(rng.randrange(low, 256) for _ in range(n))


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("random.txt", _random_bytes(4000), "binary file (it contains NUL bytes)"),
        ("photo.txt", b"\x89PNG\r\n\x1a\n" + _random_bytes(2000), "this is a PNG image"),
        ("report.pdf.txt", b"%PDF-1.4\n" + _random_bytes(2000), "this is a PDF"),
        ("archive.md", b"PK\x03\x04" + _random_bytes(2000), "this is a ZIP archive"),
        ("legacy.txt", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + _random_bytes(2000), "Office 97-2003"),
        ("program.html", b"\x7fELF\x02\x01\x01" + _random_bytes(2000), "this is a program"),
        ("controls.txt", b"\x01\x02\x03\x04abc\x05\x06\x07\x08" * 500, "control characters"),
        ("corpus.jsonl", _random_bytes(4000), "binary file"),
    ],
)
def test_binary_data_named_as_text_is_refused(tmp_path: Path, name: str, data: bytes, expected: str) -> None:
    (tmp_path / name).write_bytes(data)
    assert expected in _only_reason(tmp_path / name)


def test_binary_without_nul_bytes_is_never_indexed_as_mojibake(tmp_path: Path) -> None:
    path = tmp_path / "noise.txt"
    path.write_bytes(_random_bytes(6000, seed=3, low=1))
    reason = _only_reason(path)
    assert "encoding" in reason or "binary" in reason


def test_utf16_text_with_a_bom_is_not_mistaken_for_binary(tmp_path: Path) -> None:
    path = tmp_path / "utf16.txt"
    path.write_bytes(REPORT.encode("utf-16"))  # NUL bytes everywhere, but a byte-order mark says why
    assert "同比增长7.6%" in _only_doc(path).text


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_is_refused_instead_of_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    result: list[LoadedItem] = []
    reader = threading.Thread(target=lambda: result.extend(load_documents([fifo])), daemon=True)
    reader.start()
    reader.join(timeout=20)
    assert not reader.is_alive(), "load_documents blocked reading a FIFO"
    assert _reasons(result) == {"pipe.txt": "not a regular file"}


# ----------------------------------------------------------------------------------- PDF


def test_pdf_builder_makes_a_text_layer(tmp_path: Path) -> None:
    """The control for the cases below: the same builder with text gives a readable document."""
    doc = _only_doc(_pdf(tmp_path / "text.pdf", "Haizhu GDP grew 7.6 percent in 2017."))
    assert doc.text == "Haizhu GDP grew 7.6 percent in 2017."


@pytest.mark.parametrize("image", [True, False], ids=["scanned-image", "blank-page"])
def test_pdf_without_a_text_layer_says_ocr_is_needed(tmp_path: Path, image: bool) -> None:
    reason = _only_reason(_pdf(tmp_path / "scan.pdf", image=image))
    assert reason.startswith("no text layer; OCR needed")


def test_password_protected_pdf_says_remove_the_password(tmp_path: Path) -> None:
    reason = _only_reason(_pdf(tmp_path / "locked.pdf", "secret figures", user_password="s3cret"))
    assert "password" in reason and "remove the password" in reason


def test_pdf_with_only_an_owner_password_is_read(tmp_path: Path) -> None:
    path = _pdf(tmp_path / "owner.pdf", "Haizhu GDP grew 7.6 percent in 2017.", owner_password="owner")
    assert "7.6 percent" in _only_doc(path).text


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[: len(b) // 2],
        lambda b: b[:40],
        lambda b: b"%PDF-1.7\n" + _random_bytes(3000),
        lambda b: b.replace(b"/Type /Pages", b"/Type /Pagez").replace(b"/Root", b"/Rooot"),
    ],
    ids=["truncated-half", "header-only", "garbage-body", "broken-catalogue"],
)
def test_corrupt_pdf_is_a_clear_failure(tmp_path: Path, damage: Callable[[bytes], bytes]) -> None:
    good = _pdf(tmp_path / "good.pdf", "Haizhu GDP grew 7.6 percent in 2017.").read_bytes()
    (tmp_path / "bad.pdf").write_bytes(damage(good))
    items = _load(tmp_path / "bad.pdf")
    if _doc_ids(items):  # pypdf may recover a damaged file; then the text must be the real one
        (doc,) = items
        assert isinstance(doc, Document) and "7.6 percent" in doc.text
    else:
        reason = _only_reason(tmp_path / "bad.pdf")
        assert reason.startswith(("unreadable PDF", "no text layer")), reason


# ----------------------------------------------------------------------------------- DOCX


def test_docx_builder_makes_a_readable_document(tmp_path: Path) -> None:
    doc = _only_doc(_docx(tmp_path / "good.docx"))
    assert "实现地区生产总值1740.31亿元,同比增长7.6%。" in doc.text and doc.meta.region == "海珠区"


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (lambda p: p.write_bytes(b"this is not a zip file at all"), "unreadable DOCX"),
        (lambda p: p.write_bytes(_docx(p).read_bytes()[:300]), "unreadable DOCX"),
        (lambda p: _docx(p, content_types=False), "unreadable DOCX"),
        (lambda p: _docx(p, "<w:document><w:body><w:p>unclosed"), "unreadable DOCX"),
        (lambda p: _docx(p, f'<w:document xmlns:w="{_W}"><w:body><w:p>'), "unreadable DOCX"),
        (lambda p: p.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4000)), "password-protected"),
    ],
    ids=[
        "not-a-zip",
        "truncated",
        "no-content-types",
        "undeclared-namespace",
        "unclosed-xml",
        "encrypted-ole",
    ],
)
def test_corrupt_or_protected_docx_is_a_clear_failure(
    tmp_path: Path, build: Callable[[Path], object], expected: str
) -> None:
    path = tmp_path / "bad.docx"
    build(path)
    (tmp_path / "good.txt").write_text(REPORT, encoding="utf-8")
    items = _load(path, tmp_path / "good.txt")  # malformed XML used to raise lxml's error and end the batch
    assert _doc_ids(items) == ["good.txt"]
    assert expected in _reasons(items)["bad.docx"]


def test_docx_zip_bomb_is_refused_from_its_declared_size_before_unpacking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import docx

    bomb = _docx_bomb(tmp_path / "bomb.docx", unpacked_mb=MAX_DOCX_UNPACKED_BYTES // 1_000_000 + 10)
    assert bomb.stat().st_size < 2_000_000  # ~210 MB of XML in well under 2 MB

    def must_not_open(*args: object, **kwargs: object) -> None:
        raise AssertionError("python-docx was asked to unpack the bomb")

    monkeypatch.setattr(docx, "Document", must_not_open)
    reason = _only_reason(bomb)
    assert "zip bomb" in reason and "MB" in reason


def test_docx_bomb_that_understates_its_size_is_cut_off_at_the_stated_size(tmp_path: Path) -> None:
    import struct

    bomb = _docx_bomb(tmp_path / "liar.docx", unpacked_mb=50)
    data = bytearray(bomb.read_bytes())
    at = data.find(b"PK\x01\x02")  # central directory entries: claim 1,000 bytes for document.xml
    while at >= 0:
        name_length = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46 : at + 46 + name_length] == b"word/document.xml":
            struct.pack_into("<I", data, at + 24, 1000)
        at = data.find(b"PK\x01\x02", at + 4)
    bomb.write_bytes(bytes(data))
    assert "unreadable DOCX" in _only_reason(bomb)  # zipfile stops at 1,000 bytes and the CRC check fails


def test_docx_part_that_expands_a_thousandfold_is_refused(tmp_path: Path) -> None:
    reason = _only_reason(_docx_bomb(tmp_path / "ratio.docx", unpacked_mb=30))  # under the total limit
    assert "word/document.xml would expand" in reason and "zip bomb" in reason


# ----------------------------------------------------------------------------------- encodings


SIMPLIFIED = (
    "海珠区2018年政府工作报告\n各位代表：现在，我代表区人民政府向大会报告工作，请予审议。"
    "过去一年，全区地区生产总值增长8.5%，一般公共预算收入增长5.1%。"
)
GB18030_ONLY = "鄂温克族自治旗政府工作报告\n新建㐀㐁䶵项目，投资𠀀𠀁亿元，增长6%，欧元区订单€增长。"
TRADITIONAL = (
    "臺北市政府施政報告\n各位議員女士、先生：今天，本人代表市政府向大會提出施政報告，敬請指教。"
    "過去一年，本市經濟成長率為百分之三，失業率持續下降。"
)


@pytest.mark.parametrize(
    ("text", "encoding"),
    [(SIMPLIFIED, "gbk"), (SIMPLIFIED, "gb2312"), (GB18030_ONLY, "gb18030"), (TRADITIONAL, "big5")],
    ids=["gbk", "gb2312", "gb18030-four-byte", "big5"],
)
def test_chinese_legacy_encodings_are_decoded(tmp_path: Path, text: str, encoding: str) -> None:
    path = tmp_path / f"{encoding}.txt"
    path.write_bytes(text.encode(encoding))
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")  # the file really is not UTF-8
    assert _only_doc(path).text == text


def test_gbk_html_with_a_wrong_meta_charset_is_still_decoded(tmp_path: Path) -> None:
    html = f'<html><head><meta charset="big5"></head><body><p>{SIMPLIFIED}</p></body></html>'
    (tmp_path / "page.html").write_bytes(html.encode("gbk"))
    assert "全区地区生产总值增长8.5%" in _only_doc(tmp_path / "page.html").text


# ----------------------------------------------------------------------------------- size limits


def test_a_50_mb_text_file_is_refused_unread_with_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    line = ("今年全区地区生产总值增长7.7%左右,一般公共预算收入增长2%。" * 20 + "\n").encode("utf-8")
    with path.open("wb") as fh:
        while fh.tell() < 50_000_000:
            fh.write(line)
    (tmp_path / "good.txt").write_text(REPORT, encoding="utf-8")
    items = _load(path, tmp_path / "good.txt")
    assert _doc_ids(items) == ["good.txt"]
    reason = _reasons(items)["huge.txt"]
    assert (
        f"limit for one text document is {MAX_TEXT_FILE_BYTES / 1e6:,.0f} MB" in reason
        and "split it" in reason
    )


def test_text_over_the_character_limit_is_refused_before_cleaning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "long.txt"
    path.write_text("各位代表。" * (MAX_DOCUMENT_CHARS // 5 + 1000), encoding="utf-8")
    assert path.stat().st_size < MAX_TEXT_FILE_BYTES  # so the character limit is what applies

    def must_not_clean(raw: str) -> None:
        raise AssertionError("clean_text was run on an over-long document")

    monkeypatch.setattr("rag.loading.clean_text", must_not_clean)
    reason = _only_reason(path)
    assert f"limit for one document is {MAX_DOCUMENT_CHARS:,}" in reason


def test_an_over_long_jsonl_record_fails_alone(tmp_path: Path) -> None:
    import json

    path = tmp_path / "corpus.jsonl"
    records = [
        {"doc_id": "long", "text": "各" * (MAX_DOCUMENT_CHARS + 1)},
        {"doc_id": "ok", "text": REPORT},
    ]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    items = _load(path)
    assert _doc_ids(items) == ["ok"]
    assert "limit for one document" in _reasons(items)["corpus.jsonl:1"]


# ----------------------------------------------------------------------------------- duplicates and HTML


def test_the_same_document_under_two_names_is_loaded_once(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(REPORT, encoding="utf-8")
    (tmp_path / "b.txt").write_text(REPORT, encoding="utf-8")
    (tmp_path / "c.md").write_text(REPORT, encoding="utf-8")  # same bytes, another type
    (tmp_path / "d.txt").write_text(
        REPORT + "\n", encoding="utf-8"
    )  # not byte-identical: a document of its own
    items = _load(tmp_path)
    assert _doc_ids(items) == ["a.txt", "d.txt"]
    reasons = _reasons(items)
    assert set(reasons) == {"b.txt", "c.md"}
    assert all("same content as a.txt" in r for r in reasons.values())


def test_jsonl_records_sharing_a_text_are_both_kept(tmp_path: Path) -> None:
    import json

    records = [
        {"doc_id": "one", "text": REPORT},
        {"doc_id": "two", "text": REPORT},
    ]  # corpora may repeat passages
    (tmp_path / "c.jsonl").write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in records), encoding="utf-8"
    )
    assert _doc_ids(_load(tmp_path / "c.jsonl")) == ["one", "two"]


SCRIPTED_PAGE = """<!DOCTYPE html><html><head>
<title>海珠区2018年政府工作报告_广州市海珠区人民政府</title>
<style>body { font-family: "样式字体"; } .x::after { content: "样式里的字"; }</style>
<SCRIPT type="text/javascript">var secret = "脚本里的字"; document.write("<p>写出的字<\\/p>");</SCRIPT>
<script type="application/ld+json">{"name": "结构化数据里的字"}</script>
<script src="tracker.js"></script>
</head><body onload="track('属性里的字')">
<!-- 注释里的字 -->
<noscript>请启用脚本</noscript>
<p>各位代表：</p>
<p style="color:red" onclick="alert('点击')">今年经济社会发展主要预期目标是:地区生产总值增长7.7%左右。</p>
<Style>p { color: blue }</Style>
<script>if (a < b && c > d) { x = "</div>不该出现"; }</script>
<p>我们着力在以下八个方面狠抓落实。</p>
</body></html>"""


def test_html_scripts_styles_and_comments_are_stripped(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text(SCRIPTED_PAGE, encoding="utf-8")
    doc = _only_doc(tmp_path / "page.html")
    assert doc.text == (
        "各位代表：\n\n今年经济社会发展主要预期目标是:地区生产总值增长7.7%左右。\n\n我们着力在以下八个方面狠抓落实。"
    )
    assert doc.meta.title == "海珠区2018年政府工作报告"
    for leaked in (
        "样式",
        "脚本",
        "写出",
        "结构化",
        "属性",
        "注释",
        "启用",
        "不该",
        "alert",
        "function",
        "{",
    ):
        assert leaked not in doc.text


# ----------------------------------------------------------------------------------- the batch as a whole


def _bad_folder(root: Path) -> set[str]:
    """Every kind of bad file above side by side, plus two good reports; returns the bad names."""
    root.mkdir()
    (root / "good.txt").write_text(REPORT, encoding="utf-8")
    _docx(root / "other.docx", _document_xml(*OTHER_REPORT.splitlines()))
    (root / "empty.txt").write_bytes(b"")
    (root / "binary.txt").write_bytes(_random_bytes(3000))
    _pdf(root / "scan.pdf", image=True)
    _pdf(root / "locked.pdf", "secret", user_password="pw")
    (root / "corrupt.pdf").write_bytes(b"%PDF-1.4\nnot really\n%%EOF")
    _docx(root / "broken-xml.docx", "<w:document><w:body>")
    (root / "locked.docx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(2000))
    _docx_bomb(root / "bomb.docx", unpacked_mb=MAX_DOCX_UNPACKED_BYTES // 1_000_000 + 1)
    (root / "second-copy.txt").write_text(REPORT, encoding="utf-8")
    (root / "notes.xyz").write_text("x", encoding="utf-8")
    return {"empty.txt", "binary.txt", "scan.pdf", "locked.pdf", "corrupt.pdf", "broken-xml.docx",
            "locked.docx", "bomb.docx", "second-copy.txt", "notes.xyz"}  # fmt: skip


def test_one_bad_file_never_aborts_the_batch(tmp_path: Path) -> None:
    bad = _bad_folder(tmp_path / "in")
    items = _load(tmp_path / "in")
    assert sorted(_doc_ids(items)) == ["good.txt", "other.docx"]
    reasons = _reasons(items)
    assert set(reasons) == bad
    assert all(reason.strip() for reason in reasons.values())


def test_an_unexpected_parser_crash_is_reported_for_that_file_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import rag.loading

    real = rag.loading.html_text

    def flaky(html: str) -> tuple[str, str | None]:
        if "crash" in html:
            raise RecursionError("maximum recursion depth exceeded")
        return real(html)

    monkeypatch.setattr(rag.loading, "html_text", flaky)
    (tmp_path / "a.html").write_text("<p>crash</p>", encoding="utf-8")
    (tmp_path / "b.html").write_text(f"<p>{REPORT}</p>", encoding="utf-8")
    items = _load(tmp_path)
    assert _doc_ids(items) == ["b.html"]
    assert "unexpected RecursionError" in _reasons(items)["a.html"]
    assert "RecursionError" in caplog.text and "a.html" in caplog.text


def test_pipeline_ingest_indexes_the_good_files_and_reports_each_bad_one(
    hashing_settings: Settings, tmp_path: Path
) -> None:
    bad = _bad_folder(tmp_path / "in")
    pipeline = load_pipeline(hashing_settings, answering=False)
    report = pipeline.ingest([tmp_path / "in"])
    assert sorted(report.added) == ["good.txt", "other.docx"]
    assert {Path(source).name for source, _ in report.failed} == bad
    stored = load_index(hashing_settings.index_dir)
    assert sorted(stored.documents) == ["good.txt", "other.docx"]
    assert len(stored.chunks) == len(stored.vectors) == len(stored.tokens) > 0


def test_pipeline_ingest_of_a_huge_file_keeps_the_index_usable(
    hashing_settings: Settings, tmp_path: Path
) -> None:
    pipeline = load_pipeline(hashing_settings, answering=False)
    (tmp_path / "good.txt").write_text(REPORT, encoding="utf-8")
    pipeline.ingest([tmp_path / "good.txt"])
    before = hashlib.sha256((hashing_settings.index_dir / "CURRENT").read_bytes()).hexdigest()
    huge = tmp_path / "huge.txt"
    with huge.open("wb") as fh:
        fh.truncate(MAX_TEXT_FILE_BYTES + 1)  # sparse: "big" without writing it
    report = pipeline.ingest([huge])
    assert report.added == () and "limit" in report.failed[0][1]
    assert hashlib.sha256((hashing_settings.index_dir / "CURRENT").read_bytes()).hexdigest() == before
    assert [d.doc_id for d in pipeline.documents()] == ["good.txt"]
