"""Reranker protocol: no-op default, cross-encoder by path, wiring into the pipeline."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from rag.errors import ModelUnavailableError
from rag.pipeline import Pipeline
from rag.reranking import CrossEncoderReranker, NoopReranker, load_reranker
from rag.types import Chunk, DocumentMeta, Hit


def _hits() -> list[Hit]:
    meta = DocumentMeta(title="t")
    return [Hit(Chunk(f"d#{i}", "d", f"text {i}", 0, 6), meta, 1.0 - i / 10, i + 1) for i in range(3)]


def test_noop_keeps_order() -> None:
    hits = _hits()
    assert NoopReranker().rerank("q", hits) == hits


def test_factory() -> None:
    assert isinstance(load_reranker("none", None), NoopReranker)
    assert isinstance(load_reranker("cross-encoder", Path("/some/dir")), CrossEncoderReranker)
    with pytest.raises(ModelUnavailableError, match="RAG_RERANKER_MODEL_PATH"):
        load_reranker("cross-encoder", None)


def test_missing_cross_encoder_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailableError, match="not-there"):
        CrossEncoderReranker(tmp_path / "not-there").rerank("q", _hits())


class _Reverse:
    def __init__(self) -> None:
        self.questions: list[str] = []

    def rerank(self, question: str, hits: Sequence[Hit]) -> list[Hit]:
        self.questions.append(question)
        return [Hit(h.chunk, h.meta, h.score, i) for i, h in enumerate(reversed(list(hits)), start=1)]


def test_pipeline_applies_the_configured_reranker(hashing_pipeline: Pipeline) -> None:
    question = "海珠区2018年地区生产总值增长目标是多少?"
    before = hashing_pipeline.search(question, k=3).hits
    reverse = _Reverse()
    original = hashing_pipeline.reranker
    hashing_pipeline.reranker = reverse
    try:
        after = hashing_pipeline.search(question, k=3).hits
    finally:
        hashing_pipeline.reranker = original
    assert reverse.questions == [question]
    assert after and [h.chunk.chunk_id for h in after] != [h.chunk.chunk_id for h in before]
