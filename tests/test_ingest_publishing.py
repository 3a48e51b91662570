"""A long ingest publishes intermediate snapshots for readers who look, and only for them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from index_helpers import write_report

from rag.pipeline import Pipeline
from rag.pipeline_factory import load_pipeline
from rag.settings import Settings


def _ingest(
    settings: Settings, folder: Path, monkeypatch: pytest.MonkeyPatch, reader: Callable[[Pipeline], object] | None
) -> tuple[list[int], list[object]]:
    """Ingest four one-document embedding groups, 100 s apart; `reader` looks at the index before each group.
    Returns how many documents each publish exposed, and what the reader saw."""
    monkeypatch.setattr("rag.pipeline.EMBED_GROUP_PASSAGES", 1)
    clock = [0.0]
    monkeypatch.setattr("rag.ingestion.time.monotonic", lambda: clock[0])
    pipeline = load_pipeline(settings, answering=False)
    published: list[int] = []
    seen: list[object] = []
    publish, embed = pipeline.publish, pipeline.embedder.embed_documents

    def counting_publish() -> object:
        published.append(len(pipeline.store.documents))
        return publish()

    def slow_embed(texts: list[str]) -> object:
        clock[0] += 100.0
        if reader is not None:
            seen.append(reader(pipeline))
        return embed(texts)

    monkeypatch.setattr(pipeline, "publish", counting_publish)
    monkeypatch.setattr(pipeline.embedder, "embed_documents", slow_embed)
    pipeline.ingest([write_report(folder, f"r{i}.txt", f"测试{i}区", 5.0 + i) for i in range(4)])
    assert len(pipeline.documents()) == 4
    return published, seen


def test_an_ingest_nobody_reads_publishes_once_at_the_end(
    hashing_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    published, _ = _ingest(hashing_settings, tmp_path / "in", monkeypatch, None)
    assert published == [4]


def test_a_reader_during_the_ingest_gets_intermediate_snapshots(
    hashing_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    published, seen = _ingest(hashing_settings, tmp_path / "in", monkeypatch, lambda p: len(p.documents()))
    assert published == [1, 2, 3, 4, 4]  # after each group a reader looked at, then the final one
    assert seen == [0, 1, 2, 3]  # each look saw every document indexed before it
