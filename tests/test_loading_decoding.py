"""rag/loading/decoding.py: report bytes in every encoding they come in, and a clear error for bytes that are not text."""

from __future__ import annotations

from pathlib import Path

import pytest
from loading_helpers import FIXTURES, only_doc

from rag.errors import DocumentReadError
from rag.loading.decoding import decode_bytes


def test_gbk_fixture_is_decoded() -> None:
    doc = only_doc(FIXTURES / "gbk_report.txt")
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
    assert only_doc(path).text.startswith("政府工作報告\n各位代表：")


def test_undecodable_bytes_raise_a_clear_error() -> None:
    with pytest.raises(DocumentReadError, match="UTF-8 byte-order mark"):
        decode_bytes(b"\xef\xbb\xbf\xff\xfe\xfa")

