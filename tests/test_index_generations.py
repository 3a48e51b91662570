"""rag/index/generations.py: atomic generations, crash safety, readers racing writers, debris of killed writers,
and stale writers replaying their changes onto a newer generation so nothing is lost."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest
from index_helpers import (
    DOCS,
    EMBEDDER,
    HAIZHU,
    SHAHEKOU,
    add_document,
    held_in_thread,
    live_generation,
    make_store,
    write_report,
)

from rag.errors import IndexMismatchError, IndexNotFoundError, RagError
from rag.index.generations import index_exists, load_index, save_index
from rag.index.store import IndexStore
from rag.pipeline import Pipeline
from rag.pipeline_factory import load_pipeline
from rag.settings import Settings
from rag.types import Document, DocumentMeta


def _generations(index_dir: Path) -> list[str]:
    return sorted(p.name for p in index_dir.iterdir() if p.is_dir())


def _current(index_dir: Path) -> str:
    return (index_dir / "CURRENT").read_text(encoding="utf-8").strip()


# ----------------------------------------------------------------------------------------- saving and loading


def test_save_load_roundtrip(tmp_path: Path) -> None:
    store = make_store(HAIZHU, SHAHEKOU)
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
    store = make_store(doc)
    save_index(store, tmp_path)
    assert load_index(tmp_path).documents == {doc.doc_id: doc}


def test_empty_index_roundtrip(tmp_path: Path) -> None:
    save_index(make_store(), tmp_path)
    loaded = load_index(tmp_path)
    assert loaded.documents == {} and loaded.chunks == []
    assert loaded.vectors.shape == (0, EMBEDDER.dimension)


def test_resave_creates_a_new_generation_and_removes_the_old(tmp_path: Path) -> None:
    store = make_store(HAIZHU)
    save_index(store, tmp_path)
    assert _generations(tmp_path) == ["gen-000001"] and _current(tmp_path) == "gen-000001"
    add_document(store, SHAHEKOU)
    save_index(store, tmp_path)
    assert _generations(tmp_path) == ["gen-000002"] and _current(tmp_path) == "gen-000002"
    assert set(load_index(tmp_path).documents) == {HAIZHU.doc_id, SHAHEKOU.doc_id}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".CURRENT")]


def test_leftover_temp_and_stale_generations_are_collected(tmp_path: Path) -> None:
    store = make_store(HAIZHU)
    save_index(store, tmp_path)
    # A writer that crashed mid-save, and one that crashed after renaming but before swapping CURRENT.
    (tmp_path / ".gen-000002-x1y2z3").mkdir()
    (tmp_path / ".gen-000002-x1y2z3" / "chunks.jsonl").write_text("{broken", encoding="utf-8")
    (tmp_path / "gen-000005").mkdir()
    assert set(load_index(tmp_path).documents) == {HAIZHU.doc_id}  # readers ignore the debris...
    assert _generations(tmp_path) == ["gen-000001"] and not (tmp_path / ".gen-000002-x1y2z3").exists()  # ...and sweep it
    add_document(store, SHAHEKOU)
    gen = save_index(store, tmp_path)
    assert gen.name == "gen-000002"  # past the live one; the orphan's number was never live, so nobody holds it
    assert _generations(tmp_path) == ["gen-000002"]
    assert set(load_index(tmp_path).documents) == {HAIZHU.doc_id, SHAHEKOU.doc_id}


def test_crash_while_writing_vectors_keeps_the_previous_generation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import faiss

    store = make_store(HAIZHU)
    save_index(store, tmp_path)
    add_document(store, SHAHEKOU)

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
    store = make_store(HAIZHU)
    save_index(store, tmp_path)
    add_document(store, SHAHEKOU)
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
    save_index(make_store(HAIZHU), tmp_path)
    manifest = tmp_path / _current(tmp_path) / "manifest.json"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace('"format_version": 1', '"format_version": 99'))
    with pytest.raises(IndexMismatchError, match="format 99"):
        load_index(tmp_path)


def test_unreadable_manifest_is_a_mismatch(tmp_path: Path) -> None:
    save_index(make_store(HAIZHU), tmp_path)
    (tmp_path / _current(tmp_path) / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(IndexMismatchError, match="unreadable"):
        load_index(tmp_path)


def test_a_reader_racing_a_writer_retries_the_new_generation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CURRENT moved on and the old generation was collected while a reader was opening it: not "corrupt"."""
    import rag.index.generations

    index_dir = tmp_path / "index"
    store = make_store(*DOCS[:1])
    save_index(store, index_dir)
    real = rag.index.generations._load_generation
    calls: list[str] = []

    def racing(index_dir_: Path, gen: Path) -> IndexStore:
        calls.append(gen.name)
        if len(calls) == 1:  # another writer saves (and collects gen-000001) right now
            other = make_store(*DOCS[:2])
            other.generation = gen.name
            save_index(other, index_dir)
        return real(index_dir_, gen)

    monkeypatch.setattr(rag.index.generations, "_load_generation", racing)
    assert sorted(load_index(index_dir).documents) == sorted(d.doc_id for d in DOCS[:2])
    assert calls == ["gen-000001", "gen-000002"]

# ----------------------------------------------------------------------------------------- debris of killed writers


def _debris(index_dir: Path) -> list[Path]:
    temp = index_dir / ".gen-000002-k1ll3d"
    temp.mkdir()
    (temp / "chunks.jsonl").write_text('{"half a li', encoding="utf-8")
    pointer = index_dir / ".CURRENT.4242"
    pointer.write_text("gen-000002", encoding="utf-8")
    return [temp, pointer]


def test_temporary_files_of_a_killed_writer_are_removed_on_next_open(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    save_index(make_store(*DOCS), index_dir)
    debris = _debris(index_dir)
    assert len(load_index(index_dir).documents) == len(DOCS)
    assert not any(p.exists() for p in debris)
    assert (index_dir / "CURRENT").is_file() and live_generation(index_dir).is_dir()


def test_temporary_files_of_a_live_writer_are_left_alone(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    save_index(make_store(*DOCS), index_dir)
    debris = _debris(index_dir)
    with held_in_thread(index_dir):  # a writer is at work: these are its files
        load_index(index_dir)
        assert all(p.exists() for p in debris)
    load_index(index_dir)
    assert not any(p.exists() for p in debris)


def test_next_save_also_sweeps_pointer_debris(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    store = make_store(*DOCS[:1])
    save_index(store, index_dir)
    debris = _debris(index_dir)
    save_index(store, index_dir)
    assert not any(p.exists() for p in debris)

# ----------------------------------------------------------------------------------------- nothing lost


def _pipeline(settings: Settings) -> Pipeline:
    return load_pipeline(settings, answering=False)


def test_a_stale_writer_keeps_what_another_writer_saved_meanwhile(
    hashing_settings: Settings, tmp_path: Path
) -> None:
    first = _pipeline(hashing_settings)
    first.ingest([write_report(tmp_path / "in", "a.txt", "海珠区", 7.7)])
    second = _pipeline(hashing_settings)  # loaded now; does not see what `first` does next
    first.ingest([write_report(tmp_path / "in", "b.txt", "沙河口区", 6.5)])
    second.ingest([write_report(tmp_path / "in", "c.txt", "武昌区", 11.0)])
    stored = load_index(hashing_settings.index_dir)
    assert sorted(stored.documents) == ["a.txt", "b.txt", "c.txt"]
    assert len(stored.chunks) == len(stored.vectors) == len(stored.tokens)
    assert sorted(d.doc_id for d in second.documents()) == ["a.txt", "b.txt", "c.txt"]  # caught up in memory
    hits = second.search("武昌区2019年地区生产总值预期增长").hits
    assert hits and hits[0].chunk.doc_id == "c.txt"


def test_a_stale_removal_does_not_resurrect_or_drop_others(
    hashing_settings: Settings, tmp_path: Path
) -> None:
    first = _pipeline(hashing_settings)
    first.ingest(
        [write_report(tmp_path / "in", "a.txt", "海珠区", 7.7), write_report(tmp_path / "in", "b.txt", "沙河口区", 6.5)]
    )
    second = _pipeline(hashing_settings)
    first.ingest([write_report(tmp_path / "in", "c.txt", "武昌区", 11.0)])
    second.remove("a.txt")
    assert sorted(load_index(hashing_settings.index_dir).documents) == ["b.txt", "c.txt"]


def test_writers_that_both_started_before_any_index_existed(
    hashing_settings: Settings, tmp_path: Path
) -> None:
    first, second = _pipeline(hashing_settings), _pipeline(hashing_settings)
    first.ingest([write_report(tmp_path / "in", "a.txt", "海珠区", 7.7)])
    second.ingest([write_report(tmp_path / "in", "b.txt", "沙河口区", 6.5)])
    assert sorted(load_index(hashing_settings.index_dir).documents) == ["a.txt", "b.txt"]


def test_concurrent_ingests_in_two_threads_lose_nothing(hashing_settings: Settings, tmp_path: Path) -> None:
    writers = [_pipeline(hashing_settings), _pipeline(hashing_settings)]
    batches = [
        [write_report(tmp_path / f"in{w}", f"w{w}-{i}.txt", f"测试{w}{i}区", 5.0 + i) for i in range(4)]
        for w in range(2)
    ]
    errors: list[BaseException] = []

    def run(pipeline: Pipeline, files: list[Path]) -> None:
        try:
            for f in files:
                pipeline.ingest([f])
        except RagError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(p, b)) for p, b in zip(writers, batches, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    stored = load_index(hashing_settings.index_dir)
    assert sorted(stored.documents) == sorted(f.name for batch in batches for f in batch)
    assert len(stored.chunks) == len(stored.vectors) == len(stored.tokens)
