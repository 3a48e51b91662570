"""SIGKILL an ingest process at the worst moments: while embedding, while writing the new generation, and
while swapping CURRENT. The previous index must load unchanged, the leftovers of the dead writer must be
swept up by the next open, and the next ingest must work (the writer lock died with its holder).

The child is a real `python -c` process over the hashing embedder; it stops itself at the crash point by a
monkeypatch (a marker file says it got there), then the test kills it with SIGKILL. No hooks in rag/.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import REPO_ROOT, make_document, make_hashing_settings

from rag.index.generations import load_index
from rag.index.lock import writer_lock
from rag.pipeline import Pipeline
from rag.pipeline_factory import load_pipeline
from rag.settings import Settings

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")

START_TIMEOUT_S = 300  # importing jieba/faiss in a child on a busy CI machine

CHILD = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path

    mode, root, corpus, marker = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])

    def stop_here(what):
        tmp = marker.with_name(marker.name + ".tmp")
        tmp.write_text(what)
        os.rename(tmp, marker)  # whole, never half-written (os.replace may be patched below)
        time.sleep(600)  # the parent SIGKILLs us here

    import embeddings.hashing
    import rag.index.generations

    if mode == "embedding":
        real_embed = embeddings.hashing.HashingEmbedder.embed_documents
        calls = []

        def embed_documents(self, texts):
            calls.append(1)
            if len(calls) == 1:  # killed while embedding the new documents, before anything is saved
                stop_here("embedding")
            return real_embed(self, texts)

        embeddings.hashing.HashingEmbedder.embed_documents = embed_documents
    elif mode == "generation":
        real_fsync = rag.index.generations._fsync

        def fsync(path):
            if path.parent.name.startswith(".gen-") and path.name == "vectors.faiss":
                stop_here("generation")  # every file of the new generation written, not yet renamed
            real_fsync(path)

        rag.index.generations._fsync = fsync
    elif mode in ("current", "collect"):
        real_replace = os.replace

        def replace(src, dst):
            if mode == "current" and Path(dst).name == "CURRENT":
                stop_here("current")  # new generation renamed into place, .CURRENT.<pid> written, not swapped
            real_replace(src, dst)

        rag.index.generations.os.replace = replace
        if mode == "collect":
            rag.index.generations._collect_garbage = lambda index_dir, keep: stop_here("collect")  # CURRENT swapped
    else:
        raise SystemExit(f"unknown mode {mode}")

    from rag.pipeline_factory import load_pipeline
    from rag.settings import Settings

    settings = Settings(embedder="hashing", reader="none", index_dir=root / "index", cache_dir=root / "cache")
    pipeline = load_pipeline(settings, answering=False)
    pipeline.checkpoint_seconds = 1e9  # one save at the end, however slow the machine
    pipeline.ingest([corpus])
    stop_here("finished")  # the crash point was never reached
    """
)

OLD = {
    "100_old.txt": (
        "老城区2019年政府工作报告\n\n一、2018年工作回顾\n\n全年地区生产总值增长6.1%。\n",
        "老城区",
    ),
    "101_old.txt": (
        "旧港县2019年政府工作报告\n\n二、2019年工作安排\n\n一般公共预算收入增长5%左右。\n",
        "旧港县",
    ),
}
NEW = [
    {
        "doc_id": f"2{i:02d}_new",
        "title": f"新区{2010 + i}年政府工作报告",
        "text": f"新区{2010 + i}年政府工作报告\n\n"
        + f"今年预期目标是:地区生产总值增长{i}.5%左右。居民收入同步增长。\n" * 3,
        "meta": {},
    }
    for i in range(6)
]


def _old_index(root: Path) -> Pipeline:
    pipeline = load_pipeline(make_hashing_settings(root), answering=False)
    docs = [
        make_document(doc_id, text, title=text.split("\n", 1)[0], region=region, year=2019)
        for doc_id, (text, region) in OLD.items()
    ]
    assert len(pipeline.ingest_documents(docs).added) == 2
    return pipeline


def _leftovers(index_dir: Path) -> list[str]:
    return sorted(p.name for p in index_dir.iterdir() if p.name.startswith("."))


def _kill_at(mode: str, root: Path) -> subprocess.Popen[bytes]:
    corpus = root / "new.jsonl"
    corpus.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in NEW), encoding="utf-8")
    marker = root / f"marker-{mode}"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, mode, str(root), str(corpus), str(marker)],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while not marker.exists():
            if child.poll() is not None:
                out = child.stdout.read().decode(errors="replace") if child.stdout else ""
                pytest.fail(f"the ingest child exited ({child.returncode}) before {mode!r}:\n{out[-3000:]}")
            assert time.monotonic() < deadline, f"the ingest child never reached {mode!r}"
            time.sleep(0.05)
        assert marker.read_text() == mode, f"the child finished without reaching {mode!r}"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    return child


@pytest.mark.parametrize("mode", ["embedding", "generation", "current"])
def test_sigkill_mid_ingest_leaves_the_previous_index_live(
    mode: str, tmp_path: Path, fast_tokenizer: None
) -> None:
    settings = make_hashing_settings(tmp_path)
    index_dir = settings.index_dir
    live_before = _old_index(tmp_path).store.generation
    assert live_before == (index_dir / "CURRENT").read_text().strip()

    _kill_at(mode, tmp_path)
    if mode != "embedding":
        assert _leftovers(index_dir) != [".lock"], "the kill left no debris: the test did not hit the write"

    store = load_index(index_dir)  # the next open
    assert store.generation == live_before
    assert sorted(store.documents) == sorted(OLD)
    assert all(store.documents[d].text == text for d, (text, _) in OLD.items())
    assert len(store.vectors) == len(store.chunks) > 0
    assert _leftovers(index_dir) == [".lock"], "temporary files of the killed writer were not swept"
    # A generation renamed into place but never made live ("current") is swept by the same open.
    assert [p.name for p in index_dir.iterdir() if p.name.startswith("gen-")] == [live_before]
    with writer_lock(index_dir, timeout=5):  # the dead process's lock is gone with it
        pass

    # The interrupted ingest simply runs again: everything is there, nothing twice, only one generation left.
    pipeline = load_pipeline(settings, answering=False)
    report = pipeline.ingest([tmp_path / "new.jsonl"])
    assert not report.failed and len(report.added) == len(NEW)
    assert sorted(load_index(index_dir).documents) == sorted([*OLD, *(r["doc_id"] for r in NEW)])
    assert [p.name for p in index_dir.iterdir() if p.name.startswith("gen-")] == [pipeline.store.generation]
    assert _leftovers(index_dir) == [".lock"]


def test_sigkill_after_the_current_swap_keeps_the_new_index(tmp_path: Path, fast_tokenizer: None) -> None:
    settings = make_hashing_settings(tmp_path)
    old_generation = _old_index(tmp_path).store.generation
    _kill_at(
        "collect", tmp_path
    )  # CURRENT already names the new generation; the old one is not collected yet

    store = load_index(settings.index_dir)
    assert store.generation != old_generation
    assert [p.name for p in settings.index_dir.iterdir() if p.name.startswith("gen-")] == [store.generation]
    assert sorted(store.documents) == sorted([*OLD, *(r["doc_id"] for r in NEW)])
    assert len(store.vectors) == len(store.chunks)
    pipeline = load_pipeline(settings, answering=False)
    assert pipeline.ingest([tmp_path / "new.jsonl"]).unchanged  # nothing to redo
    pipeline.remove("100_old.txt")  # the next save collects the old generation the dead writer left
    assert [p.name for p in settings.index_dir.iterdir() if p.name.startswith("gen-")] == [
        pipeline.store.generation
    ]


def test_answers_from_the_recovered_index_cite_exactly(tmp_path: Path, fast_tokenizer: None) -> None:
    settings: Settings = make_hashing_settings(tmp_path)
    _old_index(tmp_path)
    _kill_at("generation", tmp_path)
    pipeline = load_pipeline(settings)
    top = pipeline.search("老城区 全年 地区生产总值 增长", k=3).hits[0]
    assert "6.1%" in top.chunk.text  # vectors, chunks and documents of the recovered index line up
    assert pipeline.document(top.chunk.doc_id).text[top.chunk.start : top.chunk.end] == top.chunk.text
    answer = pipeline.ask("老城区全年地区生产总值增长多少?")
    for citation in answer.citations:
        text = pipeline.document(citation.doc_id).text
        assert text[citation.start : citation.end] == citation.quote
