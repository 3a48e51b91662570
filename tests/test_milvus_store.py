"""rag/stores/milvus_store.py on milvus-lite: the same retrieval as FAISS, filters pushed down, deletes and
re-ingestion, and processes that pick up each other's documents."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from conftest import REPORTS_DIR, make_document

from rag.pipeline import Pipeline
from rag.pipeline_factory import load_pipeline
from rag.settings import Settings
from rag.types import QueryFilters
from rag.vector_store import VectorFilter

if TYPE_CHECKING:
    from rag.stores.milvus_store import MilvusStore

QUESTIONS = [
    "海珠区2018年地区生产总值增长目标是多少?",
    "What was Haizhu's 2018 GDP growth target?",
    "沙河口区2015年失业率控制在多少以内?",
    "武昌区2012年全口径财政收入是多少?",
    "在提及木渎和太湖的区政府工作总结中,全年完成进出口总额多少?",
]


def _milvus_lite_or_skip(path: Path) -> None:
    pytest.importorskip("pymilvus", reason='pymilvus is not installed: pip install -e ".[milvus]"')
    pytest.importorskip("milvus_lite", reason='milvus-lite is not installed: pip install -e ".[milvus]"')
    from rag.stores.milvus_store import MilvusStore, MilvusUnavailableError

    try:
        MilvusStore(str(path)).client.list_collections()
    except MilvusUnavailableError as exc:  # e.g. a platform milvus-lite has no build for
        pytest.skip(f"milvus-lite cannot start here: {exc}")


def milvus_settings(settings: Settings, root: Path) -> Settings:
    """The same settings on a milvus-lite file under root."""
    return settings.model_copy(
        update={"vector_store": "milvus", "milvus_uri": str(root / "milvus" / "store.db"), "store_refresh_s": 0.0}
    )


@pytest.fixture
def milvus_pipeline(hashing_settings: Settings, tmp_path: Path) -> Pipeline:
    _milvus_lite_or_skip(tmp_path / "probe" / "probe.db")
    pipeline = load_pipeline(milvus_settings(hashing_settings, tmp_path))
    report = pipeline.ingest([REPORTS_DIR])
    assert len(report.added) == 5 and not report.failed
    return pipeline


def test_filter_expressions() -> None:
    from rag.stores.milvus_store import filter_expression

    assert filter_expression(None) == filter_expression(VectorFilter()) == ""
    got = filter_expression(VectorFilter(frozenset({'a"b.txt'}), ("海珠区",), 2017, "district"))
    assert got == (
        'doc_id in ["a\\"b.txt"] and (region in ["海珠区"] or parent_region in ["海珠区"]) and '
        "(year == 2017 or plan_year == 2017 or array_contains(review_years, 2017)) and level == \"district\""
    )


@pytest.mark.milvus
def test_milvus_retrieves_what_faiss_retrieves(milvus_pipeline: Pipeline, hashing_pipeline: Pipeline) -> None:
    assert milvus_pipeline.snapshot.dense.kind == "milvus"
    for question in QUESTIONS:
        ours = [h.chunk.chunk_id for h in milvus_pipeline.search(question, k=8).hits]
        theirs = [h.chunk.chunk_id for h in hashing_pipeline.search(question, k=8).hits]
        assert ours == theirs, question
        a, b = milvus_pipeline.ask(question), hashing_pipeline.ask(question)
        assert (a.short_answer, a.refused) == (b.short_answer, b.refused)


@pytest.mark.milvus
def test_filters_are_pushed_down_and_an_empty_match_returns_nothing(milvus_pipeline: Pipeline) -> None:
    dense = milvus_pipeline.snapshot.dense
    q = milvus_pipeline.embedder.embed_queries(["地区生产总值增长目标"])
    haizhu = dense.search(q, 50, VectorFilter(regions=("海珠区",)))[0]
    rows = milvus_pipeline.snapshot.rows_of(haizhu.keys)
    assert len(rows) and {milvus_pipeline.snapshot.chunks[int(r)].doc_id for r in rows} == {
        d for d, doc in milvus_pipeline.snapshot.documents.items() if doc.meta.region == "海珠区"
    }
    assert len(dense.search(q, 50, VectorFilter(regions=("没有这个区",)))[0].keys) == 0
    assert len(dense.search(q, 50, VectorFilter(year=1900))[0].keys) == 0
    assert len(dense.search(q, 50, VectorFilter(doc_ids=frozenset()))[0].keys) == 0
    assert milvus_pipeline.search("地区生产总值", filters=QueryFilters(year=1900)).hits == ()
    assert milvus_pipeline.search("地区生产总值", filters=QueryFilters(level="no-such-level")).hits == ()
    only = milvus_pipeline.search("地区生产总值", k=5, filters=QueryFilters(region="海珠区")).hits
    assert only and all(h.meta.region == "海珠区" for h in only)


@pytest.mark.milvus
def test_delete_and_reingest_in_milvus(milvus_pipeline: Pipeline, hashing_settings: Settings, tmp_path: Path) -> None:
    doc_id = "001_a23e36bce40488e8.txt"  # 海珠区2018年政府工作报告
    milvus_pipeline.remove(doc_id)
    assert doc_id not in milvus_pipeline.snapshot.documents
    fresh = load_pipeline(milvus_settings(hashing_settings, tmp_path))  # what another process would load
    assert doc_id not in fresh.snapshot.documents and len(fresh.documents()) == 4
    assert all(h.chunk.doc_id != doc_id for h in fresh.search("海珠区2018年地区生产总值增长目标", k=20).hits)
    assert milvus_pipeline.ingest([REPORTS_DIR]).added == (doc_id,)
    again = load_pipeline(milvus_settings(hashing_settings, tmp_path))
    assert len(again.documents()) == 5
    answer = again.ask("海珠区2018年地区生产总值增长目标是多少?")
    assert answer.citations and answer.citations[0].doc_id == doc_id
    text = again.document(doc_id).text
    assert all(text[c.start : c.end] == c.quote for c in answer.citations)


@pytest.mark.milvus
def test_another_process_sees_new_and_changed_documents_without_restart(
    milvus_pipeline: Pipeline, hashing_settings: Settings, tmp_path: Path
) -> None:
    reader = load_pipeline(milvus_settings(hashing_settings, tmp_path))  # a second API process, say
    writer = milvus_pipeline
    text = "甲区2019年政府工作报告\n二、2019年工作安排\n今年预期目标是:地区生产总值增长6.8%左右。\n"
    writer.ingest_documents([make_document("jia.txt", text, region="甲区", year=2019, plan_year=2019)])
    assert "jia.txt" in reader.snapshot.documents  # refresh interval 0: the next read syncs
    hits = reader.search("甲区2019年地区生产总值增长目标", k=3).hits
    assert hits and hits[0].chunk.doc_id == "jia.txt"
    changed = text.replace("6.8%", "7.1%")
    writer.ingest_documents([replace(writer.snapshot.documents["jia.txt"], text=changed, content_hash="hash-2")])
    assert reader.snapshot.documents["jia.txt"].text == changed
    keys = reader.snapshot.keys
    assert len(np.unique(keys)) == len(keys)
    writer.remove("jia.txt")
    assert "jia.txt" not in reader.snapshot.documents


class _RacingClient:
    """A Milvus client whose create_collection loses a race: another process created the collection first."""

    def __init__(self, appears: bool) -> None:
        self.appears = appears
        self.created: list[str] = []

    def has_collection(self, name: str) -> bool:
        return self.appears and name in self.created

    def create_collection(self, name: str, **_: object) -> None:
        self.created.append(name)
        raise RuntimeError(f"collection '{name}' already exists")


def _store_on(client: _RacingClient) -> MilvusStore:
    pytest.importorskip("pymilvus", reason='pymilvus is not installed: pip install -e ".[milvus]"')
    from rag.stores.milvus_store import MilvusStore

    store = MilvusStore.__new__(MilvusStore)
    store.client, store.uri = client, "http://milvus.invalid:19530"
    return store


def test_a_collection_another_replica_created_first_is_accepted() -> None:
    store = _store_on(_RacingClient(appears=True))
    store._create_collection("govreport_chunks", schema=None, index=None, wait_s=1.0)


def test_a_create_that_fails_for_another_reason_names_the_collection() -> None:
    from rag.stores.milvus_store import MilvusUnavailableError

    store = _store_on(_RacingClient(appears=False))
    with pytest.raises(MilvusUnavailableError, match=r"govreport_chunks.*already exists"):
        store._create_collection("govreport_chunks", schema=None, index=None, wait_s=0.3)
