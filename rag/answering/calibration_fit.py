"""Fit the answer/refuse calibration on the held-out slice of the training sets.

    python -m rag.answering.calibration_fit --weights out/reader-train/export

The slice is the passages `rag.reader.training.is_calibration` kept out of reader training. Each
answerable question is read on its own passage plus one distractor passage (right when the top span
overlaps the gold span by IoU >= 0.5), half of them again on two distractors only (never right), and
each unanswerable question on its passage plus a distractor (never right). The fitted weights, the
threshold and the accuracy/coverage curve go into the reader manifest's card.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.answering.calibration import AnswerFeatures, features_of, fit_calibrator, utility_curve, wants_figure
from rag.answering.spans import snap_span
from rag.reader.base import Reader, SpanProposal, load_reader
from rag.reader.training import Example, is_calibration, load_examples
from rag.reader.weights import update_card

logger = logging.getLogger("rag.answering.calibration_fit")
BATCH = 16


@dataclass(frozen=True)
class CalibrationCase:
    """One reading task of the calibration slice."""

    example: Example
    passages: tuple[str, ...]
    gold_index: int | None
    """Index of the passage holding the gold answer; None when no passage answers."""


def build_cases(examples: list[Example], seed: int) -> list[CalibrationCase]:
    """Reading tasks with seeded distractors (see module docstring)."""
    rng = random.Random(seed)
    contexts = sorted({e.context for e in examples})

    def distractors(avoid: str, n: int) -> list[str]:
        pool: list[str] = []
        while len(pool) < n:
            c = rng.choice(contexts)
            if c != avoid and c not in pool:
                pool.append(c)
        return pool

    cases: list[CalibrationCase] = []
    for e in examples:
        own = [e.context, *distractors(e.context, 1)]
        order = list(range(len(own)))
        rng.shuffle(order)
        passages = tuple(own[i] for i in order)
        gold = None if e.impossible else order.index(0)
        cases.append(CalibrationCase(e, passages, gold))
        if not e.impossible and rng.random() < 0.5:
            cases.append(CalibrationCase(e, tuple(distractors(e.context, 2)), None))
    return cases


def _snapped(p: SpanProposal, passage: str) -> SpanProposal:
    a, b = snap_span(passage, p.start, p.end)
    return SpanProposal(p.passage_index, a, b, passage[a:b], p.score, p.null_score)


def label(case: CalibrationCase, proposal: SpanProposal | None) -> bool:
    """Whether the top proposal is the gold answer (same passage, span IoU >= 0.5)."""
    if proposal is None or case.gold_index is None or proposal.passage_index != case.gold_index:
        return False
    e = case.example
    a, b = e.answer_start, e.answer_start + len(e.answer_text)
    inter = max(0, min(b, proposal.end) - max(a, proposal.start))
    union = max(b, proposal.end) - min(a, proposal.start)
    return union > 0 and inter / union >= 0.5


def read_cases(reader: Reader, cases: list[CalibrationCase]) -> list[tuple[AnswerFeatures, bool]]:
    """Features and correctness of the top proposal of every case."""
    out: list[tuple[AnswerFeatures, bool]] = []
    for b in range(0, len(cases), BATCH):
        batch = cases[b : b + BATCH]
        proposals = reader.read([c.example.question for c in batch], [c.passages for c in batch], top_n=1)
        for case, props in zip(batch, proposals, strict=True):
            if not props:
                continue
            top = _snapped(props[0], case.passages[props[0].passage_index])
            out.append((features_of(wants_figure(case.example.question), top), label(case, top)))
        if b % (BATCH * 20) == 0:
            logger.info("read %d/%d cases", b + len(batch), len(cases))
    return out


def main(argv: list[str] | None = None) -> int:
    """Command-line entry."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", type=Path, required=True)
    parser.add_argument("--train-dir", type=Path, default=Path("../shared/evaldata/train"))
    parser.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache" / "govreport-rag")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--limit", type=int, default=None, help="Use only this many slice questions.")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    examples = [e for e in load_examples(args.train_dir) if is_calibration(e)]
    if args.limit:
        examples = random.Random(args.seed).sample(examples, min(args.limit, len(examples)))
    cases = build_cases(examples, args.seed)
    logger.info("%d slice questions, %d reading cases", len(examples), len(cases))
    reader = load_reader("trained", cache_dir=args.cache_dir, weights_dir=args.weights)
    assert reader is not None
    rows = read_cases(reader, cases)
    features = [f for f, _ in rows]
    correct = [c for _, c in rows]
    calibrator = fit_calibrator(features, correct)
    conf = np.array([calibrator.confidence(f) for f in features])
    curve = utility_curve(conf, np.array(correct))
    card = {
        **calibrator.to_card(),
        "fitted_on": {
            "slice_questions": len(examples),
            "cases": len(rows),
            "right_top_span": int(sum(correct)),
            "seed": args.seed,
        },
        "curve": curve,
    }
    update_card(args.weights, calibration=card)
    print(json.dumps({k: v for k, v in card.items() if k != "curve"}, ensure_ascii=False))
    for row in curve:
        print(row)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
