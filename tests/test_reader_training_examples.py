"""Reader training examples (rag/reader/training_examples.py): the SQuAD-layout files, DRCD in simplified, the slice."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rag.reader.training_examples import (
    CALIBRATION_PERCENT,
    TRAIN_FILES,
    Example,
    is_calibration,
    load_examples,
)

pytest.importorskip("opencc")


def squad(context: str, *qas: dict[str, Any]) -> dict[str, Any]:
    return {"data": [{"title": "t", "paragraphs": [{"context": context, "qas": list(qas)}]}]}


def qa(qid: str, question: str, answer: str | None = None, start: int = 0, **extra: Any) -> dict[str, Any]:
    answers = [] if answer is None else [{"text": answer, "answer_start": start}]
    return {"id": qid, "question": question, "answers": answers, **extra}


@pytest.fixture
def train_dir(tmp_path: Path) -> Path:
    files = {
        "drcd_dev.squad.json": squad("臺灣的經濟發展很快。", qa("d1", "甚麼發展最快？", "經濟", 3)),
        "drcd_test.squad.json": squad("經濟，經濟。", qa("d2", "甚麼？", "經濟", 2)),  # offset between the two
        "cmrc2018_trial.squad.json": squad("海珠区增长8%。", qa("c1", "增长多少?", "8%", 5), qa("c2", "缺?", "没有", 0)),
        "chinese_squad_v2_dev.squad.json": squad("一段话。", qa("s1", "问?", is_impossible=True)),
    }
    assert sorted(files) == sorted(name for name, _ in TRAIN_FILES)
    for name, data in files.items():
        (tmp_path / name).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return tmp_path


def test_drcd_is_read_in_simplified_with_its_offsets(train_dir: Path) -> None:
    by_id = {e.qid: e for e in load_examples(train_dir)}
    assert by_id["d1"] == Example(
        "d1", "甚么发展最快？", "台湾的经济发展很快。", 3, "经济", False, "drcd_dev.squad.json", "drcd_dev.squad.json:t"
    )
    # every question knows its article (the file and the article's id, else its title)
    assert by_id["c1"].article == "cmrc2018_trial.squad.json:t" != by_id["d2"].article == "drcd_test.squad.json:t"
    # a wrong offset is moved to the nearest place the answer is written (3, not 0)
    assert (by_id["d2"].context, by_id["d2"].answer_start) == ("经济，经济。", 3)


def test_unanswerable_questions_are_kept_and_answers_not_in_the_passage_dropped(train_dir: Path) -> None:
    by_id = {e.qid: e for e in load_examples(train_dir)}
    assert by_id["s1"].impossible and by_id["s1"].answer_start == -1 and by_id["s1"].answer_text == ""
    assert by_id["c1"].context[by_id["c1"].answer_start :].startswith("8%")
    assert "c2" not in by_id


def test_the_calibration_slice_is_a_stable_share_of_passages() -> None:
    examples = [Example(f"q{i}", "问?", f"第{i}段的内容。", -1, "", True, "t") for i in range(3000)]
    held_out = [e for e in examples if is_calibration(e)]
    assert abs(len(held_out) / len(examples) - CALIBRATION_PERCENT / 100) < 0.02
    # decided by the passage alone, so every question of a passage falls on the same side
    assert all(is_calibration(Example("other", "别的问题?", e.context, -1, "", True, "x")) for e in held_out)
    assert [is_calibration(e) for e in examples] == [is_calibration(e) for e in examples]
