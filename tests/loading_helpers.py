"""Loading files in the tests of rag/loading/ (tests/test_loading*.py): what came back, split into documents and
failures."""

from __future__ import annotations

from pathlib import Path

from rag.loading import LoadedItem, LoadFailure, load_documents
from rag.types import Document

FIXTURES = Path(__file__).parent / "fixtures"
REPORT = "海珠区2018年政府工作报告\n\n一、2017年工作回顾\n\n实现地区生产总值1740.31亿元,同比增长7.6%。\n\n二、2018年工作安排\n\n地区生产总值增长7.7%左右。\n"


def load_items(*paths: Path) -> list[LoadedItem]:
    """Everything `load_documents` yields for these paths."""
    return list(load_documents(list(paths)))


def docs_of(items: list[LoadedItem]) -> list[Document]:
    """The documents among loaded items."""
    return [item for item in items if isinstance(item, Document)]


def failures_of(items: list[LoadedItem]) -> list[LoadFailure]:
    """The failures among loaded items."""
    return [item for item in items if isinstance(item, LoadFailure)]


def only_doc(path: Path) -> Document:
    """The one document of a file that must load without failures."""
    items = load_items(path)
    assert failures_of(items) == []
    (doc,) = docs_of(items)
    return doc
