"""rag/loading/__init__.py: walking folders, the reader of each suffix, JSONL corpora and Documents from text, with
failures that do not stop the rest."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from loading_helpers import FIXTURES, REPORT, docs_of, failures_of, load_items

from rag.errors import DocumentReadError
from rag.loading import SUPPORTED_SUFFIXES, document_from_text


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
    items = load_items(path)
    failures = {f.source: f.reason for f in failures_of(items)}
    assert set(failures) == {f"{path}:2", f"{path}:4", f"{path}:6"}
    assert "invalid JSON" in failures[f"{path}:2"]
    assert "missing doc_id" in failures[f"{path}:4"]
    assert "duplicate doc_id" in failures[f"{path}:6"]
    first, second = docs_of(items)
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
    items = load_items(tmp_path / "notes.xyz", tmp_path / "missing.txt", tmp_path / "empty.txt")
    reasons = [f.reason for f in failures_of(items)]
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

    items = load_items(tmp_path / "reports", tmp_path / "other")
    assert [d.doc_id for d in docs_of(items)] == [
        "anonymised_excerpt.txt",
        "haizhu_2008_plan_excerpt.txt",
        "haizhu_2018_excerpt.txt",
        "shahekou_2016_excerpt.txt",
        "z_extra.txt",  # reports/sub/z_extra.txt sorts before reports/wuchang…
        "wuchang_2012_excerpt.txt",
    ]
    (duplicate,) = failures_of(items)
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
