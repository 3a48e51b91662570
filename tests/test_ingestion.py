"""rag/ingestion.py: what is embedded for a passage, which documents need indexing, embedding groups, pacing."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_document

from rag.index.store import IndexStore
from rag.ingestion import Pacing, embedding_groups, passage_text, pending_documents
from rag.types import Chunk, Document


def test_passage_text_gives_title_and_section_context() -> None:
    doc = make_document("d", "正文。", title="海珠区2018年政府工作报告")
    chunk = Chunk("d#0", "d", "正文。", 0, 3, section="二、2018年工作安排")
    assert passage_text(doc, chunk) == "海珠区2018年政府工作报告 | 二、2018年工作安排\n正文。"


def test_pending_documents_skips_unchanged_and_repeated_documents() -> None:
    store = IndexStore.empty("m", 2, 240, 1)
    kept = make_document("kept", "已经索引的报告。")
    store.upsert(kept, [Chunk("kept#0", "kept", kept.text, 0, len(kept.text))], [("报告",)], np.ones((1, 2), np.float32))
    new = make_document("new", "新的报告。")
    todo, unchanged = pending_documents(
        [kept, new, make_document("new", "同一编号的第二份。")], store, chunk_size=240, overlap=1
    )
    assert unchanged == ["kept"]
    assert [(doc.doc_id, doc.text) for doc, _ in todo] == [("new", "新的报告。")]
    assert [c.text for c in todo[0][1]] == ["新的报告。"]


def _todo(*sizes: int) -> list[tuple[Document, list[Chunk]]]:
    return [
        (make_document(f"d{n}", "x"), [Chunk(f"d{n}#{i}", f"d{n}", "x", 0, 1) for i in range(size)])
        for n, size in enumerate(sizes)
    ]


def test_embedding_groups_fill_up_to_the_passage_count() -> None:
    groups = list(embedding_groups(_todo(100, 200, 300, 10, 5), 256))
    assert [[len(chunks) for _, chunks in group] for group in groups] == [[100, 200], [300], [10, 5]]
    assert list(embedding_groups([], 256)) == []


def test_pacing_saves_every_checkpoint_and_publishes_at_most_every_publish_seconds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [0.0]
    monkeypatch.setattr("rag.ingestion.time.monotonic", lambda: clock[0])
    calls: list[str] = []
    pacing = Pacing(checkpoint_seconds=30.0, publish_seconds=1.0)
    for now in (0.5, 2.0, 2.5, 31.0):
        clock[0] = now
        pacing.step(lambda: calls.append(f"save {clock[0]}"), lambda: calls.append(f"publish {clock[0]}"))
    assert calls == ["publish 2.0", "save 31.0", "publish 31.0"]


def test_a_slow_publish_is_repeated_only_after_ten_times_its_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [0.0]
    monkeypatch.setattr("rag.ingestion.time.monotonic", lambda: clock[0])
    published: list[float] = []

    def publish() -> None:
        published.append(clock[0])
        clock[0] += 0.5  # rebuilding the snapshot takes half a second

    pacing = Pacing(checkpoint_seconds=1e9, publish_seconds=1.0)
    for now in (2.0, 4.0, 7.0, 8.0):
        clock[0] = max(clock[0], now)
        pacing.step(lambda: None, publish)
    assert published == [2.0, 8.0]  # 4.0 and 7.0 are within 5 s of the end of the first (at 2.5)


def test_pacing_publishes_only_when_a_reader_looked_since_the_last_snapshot(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [0.0]
    monkeypatch.setattr("rag.ingestion.time.monotonic", lambda: clock[0])
    published: list[float] = []
    readers = [False]
    pacing = Pacing(checkpoint_seconds=1e9, publish_seconds=1.0)
    for now, looked in ((2.0, False), (4.0, True), (6.0, False), (8.0, True)):
        clock[0] = now
        readers[0] = looked
        pacing.step(lambda: None, lambda: published.append(clock[0]), lambda: readers[0])
    assert published == [4.0, 8.0]
