"""rag/snapshot.py: readers see one immutable snapshot while documents are added and removed."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import REPORTS_DIR, make_document
from fastapi.testclient import TestClient

from rag.index.store import IndexStore
from rag.ingestion import passage_text
from rag.lexical import BM25, LexicalIndex
from rag.pipeline import Pipeline
from rag.pipeline_factory import load_pipeline
from rag.settings import Settings
from rag.snapshot import Snapshot
from rag.stores.faiss_store import FaissStore
from rag.types import Chunk

HAMMER_SECONDS = 6.0
MAX_SECONDS = 240.0
READERS = 4

QUESTIONS = [
    "甲区2018年地区生产总值增长目标是多少?",
    "甲区2018年一般公共预算收入是多少?",
    "海珠区2018年地区生产总值增长目标是多少?",
    "沙河口区2015年失业率控制在多少以内?",
    "What was Jia District's 2018 GDP growth target?",
]


def _version(v: int) -> str:
    """Version v of a report whose figures and length differ from every other version."""
    filler = "坚持稳中求进工作总基调,推动高质量发展。" * (v % 5 + 1)
    return (
        "甲区2018年政府工作报告\n一、2017年工作回顾\n"
        f"全年实现一般公共预算收入{100 + v}.5亿元,同比增长{v % 9 + 1}.2%。{filler}\n"
        "二、2018年工作安排\n"
        f"今年经济社会发展主要预期目标是:地区生产总值增长{v % 7 + 5}.{v % 10}%左右。{filler}\n"
    )


def _run_until(stop: threading.Event, errors: list[BaseException], enough: Any, seconds: float = HAMMER_SECONDS) -> None:
    """Let the threads run `seconds`, longer on a busy machine until `enough()` (at most MAX_SECONDS), then stop."""
    start = time.monotonic()
    while not errors and time.monotonic() - start < MAX_SECONDS and (time.monotonic() - start < seconds or not enough()):
        time.sleep(0.1)
    stop.set()


def _check_answer(answer: dict[str, Any], texts: dict[str, set[str]]) -> None:
    for c in answer["citations"]:
        versions = texts[c["doc_id"]]
        assert any(t[c["start"] : c["end"]] == c["quote"] for t in versions), c


def test_asks_during_uploads_and_deletes_always_quote_a_whole_document(
    hashing_settings: Settings, tmp_path: Path
) -> None:
    """POST /v1/ask from several threads while a writer uploads new versions and deletes documents."""
    from api.app import create_app

    settings = hashing_settings.model_copy(update={"rate_limit_per_minute": 10_000_000})
    pipeline = load_pipeline(settings)
    pipeline.ingest([REPORTS_DIR])
    texts: dict[str, set[str]] = defaultdict(set)
    for info in pipeline.documents():
        texts[info.doc_id].add(pipeline.document(info.doc_id).text)
    stop = threading.Event()
    errors: list[BaseException] = []
    answers: list[dict[str, Any]] = []
    writes = [0]

    with TestClient(create_app(settings, pipeline=pipeline)) as client:

        def writer() -> None:
            v = 0
            try:
                while not stop.is_set():
                    v += 1
                    name = f"jia-{v % 3}.txt"
                    resp = client.post("/v1/documents", files={"file": (name, _version(v).encode(), "text/plain")})
                    assert resp.status_code == 202, resp.text
                    url = resp.json()["status_url"]
                    while (job := client.get(url).json())["status"] in ("queued", "running"):
                        time.sleep(0.005)
                    assert job["status"] == "done", job
                    texts[name].add(pipeline.document(name).text)
                    if v % 4 == 0:
                        assert client.delete(f"/v1/documents/jia-{(v + 1) % 3}.txt").status_code in (204, 404)
                    writes[0] += 1
            except BaseException as exc:
                errors.append(exc)

        def reader(seed: int) -> None:
            i = seed
            try:
                while not stop.is_set():
                    resp = client.post("/v1/ask", json={"question": QUESTIONS[i % len(QUESTIONS)]})
                    assert resp.status_code == 200, resp.text
                    answers.append(resp.json())
                    i += 1
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader, args=(s,)) for s in range(READERS)]
        for t in threads:
            t.start()
        _run_until(stop, errors, lambda: writes[0] >= 3 and len(answers) >= 20)
        for t in threads:
            t.join(timeout=60)
    assert not errors, errors[0]
    assert writes[0] >= 3 and len(answers) >= 20, (writes, len(answers))
    cited = [a for a in answers if a["citations"]]
    assert any(c["doc_id"].startswith("jia-") for a in cited for c in a["citations"])
    for answer in cited:
        _check_answer(answer, texts)


def test_every_snapshot_keeps_chunks_vectors_and_bm25_rows_aligned(
    hashing_settings: Settings,
) -> None:
    """Readers sampling snapshots while a writer re-ingests and removes never see a mismatched row."""
    pipeline = load_pipeline(hashing_settings)
    pipeline.ingest([REPORTS_DIR])
    stop = threading.Event()
    errors: list[BaseException] = []
    checked = [0]

    def writer() -> None:
        v = 0
        try:
            while not stop.is_set():
                v += 1
                doc = make_document(f"jia-{v % 3}.txt", _version(v), region="甲区", year=2018, plan_year=2018)
                pipeline.ingest_documents([doc])
                gone = f"jia-{(v + 1) % 3}.txt"
                if v % 3 == 0 and gone in pipeline.store.documents:
                    pipeline.remove(gone)
        except BaseException as exc:
            errors.append(exc)

    def reader() -> None:
        rng = np.random.default_rng(0)
        try:
            while not stop.is_set():
                snap = pipeline.snapshot
                _assert_consistent(pipeline, snap, rng)
                pipeline.search("甲区2018年地区生产总值增长目标", k=5)
                checked[0] += 1
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    _run_until(stop, errors, lambda: checked[0] >= 10, HAMMER_SECONDS / 2)
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors[0]
    assert checked[0] >= 10


def _assert_consistent(pipeline: Pipeline, snap: Snapshot, rng: np.random.Generator) -> None:
    n = len(snap.chunks)
    assert len(snap.tokens) == len(snap.keys) == snap.lexical.n == n
    vectors = snap.dense.vectors  # type: ignore[attr-defined]
    assert len(vectors) == n
    for d, rows in snap.doc_rows.items():
        assert all(snap.chunks[int(r)].doc_id == d for r in rows)
    assert sum(len(r) for r in snap.doc_rows.values()) == n
    for r in rng.choice(n, size=min(n, 8), replace=False):
        chunk = snap.chunks[int(r)]
        doc = snap.documents[chunk.doc_id]
        assert doc.text[chunk.start : chunk.end] == chunk.text
        expected = pipeline.embedder.embed_documents([passage_text(doc, chunk)])[0]
        np.testing.assert_allclose(vectors[int(r)], expected, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------------ incremental building


def _random_docs(rng: np.random.Generator, n: int) -> list[tuple[str, ...]]:
    vocab = [f"词{i}" for i in range(60)]
    return [tuple(rng.choice(vocab, size=int(rng.integers(1, 30)))) for _ in range(n)]


def test_incremental_bm25_scores_equal_a_rebuild_after_adds_and_removals() -> None:
    rng = np.random.default_rng(7)
    keys = np.arange(1, 41, dtype=np.int64)
    tokens = _random_docs(rng, 40)
    index = LexicalIndex.build(keys, tokens)
    next_key = 41
    for step in range(25):
        keep = rng.random(len(keys)) > 0.15  # remove some rows, add a batch
        extra = int(rng.integers(1, 12))
        keys = np.concatenate([keys[keep], np.arange(next_key, next_key + extra, dtype=np.int64)])
        next_key += extra
        tokens = [t for t, k in zip(tokens, keep, strict=True) if k] + _random_docs(rng, extra)
        index = LexicalIndex.build(keys, tokens, index)
        fresh = BM25(tokens)
        for query in (["词1", "词2", "词2"], ["词7"], ["词59", "词3", "未知"]):
            np.testing.assert_allclose(index.scores(query), fresh.scores(query), rtol=1e-5, atol=1e-6)
            assert index.idf(query[0]) == pytest.approx(fresh.idf(query[0]))
        assert len(index.segments) <= 2 + int(np.log2(max(len(keys), 2))), step


def test_a_new_snapshot_reuses_the_segments_of_unchanged_rows() -> None:
    store = IndexStore.empty("hashing-8", 8, 60, 1)
    rng = np.random.default_rng(1)
    vectors = FaissStore()
    snap = Snapshot.build(store, vectors)
    for i in range(6):
        doc = make_document(f"d{i}.txt", f"第{i}号文件\n" + "内容。" * 10)
        chunk_tokens = _random_docs(rng, 3)
        chunks = [Chunk(f"d{i}.txt#{j}", f"d{i}.txt", doc.text[:5], 0, 5, ordinal=j) for j in range(3)]
        store.upsert(doc, chunks, chunk_tokens, rng.random((3, 8)).astype(np.float32))
        before = snap
        snap = Snapshot.build(store, vectors, before)
        assert before.chunks == tuple(c for c in store.chunks[: len(before.chunks)])  # the old one never changed
    first = snap.lexical.segments[0]
    store.remove("d5.txt")
    after = Snapshot.build(store, vectors, snap)
    assert after.lexical.segments[0] is first
    assert "d5.txt" not in after.documents and "d5.txt" in snap.documents
    assert sum(len(r) for r in after.doc_rows.values()) == len(after.chunks) == 15
