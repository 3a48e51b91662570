"""rag/pipeline.py: incremental ingest, removal, reloading, question validation; the real model and a killed ingest (slow)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import REPORTS_DIR, assert_citations_exact, make_document
from numpy.typing import NDArray

from embeddings.hashing import HashingEmbedder
from rag.errors import DocumentNotFoundError, InvalidQuestionError
from rag.index.generations import index_exists
from rag.pipeline import Pipeline
from rag.pipeline_factory import load_pipeline
from rag.settings import Settings

QUESTION_LIMIT: int = Settings.model_fields["max_question_chars"].default
HAIZHU_2018 = "001_a23e36bce40488e8.txt"

HAIZHU = (
    "海珠区2018年政府工作报告\n"
    "一、2017年工作回顾\n"
    "过去一年,实现地区生产总值1740.31亿元,同比增长7.6%。海珠湿地三期基本建成。\n"
    "二、2018年工作安排\n"
    "今年经济社会发展主要预期目标是:地区生产总值增长7.7%左右,一般公共预算收入增长2%。\n"
    "(一)全力打造琶洲创新特区\n"
    "加快琶洲互联网创新集聚区建设,推进18个落地项目。\n"
)
SHAHEKOU = (
    "2016年沙河口区政府工作报告\n"
    "一、2015年工作回顾\n"
    "全区地区生产总值增长6%。大商所实现期货交易量9.85亿手。\n"
    "二、2016年主要工作\n"
    "建议经济增长的主要预期目标为:地区生产总值增长6.5-7%。\n"
)


class CountingEmbedder:
    """The hashing embedder, counting the passages it embeds."""

    def __init__(self) -> None:
        self._inner = HashingEmbedder()
        self.passages = 0

    @property
    def model_id(self) -> str:
        return self._inner.model_id

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    def embed_documents(self, texts: list[str]) -> NDArray[np.float32]:
        self.passages += len(texts)
        return self._inner.embed_documents(texts)

    def embed_queries(self, texts: list[str]) -> NDArray[np.float32]:
        return self._inner.embed_queries(texts)


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "haizhu.txt").write_text(HAIZHU, encoding="utf-8")
    (folder / "shahekou.txt").write_text(SHAHEKOU, encoding="utf-8")
    return folder


def _counting(settings: Settings) -> tuple[Pipeline, CountingEmbedder]:
    pipeline = load_pipeline(settings)
    counter = CountingEmbedder()
    pipeline.embedder = counter
    return pipeline, counter


# ----------------------------------------------------------------------------------------- ingest


def test_ingest_adds_documents_and_saves_the_index(hashing_settings: Settings, reports: Path) -> None:
    pipeline, counter = _counting(hashing_settings)
    report = pipeline.ingest([reports])
    assert report.added == ("haizhu.txt", "shahekou.txt")
    assert report.updated == report.unchanged == report.failed == ()
    assert report.chunks_embedded == counter.passages == len(pipeline.store.chunks) > 0
    assert index_exists(hashing_settings.index_dir)
    assert [d.doc_id for d in pipeline.documents()] == ["haizhu.txt", "shahekou.txt"]
    info = pipeline.documents()[0]
    assert info.meta.region == "海珠区" and info.meta.year == 2018
    assert info.n_chunks == sum(1 for c in pipeline.store.chunks if c.doc_id == "haizhu.txt")
    assert info.source == str(reports / "haizhu.txt")


def test_reingesting_unchanged_files_embeds_nothing(hashing_settings: Settings, reports: Path) -> None:
    pipeline, _ = _counting(hashing_settings)
    pipeline.ingest([reports])
    generation = (hashing_settings.index_dir / "CURRENT").read_text(encoding="utf-8")
    counter = CountingEmbedder()
    pipeline.embedder = counter
    report = pipeline.ingest([reports])
    assert report.unchanged == ("haizhu.txt", "shahekou.txt")
    assert report.added == report.updated == ()
    assert report.chunks_embedded == 0 and counter.passages == 0
    assert (hashing_settings.index_dir / "CURRENT").read_text(encoding="utf-8") == generation  # nothing rewritten
    # ... and the same from a freshly loaded pipeline.
    fresh, fresh_counter = _counting(hashing_settings)
    report = fresh.ingest([reports])
    assert report.unchanged == ("haizhu.txt", "shahekou.txt") and report.chunks_embedded == 0
    assert fresh_counter.passages == 0


def test_changed_file_is_updated_and_its_old_chunks_are_gone(hashing_settings: Settings, reports: Path) -> None:
    pipeline, _ = _counting(hashing_settings)
    pipeline.ingest([reports])
    shahekou_chunks = [c for c in pipeline.store.chunks if c.doc_id == "shahekou.txt"]
    (reports / "haizhu.txt").write_text(HAIZHU.replace("7.7%左右", "8.2%左右"), encoding="utf-8")
    counter = CountingEmbedder()
    pipeline.embedder = counter
    report = pipeline.ingest([reports])
    assert report.updated == ("haizhu.txt",)
    assert report.unchanged == ("shahekou.txt",)
    mine = [c for c in pipeline.store.chunks if c.doc_id == "haizhu.txt"]
    assert report.chunks_embedded == counter.passages == len(mine)
    assert not any("7.7%" in c.text for c in pipeline.store.chunks)
    assert any("8.2%左右" in c.text for c in mine)
    assert [c for c in pipeline.store.chunks if c.doc_id == "shahekou.txt"] == shahekou_chunks
    assert len(pipeline.store.chunks) == len(pipeline.store.vectors) == len(pipeline.store.tokens)
    answer = pipeline.ask("海珠区2018年地区生产总值增长目标是多少?")
    assert answer.short_answer == "8.2%左右"
    assert_citations_exact(pipeline, answer)
    # The change is on disk.
    fresh = load_pipeline(hashing_settings)
    assert "8.2%左右" in fresh.document("haizhu.txt").text
    assert not any("7.7%" in c.text for c in fresh.store.chunks)


def test_remove(hashing_settings: Settings, reports: Path) -> None:
    pipeline = load_pipeline(hashing_settings)
    pipeline.ingest([reports])
    pipeline.remove("haizhu.txt")
    assert [d.doc_id for d in pipeline.documents()] == ["shahekou.txt"]
    assert {c.doc_id for c in pipeline.store.chunks} == {"shahekou.txt"}
    with pytest.raises(DocumentNotFoundError):
        pipeline.document("haizhu.txt")
    answer = pipeline.ask("海珠区2018年地区生产总值增长目标是多少?")
    assert all(c.doc_id == "shahekou.txt" for c in answer.citations)
    assert [d.doc_id for d in load_pipeline(hashing_settings).documents()] == ["shahekou.txt"]


def test_question_about_a_removed_region_is_refused(hashing_settings: Settings, reports: Path) -> None:
    pipeline = load_pipeline(hashing_settings)
    pipeline.ingest([reports])
    pipeline.remove("haizhu.txt")
    answer = pipeline.ask("海珠区2018年地区生产总值增长目标是多少?")
    assert answer.refused and "海珠区" in answer.answer


def test_remove_or_get_an_unknown_document(hashing_settings: Settings, reports: Path) -> None:
    pipeline = load_pipeline(hashing_settings)
    pipeline.ingest([reports])
    with pytest.raises(DocumentNotFoundError, match=r"nope\.txt"):
        pipeline.remove("nope.txt")
    with pytest.raises(DocumentNotFoundError, match=r"nope\.txt"):
        pipeline.document("nope.txt")
    assert len(pipeline.documents()) == 2


def test_unreadable_files_are_reported_while_the_others_index(hashing_settings: Settings, reports: Path) -> None:
    (reports / "notes.xyz").write_text("海珠区", encoding="utf-8")
    (reports / "broken.pdf").write_bytes(b"%PDF-1.4\n this is not really a pdf \x00\x01\x02")
    (reports / "empty.txt").write_bytes(b"")
    pipeline = load_pipeline(hashing_settings)
    report = pipeline.ingest([reports])
    assert report.added == ("haizhu.txt", "shahekou.txt")
    failed = dict(report.failed)
    assert set(failed) == {str(reports / "notes.xyz"), str(reports / "broken.pdf"), str(reports / "empty.txt")}
    assert "unsupported file type .xyz" in failed[str(reports / "notes.xyz")]
    assert failed[str(reports / "empty.txt")] == "empty file"
    assert [d.doc_id for d in load_pipeline(hashing_settings).documents()] == ["haizhu.txt", "shahekou.txt"]


def test_fresh_load_sees_the_same_documents_and_answers(hashing_settings: Settings, reports: Path) -> None:
    pipeline = load_pipeline(hashing_settings)
    pipeline.ingest([reports])
    fresh = load_pipeline(hashing_settings)
    assert fresh.documents() == pipeline.documents()
    assert fresh.store.chunks == pipeline.store.chunks
    question = "海珠区2018年地区生产总值增长目标是多少?"
    assert fresh.ask(question).citations == pipeline.ask(question).citations
    assert fresh.ask(question).short_answer == "7.7%左右"


def test_ingest_of_an_empty_folder_creates_an_empty_index(hashing_settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "nothing").mkdir()
    pipeline = load_pipeline(hashing_settings)
    report = pipeline.ingest([tmp_path / "nothing"])
    assert report.added == () and report.chunks_embedded == 0
    assert index_exists(hashing_settings.index_dir)
    assert load_pipeline(hashing_settings).documents() == []
    answer = pipeline.ask("海珠区2018年地区生产总值增长目标是多少?")
    assert answer.refused


def test_ingest_documents_and_jsonl_records(hashing_settings: Settings, tmp_path: Path) -> None:
    pipeline = load_pipeline(hashing_settings)
    doc = make_document("upload-1", HAIZHU, title="海珠区2018年政府工作报告", region="海珠区", year=2018, plan_year=2018)
    report = pipeline.ingest_documents([doc, doc])  # a repeated id in one batch is indexed once
    assert report.added == ("upload-1",)
    corpus = tmp_path / "corpus.jsonl"
    records = [
        {"doc_id": "gwr:1", "title": "2016年沙河口区政府工作报告", "text": SHAHEKOU, "meta": {"source": "test"}},
        {"doc_id": "", "text": "x"},
    ]
    corpus.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\nnot json\n", encoding="utf-8")
    report = pipeline.ingest([corpus])
    assert report.added == ("gwr:1",)
    assert [source for source, _ in report.failed] == [f"{corpus}:2", f"{corpus}:3"]
    assert ("source", "test") in pipeline.document("gwr:1").meta.source_meta


# ----------------------------------------------------------------------------------------- questions


@pytest.mark.parametrize("question", ["", "   ", "\n\t", "问" * (QUESTION_LIMIT + 1)])
def test_empty_or_too_long_question(hashing_pipeline: Pipeline, question: str) -> None:
    with pytest.raises(InvalidQuestionError):
        hashing_pipeline.ask(question)
    with pytest.raises(InvalidQuestionError):
        hashing_pipeline.search(question)
    with pytest.raises(InvalidQuestionError):
        next(iter(hashing_pipeline.ask_stream(question)))


def test_question_at_the_length_limit_is_accepted(hashing_pipeline: Pipeline) -> None:
    question = "海珠区2018年地区生产总值增长目标是多少?"
    padded = question + "。" * (QUESTION_LIMIT - len(question))
    assert len(padded) == QUESTION_LIMIT
    hashing_pipeline.ask(padded)  # no InvalidQuestionError


def test_too_long_question_message_names_the_limit(hashing_pipeline: Pipeline) -> None:
    with pytest.raises(InvalidQuestionError, match=str(QUESTION_LIMIT)):
        hashing_pipeline.ask("问" * (QUESTION_LIMIT + 5))


def test_search_result_shape(hashing_pipeline: Pipeline) -> None:
    result = hashing_pipeline.search("海珠区2018年地区生产总值增长目标是多少?", k=4)
    assert 0 < len(result.hits) <= 4
    assert result.query.regions == ("海珠区",)
    assert "retrieve" in result.timings_ms
    for hit in result.hits:
        doc = hashing_pipeline.document(hit.chunk.doc_id)
        assert doc.text[hit.chunk.start : hit.chunk.end] == hit.chunk.text


# ----------------------------------------------------------------------------------------- real model (slow)

E5_CACHE = Path.home() / ".cache" / "govreport-rag"
TARGET_QUOTE = "地区生产总值增长7.7%左右"


@pytest.fixture(scope="module")
def e5_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    root = tmp_path_factory.mktemp("e5-pipeline")
    settings = Settings(embedder="e5-small", index_dir=root / "index", cache_dir=E5_CACHE)
    pipeline = load_pipeline(settings)
    report = pipeline.ingest([REPORTS_DIR])
    assert len(report.added) == 5 and not report.failed
    return pipeline


@pytest.mark.slow
@pytest.mark.parametrize(
    "question",
    ["海珠区2018年地区生产总值增长目标是多少?", "What was Haizhu's 2018 GDP target?", "what was Haizhu's 2018 GDP target"],
)
def test_real_model_answers_the_haizhu_target(e5_pipeline: Pipeline, question: str) -> None:
    answer = e5_pipeline.ask(question)
    assert not answer.refused, answer.answer
    assert "7.7%" in answer.short_answer
    citation = answer.citations[0]
    assert citation.doc_id == HAIZHU_2018
    assert TARGET_QUOTE in citation.quote
    assert_citations_exact(e5_pipeline, answer)


@pytest.mark.slow
def test_real_model_index_reloads_and_refuses_honestly(e5_pipeline: Pipeline) -> None:
    fresh = load_pipeline(
        Settings(embedder="e5-small", index_dir=e5_pipeline.index_dir, cache_dir=E5_CACHE)
    )
    assert fresh.store.manifest.model_id == e5_pipeline.store.manifest.model_id
    assert [d.doc_id for d in fresh.documents()] == [d.doc_id for d in e5_pipeline.documents()]
    answer = fresh.ask("海珠区2019年地区生产总值增长目标是多少?")
    assert answer.refused and "2019" in answer.answer


_KILLED_WRITER = """
import sys
from pathlib import Path
from rag.pipeline_factory import load_pipeline
from rag.settings import Settings

index, reports, corpus = (Path(a) for a in sys.argv[1:4])
pipeline = load_pipeline(Settings(embedder="hashing", reader="none", index_dir=index, cache_dir=index.parent / "cache"))
pipeline.ingest([reports])
print("first ingest saved", flush=True)
pipeline.checkpoint_seconds = 0.2  # save generations often, so the kill may land in the middle of one
pipeline.ingest([corpus])
print("second ingest saved", flush=True)
"""


N_SYNTHETIC = 20


def _synthetic_corpus(path: Path, n: int = N_SYNTHETIC) -> None:
    """n report-like records of ~10,000 characters (a few seconds of ingest with the hashing embedder)."""
    base = (REPORTS_DIR / "003_72858070d2a0e224.txt").read_text(encoding="utf-8")[:10_000]
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            text = f"测试{i}区{2000 + i % 20}年政府工作报告\n" + base.replace("沙河口", f"测试{i}")
            record = {"doc_id": f"synthetic-{i:03d}", "title": f"测试{i}区政府工作报告", "text": text}
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")


@pytest.mark.slow
def test_killed_ingest_leaves_a_loadable_index(tmp_path: Path, fast_tokenizer: None) -> None:
    index = tmp_path / "index"
    corpus = tmp_path / "synthetic.jsonl"
    _synthetic_corpus(corpus)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(index), str(REPORTS_DIR), str(corpus)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == "first ingest saved", proc.stderr.read() if proc.stderr else ""
        time.sleep(1.0)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the second ingest finished before the kill; make the corpus bigger"

    settings = Settings(embedder="hashing", reader="none", index_dir=index, cache_dir=tmp_path / "cache")
    pipeline = load_pipeline(settings)
    ids = {d.doc_id for d in pipeline.documents()}
    assert {p.name for p in REPORTS_DIR.iterdir()} <= ids
    assert ids <= {p.name for p in REPORTS_DIR.iterdir()} | {f"synthetic-{i:03d}" for i in range(N_SYNTHETIC)}
    assert len(pipeline.store.chunks) == len(pipeline.store.vectors) == len(pipeline.store.tokens)
    answer = pipeline.ask("海珠区2018年地区生产总值增长目标是多少?")
    assert not answer.refused and "7.7%" in answer.short_answer
    assert_citations_exact(pipeline, answer)
    # The next writer finishes the job and sweeps the debris of the killed one.
    report = pipeline.ingest([corpus])
    assert len(report.added) + len(report.unchanged) == N_SYNTHETIC
    leftovers = [p.name for p in index.iterdir() if p.is_dir()]
    assert leftovers == [(index / "CURRENT").read_text(encoding="utf-8").strip()]
