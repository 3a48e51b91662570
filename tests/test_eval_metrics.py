"""Summary metrics of item results (eval/metrics.py) on tiny hand-made cases."""

from __future__ import annotations

import pytest

from eval.metrics import (
    ItemResult,
    citation_precision,
    false_refusal_rate,
    percentile,
    rejection_rate,
    summarize,
)


def test_rates_and_latency() -> None:
    assert citation_precision([(["a", "b"], ["a"]), (["a"], ["a"])]) == pytest.approx(2 / 3)
    assert citation_precision([([], ["a"])]) is None
    assert rejection_rate([True, False]) == 0.5
    assert rejection_rate([]) is None
    assert false_refusal_rate([False, False, False, True]) == 0.25
    assert percentile([10.0, 20.0, 30.0, 40.0], 50) == 25.0
    assert percentile([5.0], 95) == 5.0
    assert percentile([], 50) is None


def _result(
    qid: str,
    *,
    answerable: bool = True,
    correct: bool = True,
    refused: bool = False,
    evidence_rank: int | None = 1,
    lang: str = "zh",
) -> ItemResult:
    return ItemResult(
        id=qid,
        question="q",
        lang=lang,
        type="numeric",
        difficulty="easy",
        answerable=answerable,
        gold=("1",) if answerable else (),
        gold_docs=("d",) if answerable else (),
        has_evidence=answerable,
        correct=correct,
        refused=refused,
        short_answer="1",
        evidence_rank=evidence_rank if answerable else None,
        doc_rank=evidence_rank if answerable else None,
        latency_ms=10.0,
    )


def test_summarize() -> None:
    results = [
        _result("a"),
        _result("b", correct=False, evidence_rank=None),
        _result("c", correct=False, refused=True, evidence_rank=3),
        _result("u", answerable=False, correct=True, refused=True),
    ]
    s = summarize(results)
    assert (s["n"], s["answerable"], s["unanswerable"]) == (4, 3, 1)
    assert s["answer_accuracy"] == pytest.approx(1 / 3, abs=1e-4)
    assert s["rejection_rate"] == 1.0
    assert s["false_refusal_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert s["evidence_hit@1"] == pytest.approx(1 / 3, abs=1e-4)
    assert s["evidence_hit@5"] == pytest.approx(2 / 3, abs=1e-4)
    assert s["citation_precision"] is None  # no citations at all
    assert s["latency_ms_p50"] == 10.0
