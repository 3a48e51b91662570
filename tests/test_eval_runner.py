"""The eval runner with a fake QA system over tiny in-test gold files of both schemas."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from eval.external import pool_doc_ids, run_external, write_corpus_subset
from eval.gold import GoldFormatError, load_gold, read_gold_lines, sample_items
from eval.runner import evaluate, run_eval
from rag.errors import InvalidQuestionError
from rag.settings import Settings
from rag.types import (
    Answer,
    Chunk,
    Citation,
    DocumentMeta,
    Hit,
    IngestReport,
    ParsedQuery,
    QueryFilters,
    SearchResult,
)

DEV_LINES: list[dict[str, Any]] = [
    {
        "id": "q1",
        "question": "What was Haizhu's GDP growth target for 2018?",
        "lang": "en",
        "answer": "7.7%",
        "answer_aliases": ["7.7%左右"],
        "doc": "001.txt",
        "evidence": "地区生产总值增长7.7%左右",
        "type": "numeric",
        "difficulty": "easy",
    },
    {
        "id": "q2",
        "question": "<script>alert(1)</script>海珠区设立河长多少名?",
        "lang": "zh",
        "answer": "169名",
        "answer_aliases": ["169"],
        "doc": "001.txt",
        "evidence": "设立河长169名",
        "type": "numeric",
        "difficulty": "easy",
    },
    {
        "id": "q3",
        "question": "Which raised 低保标准 higher?",
        "lang": "en",
        "answer": "Haizhu",
        "answer_aliases": [],
        "doc": ["001.txt", "002.txt"],
        "evidence": ["低保标准提高到900元", "低保标准上调至每月750元"],
        "type": "multi_doc",
        "difficulty": "hard",
    },
    {
        "id": "q4",
        "question": "研发投入强度目标是多少?",
        "lang": "zh",
        "answer": None,
        "answer_aliases": [],
        "doc": None,
        "evidence": None,
        "type": "unanswerable",
        "difficulty": "hard",
    },
]

EXTERNAL_LINES: list[dict[str, Any]] = [
    {
        "qid": "ext:1",
        "question": "踩踏事故死亡人数",
        "q_lang": "zh-Hans",
        "answers": [],
        "answer_check": {"mode": "refusal"},
        "gold_doc_ids": [],
        "answerable": False,
        "answer_type": "unanswerable",
        "pool_doc_ids": ["n1", "n2"],
        "meta": {},
    },
    {
        "qid": "ext:2",
        "question": "RCEP包括哪些国家",
        "q_lang": "zh-Hans",
        "answers": ["中国", "日本"],
        "answer_check": {"mode": "all_groups_any_alt", "groups": [["中国"], ["日本"]]},
        "gold_doc_ids": ["p1"],
        "answerable": True,
        "answer_type": "short_fact",
        "pool_doc_ids": ["p1", "n1"],
        "meta": {},
    },
    {
        "qid": "ext:3",
        "question": "How many points?",
        "q_lang": "en",
        "answers": ["308"],
        "answer_check": {"mode": "any_of", "alts": ["308"]},
        "gold_doc_ids": ["x1"],
        "answerable": True,
        "answer_type": "span",
        "meta": {},
    },
]

PASSAGES = {
    "001.txt": [
        "今年主要预期目标是:地区生产总值增长7.7%左右,一般公共预算收入增长2%",
        "全面推行河长制,设立河长169名",
        "低保标准提高到900元",
    ],
    "002.txt": ["城乡低保标准上调至每月750元"],
    "p1": ["RCEP成员包括东盟、中国、日本"],
    "n1": ["无关新闻一"],
    "n2": ["无关新闻二"],
    "x1": ["黑豹队的防守只丢了308分"],
}

SCRIPT = {
    "q1": Answer(
        question="",
        short_answer="about 7.7%",
        answer="7.7% [1]",
        refused=False,
        language="en",
        citations=(Citation(1, "001.txt", "t", None, None, "", "地区生产总值增长7.7%左右", 0, 10, 1.0),),
    ),
    "q2": Answer(
        question="",
        short_answer="169名",
        answer="169名 [1]",
        refused=False,
        language="zh",
        citations=(Citation(1, "003.txt", "t", None, None, "", "设立河长169名", 0, 5, 1.0),),
    ),
    "q3": Answer(question="", short_answer="无法回答", answer="", refused=True, language="en"),
    "q4": Answer(question="", short_answer="2.5%", answer="2.5%", refused=False, language="zh"),
    "ext:1": Answer(question="", short_answer="信息不足", answer="", refused=True, language="zh"),
    "ext:2": Answer(question="", short_answer="中国和日本", answer="", refused=False, language="zh"),
    "ext:3": Answer(question="", short_answer="308分", answer="", refused=False, language="en"),
}


@dataclass
class FakeQA:
    """Scripted answers keyed by question; search ranks passages by characters shared with question and answer."""

    by_question: dict[str, Answer]
    calls: list[tuple[str, QueryFilters | None]] = field(default_factory=list)
    ingested: list[Path] = field(default_factory=list)
    fail_on: str | None = None

    def ask(self, question: str, *, filters: QueryFilters | None = None) -> Answer:
        self.calls.append((question, filters))
        if question == self.fail_on:
            raise InvalidQuestionError("question too long")
        return self.by_question[question]

    def search(self, question: str, *, k: int = 8, filters: QueryFilters | None = None) -> SearchResult:
        probe = set(question + self.by_question[question].short_answer)
        hits = []
        for doc_id, texts in PASSAGES.items():
            if filters is not None and filters.doc_ids is not None and doc_id not in filters.doc_ids:
                continue
            for n, text in enumerate(texts):
                score = float(len(probe & set(text)))
                chunk = Chunk(chunk_id=f"{doc_id}#{n}", doc_id=doc_id, text=text, start=0, end=len(text))
                hits.append(Hit(chunk=chunk, meta=DocumentMeta(title=doc_id), score=score))
        hits.sort(key=lambda h: -h.score)
        return SearchResult(query=ParsedQuery(text=question, language="zh"), hits=tuple(hits[:k]))

    def ingest(self, paths: Sequence[Path], *, progress: bool = False) -> IngestReport:
        self.ingested.extend(paths)
        return IngestReport(added=tuple(str(p) for p in paths))


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def fake_for(records: list[dict[str, Any]]) -> FakeQA:
    by_question = {str(r["question"]): SCRIPT[str(r.get("id") or r.get("qid"))] for r in records}
    return FakeQA(by_question)


def test_reads_both_schemas(tmp_path: Path) -> None:
    items = load_gold(write_jsonl(tmp_path / "g.jsonl", DEV_LINES + EXTERNAL_LINES))
    by_id = {i.id: i for i in items}
    assert by_id["q1"].answers == ("7.7%", "7.7%左右")
    assert by_id["q3"].doc_groups == (("001.txt",), ("002.txt",))
    assert by_id["q3"].evidence == ("低保标准提高到900元", "低保标准上调至每月750元")
    assert not by_id["q4"].answerable and by_id["q4"].check.mode == "refusal"
    assert by_id["ext:1"].lang == "zh" and by_id["ext:1"].pool_doc_ids == ("n1", "n2")
    assert by_id["ext:2"].check.groups == (("中国",), ("日本",))
    assert by_id["ext:3"].lang == "en" and by_id["ext:3"].pool_doc_ids is None
    assert by_id["ext:3"].doc_groups == (("x1",),) and by_id["ext:3"].evidence == ()


def test_bad_gold_line_names_the_line() -> None:
    with pytest.raises(GoldFormatError, match=":2:"):
        read_gold_lines(['{"id": "a", "question": "q", "answer": "1"}', '{"question": "no id"}'])


def test_sample_is_seeded_and_ordered(tmp_path: Path) -> None:
    items = load_gold(write_jsonl(tmp_path / "g.jsonl", DEV_LINES + EXTERNAL_LINES))
    a, b = sample_items(items, 3, seed=7), sample_items(items, 3, seed=7)
    assert a == b and len(a) == 3
    assert [items.index(i) for i in a] == sorted(items.index(i) for i in a)
    assert sample_items(items, None) == items


def test_evaluate_scores_dev_items(tmp_path: Path) -> None:
    items = load_gold(write_jsonl(tmp_path / "g.jsonl", DEV_LINES))
    results = {r.id: r for r in evaluate(fake_for(DEV_LINES), items)}
    assert results["q1"].correct and results["q1"].evidence_rank == 1 and results["q1"].doc_rank == 1
    assert results["q2"].correct and results["q2"].cited_docs == ("003.txt",)
    assert not results["q3"].correct and results["q3"].refused
    assert results["q3"].evidence_rank is not None  # both evidences retrieved from their own documents
    assert not results["q4"].correct and not results["q4"].refused  # answered an unanswerable question


def test_pool_filter_is_passed_per_question(tmp_path: Path) -> None:
    items = load_gold(write_jsonl(tmp_path / "g.jsonl", EXTERNAL_LINES))
    fake = fake_for(EXTERNAL_LINES)
    results = {r.id: r for r in evaluate(fake, items)}
    filters = dict(fake.calls)
    assert filters["踩踏事故死亡人数"] == QueryFilters(doc_ids=("n1", "n2"))
    assert filters["How many points?"] is None
    assert set(results["ext:1"].retrieved_docs) <= {"n1", "n2"}
    assert results["ext:1"].correct  # refused as expected
    assert results["ext:2"].correct and results["ext:3"].correct
    assert results["ext:3"].evidence_rank is None and results["ext:3"].doc_rank == 1


def test_run_eval_builds_fresh_index_and_writes_reports(tmp_path: Path) -> None:
    gold = write_jsonl(tmp_path / "g.jsonl", DEV_LINES + EXTERNAL_LINES)
    corpus = tmp_path / "reports"
    corpus.mkdir()
    out = tmp_path / "out"
    (out / "index").mkdir(parents=True)
    (out / "index" / "stale").write_text("old")
    fake = fake_for(DEV_LINES + EXTERNAL_LINES)
    seen_dirs: list[Path] = []

    def loader(settings: Settings, index_dir: Path) -> FakeQA:
        seen_dirs.append(index_dir)
        return fake

    report = run_eval(
        gold, corpus=[corpus], out_dir=out, settings=Settings(embedder="hashing", reader="none"), loader=loader
    )
    assert seen_dirs == [out / "index"] and not (out / "index" / "stale").exists()
    assert fake.ingested == [corpus]
    assert report.summary["n"] == 7 and report.summary["unanswerable"] == 2
    assert report.summary["answer_accuracy"] == pytest.approx(4 / 5)
    assert report.summary["rejection_rate"] == 0.5
    assert set(report.by_lang) == {"en", "zh"}
    for name in ("report.json", "report.md", "report.html"):
        assert (out / name).is_file()


def test_run_eval_uses_existing_index_and_limit(tmp_path: Path) -> None:
    gold = write_jsonl(tmp_path / "g.jsonl", DEV_LINES)
    fake = fake_for(DEV_LINES)
    seen: list[Path] = []

    def loader(settings: Settings, index_dir: Path) -> FakeQA:
        seen.append(index_dir)
        return fake

    report = run_eval(
        gold,
        index_dir=tmp_path / "idx",
        settings=Settings(embedder="hashing", reader="none"),
        limit=2,
        sample_seed=1,
        loader=loader,
    )
    assert seen == [tmp_path / "idx"] and fake.ingested == []
    assert report.summary["n"] == 2


def test_errors_are_recorded_per_item(tmp_path: Path) -> None:
    items = load_gold(write_jsonl(tmp_path / "g.jsonl", DEV_LINES[:2]))
    fake = fake_for(DEV_LINES[:2])
    fake.fail_on = DEV_LINES[0]["question"]
    results = evaluate(fake, items)
    assert results[0].error is not None and "InvalidQuestionError" in results[0].error
    assert not results[0].correct and results[1].correct


def test_rgb_pool_corpus_subset(tmp_path: Path) -> None:
    corpus = write_jsonl(
        tmp_path / "corpus.jsonl",
        [
            {"doc_id": d, "title": "", "text": t[0], "lang": "zh-Hans", "meta": {}}
            for d, t in PASSAGES.items()
        ],
    )
    items = load_gold(write_jsonl(tmp_path / "qa.jsonl", EXTERNAL_LINES[:2]))
    ids = pool_doc_ids(items)
    assert ids == {"n1", "n2", "p1"}
    assert write_corpus_subset(corpus, ids, tmp_path / "sub.jsonl") == 3
    written = [json.loads(line)["doc_id"] for line in (tmp_path / "sub.jsonl").read_text().splitlines()]
    assert written == ["p1", "n1", "n2"]


def test_run_external_rgb_reject(tmp_path: Path) -> None:
    root = tmp_path / "evaldata"
    (root / "rgb" / "normalized").mkdir(parents=True)
    write_jsonl(
        root / "rgb" / "normalized" / "corpus.jsonl",
        [
            {"doc_id": d, "title": "", "text": t[0], "lang": "zh-Hans", "meta": {}}
            for d, t in PASSAGES.items()
        ],
    )
    write_jsonl(root / "rgb" / "normalized" / "qa_reject.jsonl", EXTERNAL_LINES[:1])
    fake = fake_for(EXTERNAL_LINES[:1])
    out = tmp_path / "out"
    report = run_external(
        "rgb-reject",
        out_dir=out,
        settings=Settings(embedder="hashing", reader="none"),
        evaldata=root,
        loader=lambda settings, index_dir: fake,
    )
    assert fake.ingested == [out / "corpus_subset.jsonl"]
    assert report.summary["rejection_rate"] == 1.0
    assert (out / "report.html").is_file()
