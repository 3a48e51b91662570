"""Calibration cases over a retrieved index of training passages: corpus, withheld passages, labels."""

from __future__ import annotations

import json
from pathlib import Path

from rag.answering.calibration import AnswerFeatures
from rag.answering.retrieved_cases import (
    WITHHELD_SHARE,
    CandidateRow,
    best_by_margin,
    is_right,
    load_rows,
    passage_id,
    passage_title,
    save_rows,
    training_corpus,
    write_corpus,
    xquad_corpus,
)
from rag.reader.training_examples import Example


def example(i: int, context: str, *, impossible: bool = False, article: str = "") -> Example:
    answer = "" if impossible else context[:4]
    return Example(f"q{i}", f"问题{i}?", context, -1 if impossible else 0, answer, impossible, "test", article)


def test_a_quarter_of_the_slice_is_withheld_and_its_questions_have_no_answer() -> None:
    contexts = [f"第{i}段落,讲述了某件事情的经过。" for i in range(40)]
    slice_examples = [example(i, c) for i, c in enumerate(contexts)] + [example(99, contexts[0], impossible=True)]
    others = [example(1000 + i, f"其他段落{i},内容无关。") for i in range(200)]
    docs, questions = training_corpus(slice_examples, others, seed=3)
    indexed = {d.doc_id for d in docs}
    own = [q for q in questions if not q.example.impossible]
    withheld = [q for q in own if q.doc_id is None]
    assert len(withheld) == int(len(contexts) * WITHHELD_SHARE)
    assert all(passage_id(q.example.context) not in indexed for q in withheld)
    assert all(q.doc_id in indexed for q in own if q.doc_id is not None)
    assert next(q for q in questions if q.example.impossible).doc_id is None
    assert len(docs) == len(contexts) - len(withheld) + 2 * len(contexts)  # two distractors per slice passage
    assert training_corpus(slice_examples, others, seed=3) == (docs, questions)  # seeded


def test_distractors_come_first_from_the_slice_passages_own_articles() -> None:
    slice_examples = [example(i, f"甲文第{i}段。", article="A") for i in range(4)]
    siblings = [example(10 + i, f"甲文另一段{i}。", article="A") for i in range(5)]
    strangers = [example(20 + i, f"乙文第{i}段。", article="B") for i in range(50)]
    docs, _ = training_corpus(slice_examples, [*strangers, *siblings], seed=0)
    texts = {d.text for d in docs}
    assert all(s.context in texts for s in siblings)  # all five siblings fit in the budget of 2 x 4
    assert sum(1 for s in strangers if s.context in texts) == 8 - 5


def test_labels_follow_the_evaluations_span_judgement() -> None:
    assert is_right("111.2亿美元", "111.2亿美元")
    assert is_right("完成进出口总额111.2亿美元", "111.2亿美元")  # holds it, a little longer
    assert not is_right("主动对接中国(上海)自由贸易区,完成进出口总额111.2亿美元", "111.2亿美元")  # far longer
    assert is_right("新英格兰爱国者", "新英格兰爱国者队")  # most of it
    assert not is_right("5.99亿美元", "111.2亿美元")
    assert not is_right("", "x")


def test_titles_ids_and_the_written_corpus(tmp_path: Path) -> None:
    assert passage_title("《战国无双3》是由光荣开发的游戏。本作") == "《战国无双3》是由光荣开发的游戏"
    assert passage_id("甲") == passage_id("甲") != passage_id("乙")
    docs, _ = training_corpus([example(0, "一段话。")], [example(1, "另一段话。"), example(2, "第三段话。")], seed=0)
    path = write_corpus(docs, tmp_path / "c" / "corpus.jsonl")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [r["doc_id"] for r in rows] == [d.doc_id for d in docs] and all(r["text"] for r in rows)


def test_xquad_fitting_passages_are_withheld_by_quarter(tmp_path: Path) -> None:
    texts = [f"第{i}篇文章的段落。" for i in range(8)]
    with (tmp_path / "corpus_zh.jsonl").open("w", encoding="utf-8") as fh:
        for i, t in enumerate(texts):
            fh.write(json.dumps({"doc_id": f"xquad:test:{i}:0", "title": f"A{i}", "text": t}, ensure_ascii=False) + "\n")
    examples = [example(i, texts[i]) for i in range(8) if i % 2 == 1]
    docs, questions = xquad_corpus(tmp_path, examples, seed=1)
    assert len(docs) == 8 - int(4 * WITHHELD_SHARE)
    missing = {q.example.context for q in questions if q.doc_id is None}
    assert len(missing) == 1 and all(d.text not in missing for d in docs)


def test_each_question_is_fitted_on_the_readers_own_best_candidate_and_rows_round_trip(tmp_path: Path) -> None:
    def row(q: int, margin: float, right: bool, rank: int = 0) -> CandidateRow:
        return CandidateRow(q, AnswerFeatures(margin, margin, 0.0, 0.0, 0.0, True, True, 4, 1, 0, rank, 2, 0.5), right)

    rows = [row(0, 1.0, False), row(0, 3.0, True, 2), row(1, 0.5, False), row(0, 2.0, False)]
    assert best_by_margin(rows) == [rows[1], rows[2]]
    save_rows(rows, tmp_path / "rows.jsonl")
    assert load_rows(tmp_path / "rows.jsonl") == rows
