"""Damaged index files, debris of killed writers and concurrent writers (rag/index.py, Pipeline's writer lock):
clear errors naming the file, nothing lost, nobody corrupting anybody."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO_ROOT, make_document

from embeddings.hashing import HashingEmbedder
from rag.chunking import chunk_document
from rag.errors import IndexCorruptError, IndexLockedError, RagError
from rag.index import IndexStore, load_index, save_index, writer_lock
from rag.pipeline import Pipeline, load_pipeline
from rag.settings import Settings
from rag.types import Document

EMBEDDER = HashingEmbedder(dimension=32)


def _store(*docs: Document) -> IndexStore:
    store = IndexStore.empty(EMBEDDER.model_id, EMBEDDER.dimension, chunk_size=60, chunk_overlap=1)
    for doc in docs:
        chunks = chunk_document(doc, chunk_size=60, overlap=1)
        tokens = [tuple(c.text[:4]) for c in chunks]
        store.upsert(doc, chunks, tokens, EMBEDDER.embed_documents([c.text for c in chunks]))
    return store


DOCS = [
    make_document(
        f"{region}.txt",
        f"{region}{year}年政府工作报告\n今年地区生产总值增长{rate}%左右。\n",
        region=region,
        year=year,
    )
    for region, year, rate in (("海珠区", 2018, 7.7), ("沙河口区", 2016, 6.5), ("武昌区", 2012, 11))
]


def _live(index_dir: Path) -> Path:
    return index_dir / (index_dir / "CURRENT").read_text(encoding="utf-8").strip()


def _snapshot(index_dir: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(index_dir)): p.read_bytes() for p in sorted(index_dir.rglob("*")) if p.is_file()
    }


def _report(folder: Path, name: str, region: str, rate: float) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"{region}2019年政府工作报告\n今年地区生产总值预期增长{rate}%左右。\n", encoding="utf-8")
    return path


# ----------------------------------------------------------------------------------- damaged files


def _truncate(name: str, keep: float) -> Callable[[Path], Path]:
    def damage(gen: Path) -> Path:
        path = gen / name
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * keep)])
        return path

    return damage


def _replace(name: str, data: bytes) -> Callable[[Path], Path]:
    def damage(gen: Path) -> Path:
        (gen / name).write_bytes(data)
        return gen / name

    return damage


def _delete(name: str) -> Callable[[Path], Path]:
    def damage(gen: Path) -> Path:
        (gen / name).unlink()
        return gen / name

    return damage


def _nan_vectors(gen: Path) -> Path:
    import faiss

    flat = faiss.IndexFlatIP(EMBEDDER.dimension)
    n = sum(1 for _ in (gen / "chunks.jsonl").open(encoding="utf-8"))
    flat.add(np.full((n, EMBEDDER.dimension), np.nan, dtype=np.float32))
    faiss.write_index(flat, str(gen / "vectors.faiss"))
    return gen / "vectors.faiss"


def _orphan_chunk(gen: Path) -> Path:
    path = gen / "chunks.jsonl"
    path.write_text(
        path.read_text(encoding="utf-8").replace('"doc_id": "海珠区.txt"', '"doc_id": "ghost.txt"'),
        encoding="utf-8",
    )
    return path


def _pointer(data: bytes) -> Callable[[Path], Path]:
    def damage(gen: Path) -> Path:
        (gen.parent / "CURRENT").write_bytes(data)
        return gen.parent / "CURRENT"

    return damage


def _lost_generation(gen: Path) -> Path:
    for p in gen.iterdir():
        p.unlink()
    gen.rmdir()
    return gen.parent / "CURRENT"


DAMAGE: dict[str, Callable[[Path], Path]] = {
    "vectors truncated": _truncate("vectors.faiss", 0.5),
    "vectors emptied": _truncate("vectors.faiss", 0),
    "vectors overwritten": _replace("vectors.faiss", b"\x01" * 1000),
    "vectors missing": _delete("vectors.faiss"),
    "vectors NaN": _nan_vectors,
    "chunks truncated": _truncate("chunks.jsonl", 0.5),
    "chunks emptied": _truncate("chunks.jsonl", 0),
    "chunks not JSON": _replace("chunks.jsonl", b"{not json\n"),
    "chunks of the wrong shape": _replace("chunks.jsonl", b'{"chunk_id": 1}\n'),
    "chunks missing": _delete("chunks.jsonl"),
    "chunk of an unknown document": _orphan_chunk,
    "documents truncated": _truncate("documents.jsonl", 0.5),
    "documents of the wrong shape": _replace("documents.jsonl", b"[1, 2]\n"),
    "documents missing": _delete("documents.jsonl"),
    "manifest truncated": _truncate("manifest.json", 0.5),
    "manifest binary": _replace("manifest.json", b"\xff\xfe\x00\x01"),
    "manifest of the wrong shape": _replace("manifest.json", b'{"format_version": 1, "model_id": 5}'),
    "manifest missing": _delete("manifest.json"),
    "CURRENT binary": _pointer(b"\xff\xfe\x00"),
    "CURRENT empty": _pointer(b""),
    "CURRENT escaping the directory": _pointer(b"../../etc"),
    "generation directory gone": _lost_generation,
}


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_damaged_index_file_is_a_clear_error_naming_it(
    tmp_path: Path, damage: Callable[[Path], Path]
) -> None:
    index_dir = tmp_path / "index"
    save_index(_store(*DOCS), index_dir)
    damaged = damage(_live(index_dir))
    before = _snapshot(index_dir)
    with pytest.raises(IndexCorruptError) as err:
        load_index(index_dir)
    message = str(err.value)
    assert str(damaged) in message, message
    assert f"remove {index_dir}" in message and "rag ingest" in message
    assert "\n" not in message and "Traceback" not in message
    assert _snapshot(index_dir) == before  # reading never "repairs" (deletes) anything


def test_damaged_index_is_one_line_from_the_cli(
    tmp_path: Path, clean_rag_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from cli.main import main

    index_dir = tmp_path / "index"
    pipeline = load_pipeline(
        Settings(embedder="hashing", reader="none", index_dir=index_dir, cache_dir=tmp_path / "c"),
        answering=False,
    )
    pipeline.ingest([_report(tmp_path / "in", "a.txt", "海珠区", 7.7)])
    _truncate("chunks.jsonl", 0.4)(_live(index_dir))
    assert main(["docs", "--index", str(index_dir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "chunks.jsonl" in err and "rag ingest" in err


def test_damaged_index_makes_the_api_unready_not_broken(tmp_path: Path, fast_tokenizer: None) -> None:
    from fastapi.testclient import TestClient

    from api import create_app

    settings = Settings(embedder="hashing", reader="none", index_dir=tmp_path / "index", cache_dir=tmp_path / "c",
                        rate_limit_per_minute=0)  # fmt: skip
    load_pipeline(settings, answering=False).ingest([_report(tmp_path / "in", "a.txt", "海珠区", 7.7)])
    _truncate("vectors.faiss", 0.5)(_live(settings.index_dir))
    with TestClient(create_app(settings, loader=lambda s: load_pipeline(s, answering=False))) as client:
        deadline = time.monotonic() + 30
        while "vectors.faiss" not in client.get("/readyz").text and time.monotonic() < deadline:
            time.sleep(0.05)
        ready = client.get("/readyz")
        assert ready.status_code == 503 and "vectors.faiss" in ready.json()["detail"]
        ask = client.post("/v1/ask", json={"question": "海珠区地区生产总值增长目标"})
        assert ask.status_code == 503 and ask.headers["content-type"].startswith("application/problem+json")


def test_a_reader_racing_a_writer_retries_the_new_generation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CURRENT moved on and the old generation was collected while a reader was opening it: not "corrupt"."""
    import rag.index

    index_dir = tmp_path / "index"
    store = _store(*DOCS[:1])
    save_index(store, index_dir)
    real = rag.index._load_generation
    calls: list[str] = []

    def racing(index_dir_: Path, gen: Path) -> IndexStore:
        calls.append(gen.name)
        if len(calls) == 1:  # another writer saves (and collects gen-000001) right now
            other = _store(*DOCS[:2])
            other.generation = gen.name
            save_index(other, index_dir)
        return real(index_dir_, gen)

    monkeypatch.setattr(rag.index, "_load_generation", racing)
    assert sorted(load_index(index_dir).documents) == sorted(d.doc_id for d in DOCS[:2])
    assert calls == ["gen-000001", "gen-000002"]


# ----------------------------------------------------------------------------------- debris of killed writers


def _debris(index_dir: Path) -> list[Path]:
    temp = index_dir / ".gen-000002-k1ll3d"
    temp.mkdir()
    (temp / "chunks.jsonl").write_text('{"half a li', encoding="utf-8")
    pointer = index_dir / ".CURRENT.4242"
    pointer.write_text("gen-000002", encoding="utf-8")
    return [temp, pointer]


def test_temporary_files_of_a_killed_writer_are_removed_on_next_open(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    save_index(_store(*DOCS), index_dir)
    debris = _debris(index_dir)
    assert len(load_index(index_dir).documents) == len(DOCS)
    assert not any(p.exists() for p in debris)
    assert (index_dir / "CURRENT").is_file() and _live(index_dir).is_dir()


def test_temporary_files_of_a_live_writer_are_left_alone(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    save_index(_store(*DOCS), index_dir)
    debris = _debris(index_dir)
    with _held_in_thread(index_dir):  # a writer is at work: these are its files
        load_index(index_dir)
        assert all(p.exists() for p in debris)
    load_index(index_dir)
    assert not any(p.exists() for p in debris)


def test_next_save_also_sweeps_pointer_debris(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    store = _store(*DOCS[:1])
    save_index(store, index_dir)
    debris = _debris(index_dir)
    save_index(store, index_dir)
    assert not any(p.exists() for p in debris)


# ----------------------------------------------------------------------------------- the writer lock


@contextmanager
def _held_in_thread(index_dir: Path, *, release_after: float | None = None) -> Iterator[None]:
    """Hold the writer lock of a directory in another thread, for the `with` block or `release_after` seconds."""
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with writer_lock(index_dir):
            held.set()
            release.wait(release_after)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert held.wait(10)
    try:
        yield
    finally:
        release.set()
        thread.join(10)


def test_second_writer_in_another_thread_times_out_with_a_clear_error(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    with _held_in_thread(index_dir):
        started = time.monotonic()
        with pytest.raises(IndexLockedError) as err, writer_lock(index_dir, timeout=0.3):
            pass
        assert time.monotonic() - started >= 0.25  # it waited before giving up
    assert f"another ingest is running on {index_dir}" in str(err.value)
    with writer_lock(index_dir, timeout=0):  # released: free again
        pass


def test_second_writer_waits_for_the_first_to_finish(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    with _held_in_thread(index_dir, release_after=0.3):
        started = time.monotonic()
        with writer_lock(index_dir, timeout=30):
            waited = time.monotonic() - started
    assert waited >= 0.2


_HOLDER = """
import sys
from pathlib import Path
from rag.index import writer_lock

with writer_lock(Path(sys.argv[1])):
    print("locked", flush=True)
    sys.stdin.read()
"""


def test_writer_lock_holds_across_processes(
    tmp_path: Path, hashing_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    index_dir = hashing_settings.index_dir
    pipeline = load_pipeline(hashing_settings, answering=False)
    pipeline.ingest([_report(tmp_path / "in", "a.txt", "海珠区", 7.7)])
    before = _snapshot(index_dir)
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(index_dir)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked", holder.stderr
        monkeypatch.setattr("rag.index.WRITER_LOCK_TIMEOUT_S", 0.5)
        with pytest.raises(IndexLockedError, match="another ingest is running on"):
            pipeline.ingest([_report(tmp_path / "in", "b.txt", "沙河口区", 6.5)])
        with pytest.raises(IndexLockedError):
            pipeline.remove("a.txt")
        assert _snapshot(index_dir) == before  # the locked-out writer wrote nothing
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(30)
    report = pipeline.ingest([tmp_path / "in"])  # the holder is gone: the same call now succeeds
    assert report.added == ("b.txt",) and not report.failed
    assert sorted(load_index(index_dir).documents) == ["a.txt", "b.txt"]


def test_the_package_imports_without_fcntl() -> None:
    """Windows has no fcntl; the writer lock must not need it."""
    code = "import sys; sys.modules['fcntl'] = None; import rag.pipeline, rag.index, rag.loading, api.app"
    subprocess.run([sys.executable, "-W", "ignore", "-c", code], check=True, cwd=REPO_ROOT, timeout=120)


# ----------------------------------------------------------------------------------- nothing lost


def _pipeline(settings: Settings) -> Pipeline:
    return load_pipeline(settings, answering=False)


def test_a_stale_writer_keeps_what_another_writer_saved_meanwhile(
    hashing_settings: Settings, tmp_path: Path
) -> None:
    first = _pipeline(hashing_settings)
    first.ingest([_report(tmp_path / "in", "a.txt", "海珠区", 7.7)])
    second = _pipeline(hashing_settings)  # loaded now; does not see what `first` does next
    first.ingest([_report(tmp_path / "in", "b.txt", "沙河口区", 6.5)])
    second.ingest([_report(tmp_path / "in", "c.txt", "武昌区", 11.0)])
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
        [_report(tmp_path / "in", "a.txt", "海珠区", 7.7), _report(tmp_path / "in", "b.txt", "沙河口区", 6.5)]
    )
    second = _pipeline(hashing_settings)
    first.ingest([_report(tmp_path / "in", "c.txt", "武昌区", 11.0)])
    second.remove("a.txt")
    assert sorted(load_index(hashing_settings.index_dir).documents) == ["b.txt", "c.txt"]


def test_writers_that_both_started_before_any_index_existed(
    hashing_settings: Settings, tmp_path: Path
) -> None:
    first, second = _pipeline(hashing_settings), _pipeline(hashing_settings)
    first.ingest([_report(tmp_path / "in", "a.txt", "海珠区", 7.7)])
    second.ingest([_report(tmp_path / "in", "b.txt", "沙河口区", 6.5)])
    assert sorted(load_index(hashing_settings.index_dir).documents) == ["a.txt", "b.txt"]


def test_concurrent_ingests_in_two_threads_lose_nothing(hashing_settings: Settings, tmp_path: Path) -> None:
    writers = [_pipeline(hashing_settings), _pipeline(hashing_settings)]
    batches = [
        [_report(tmp_path / f"in{w}", f"w{w}-{i}.txt", f"测试{w}{i}区", 5.0 + i) for i in range(4)]
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
