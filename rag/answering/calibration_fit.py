"""Fit the answer/refuse calibration on the held-out slice of the training sets.

    python -m rag.answering.calibration_fit --weights out/reader-train/export
    python -m rag.answering.calibration_fit --weights out/reader-train/export --english ../shared/evaldata/xquad/normalized

The slice is the passages `rag.reader.training_examples.is_calibration` kept out of reader training. Each
answerable question is read on its own passage plus one distractor passage (right when the top span
covers the gold span with a little slack, as the evaluation judges answers, or overlaps it by IoU >= 0.5),
half of them again on two distractors only (never right), and each unanswerable question on its passage
plus a distractor (never right). The fitted weights, the threshold and the accuracy/coverage curve go
into the reader manifest's card.

English questions: the training sets have none, and the reader's scores for English questions sit far
lower than for Chinese ones (median margin of right spans about −1 vs +10), so one calibrator cannot
serve both. `--english` fits a second calibrator the same way on XQuAD's English questions over the
*odd-numbered* articles only, each question as the answerer hands it to the reader
(`rephrasing.english_reader_text`: Chinese dictionary words after its English phrases) (`is_english_fit_article`); the even-numbered articles are held out, and
`python -m eval.external xquad --held-out` measures on them alone. `--code-switched` instead fits the
English calibrator on training data only: the slice's questions with every dictionary word switched to
its English gloss (`rag.reader.code_switching`, as in reader training).

`--retrieval WORKDIR` fits on the same questions asked through the real pipeline over an index of
training passages instead (`rag.answering.retrieved_cases`), with the retrieval features (passage rank,
agreement between passages, retrieval score gap) as well as the reader's.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rag.answering.calibration import (
    ANSWER_SLACK,
    FEATURE_NAMES,
    READER_FEATURES,
    WRONG_FIGURE_COST,
    WRONG_TEXT_COST,
    AnswerFeatures,
    Calibrator,
    decisions,
    features_of,
    fit_calibrator,
    utility_curve,
    wants_figure,
)
from rag.answering.rephrasing import english_reader_text
from rag.answering.spans import snapped_proposal
from rag.reader.base import Reader, SpanProposal
from rag.reader.factory import load_reader
from rag.reader.torch_reader import resolve_precision
from rag.reader.training_examples import Example, is_calibration, load_examples
from rag.reader.weights import update_card
from rag.text.numbers import asked_unit

logger = logging.getLogger("rag.answering.calibration_fit")
BATCH = 16


@dataclass(frozen=True)
class CalibrationCase:
    """One reading task of the calibration slice."""

    example: Example
    passages: tuple[str, ...]
    gold_index: int | None
    """Index of the passage holding the gold answer; None when no passage answers."""


def is_english_fit_article(doc_id: str) -> bool:
    """XQuAD passages (xquad:test:<article>:<paragraph>) used to fit the English calibrator: odd articles."""
    parts = doc_id.split(":")
    return len(parts) >= 4 and parts[2].isdigit() and int(parts[2]) % 2 == 1


def english_examples(xquad_dir: Path, *, as_read: bool = True) -> list[Example]:
    """English questions of XQuAD's fitting articles, with their Chinese passages and gold offsets;
    `as_read`: each question as the answerer hands it to the reader, else as asked."""
    passages: dict[str, str] = {}
    with (xquad_dir / "corpus_zh.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                record = json.loads(line)
                passages[str(record["doc_id"])] = str(record["text"])
    out: list[Example] = []
    with (xquad_dir / "qa_en2zh.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            record = json.loads(line)
            doc = (record.get("gold_doc_ids") or [""])[0]
            starts = record.get("meta", {}).get("answer_starts") or []
            if not is_english_fit_article(doc) or doc not in passages or not starts or not record.get("answers"):
                continue
            text, start = str(record["answers"][0]), int(starts[0])
            if passages[doc][start : start + len(text)] != text:
                continue
            asked = str(record["question"])
            question = english_reader_text(asked) if as_read else asked
            out.append(Example(str(record["qid"]), question, passages[doc], start, text, False, "xquad-fit"))
    return out


def switched_examples(examples: list[Example], seed: int) -> list[Example]:
    """The examples with their questions in (dictionary) English, seeded."""
    from rag.reader.code_switching import load_code_switcher

    switcher = load_code_switcher()
    rng = random.Random(seed)
    return [replace(e, question=switcher.switch(e.question, rng, 1.0)) for e in examples]


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




def label(case: CalibrationCase, proposal: SpanProposal | None) -> bool:
    """Whether the top proposal answers: same passage, and it covers the gold span with at most
    ANSWER_SLACK extra characters, or overlaps it with IoU >= 0.5."""
    if proposal is None or case.gold_index is None or proposal.passage_index != case.gold_index:
        return False
    e = case.example
    a, b = e.answer_start, e.answer_start + len(e.answer_text)
    covers = proposal.start <= a and b <= proposal.end and (proposal.end - proposal.start) - (b - a) <= ANSWER_SLACK
    inter = max(0, min(b, proposal.end) - max(a, proposal.start))
    union = max(b, proposal.end) - min(a, proposal.start)
    return covers or (union > 0 and inter / union >= 0.5)


def read_cases(reader: Reader, cases: list[CalibrationCase]) -> list[tuple[AnswerFeatures, bool]]:
    """Features and correctness of the top proposal of every case."""
    out: list[tuple[AnswerFeatures, bool]] = []
    for b in range(0, len(cases), BATCH):
        batch = cases[b : b + BATCH]
        proposals = reader.read([c.example.question for c in batch], [c.passages for c in batch], top_n=1)
        for case, props in zip(batch, proposals, strict=True):
            if not props:
                continue
            top = snapped_proposal(props[0], case.passages[props[0].passage_index])
            question = case.example.question
            features = features_of(wants_figure(question), top, unit=asked_unit(question))
            out.append((features, label(case, top)))
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
    parser.add_argument("--precision", choices=["auto", "bf16", "fp32"], default="auto")
    parser.add_argument("--limit", type=int, default=None, help="Use only this many slice questions.")
    parser.add_argument("--english", type=Path, default=None, help="XQuAD normalized/ folder: fit the English calibrator.")
    parser.add_argument(
        "--code-switched", action="store_true", help="Fit the English calibrator on the slice, questions switched to English."
    )
    parser.add_argument(
        "--retrieval", type=Path, default=None, metavar="WORKDIR",
        help="Fit over a retrieved index of training passages built in WORKDIR (retrieval features too).",
    )
    parser.add_argument(
        "--reuse-rows", action="store_true", help="With --retrieval: refit on WORKDIR/rows.jsonl from an earlier read."
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    key = "calibration_en" if args.english is not None or args.code_switched else "calibration"
    if args.retrieval is not None:
        features, correct, fitted_on = _retrieval_rows(args)
        calibrator = fit_calibrator(features, correct, names=FEATURE_NAMES)
    else:
        features, correct, fitted_on = _single_passage_rows(args)
        calibrator = fit_calibrator(features, correct, names=READER_FEATURES)
    fitted_on = {**fitted_on, "seed": args.seed, "precision": resolve_precision(args.precision)}
    card = _card(calibrator, features, correct, fitted_on)
    update_card(args.weights, **{key: card})
    print(json.dumps({k: v for k, v in card.items() if not k.startswith("curve")}, ensure_ascii=False))
    for name in [k for k in card if k.startswith("curve")]:
        print(name)
        for row in card[name]:
            print(" ", row)
    return 0


def _single_passage_rows(args: argparse.Namespace) -> tuple[list[AnswerFeatures], list[bool], dict[str, object]]:
    if args.english is not None:
        examples = english_examples(args.english)
    elif args.code_switched:
        examples = switched_examples([e for e in load_examples(args.train_dir) if is_calibration(e)], args.seed)
    else:
        examples = [e for e in load_examples(args.train_dir) if is_calibration(e)]
    if args.limit:
        examples = random.Random(args.seed).sample(examples, min(args.limit, len(examples)))
    cases = build_cases(examples, args.seed)
    logger.info("%d slice questions, %d reading cases", len(examples), len(cases))
    reader = load_reader("trained", cache_dir=args.cache_dir, weights_dir=args.weights, precision=args.precision)
    assert reader is not None
    rows = read_cases(reader, cases)
    correct = [c for _, c in rows]
    fitted_on: dict[str, object] = {
        "slice_questions": len(examples),
        "cases": len(rows),
        "right_top_span": int(sum(correct)),
    }
    return [f for f, _ in rows], correct, fitted_on


def _retrieval_rows(args: argparse.Namespace) -> tuple[list[AnswerFeatures], list[bool], dict[str, object]]:
    """Each fitting question's candidate the reader itself ranks first (highest margin), with its retrieval
    features. Measured: fitting on every candidate of every question instead teaches the weights to tell
    apart boundary variants of one place, and ranks worse (CMRC-300 end to end 0.29, XQuAD 0.06)."""
    from rag.answering.retrieved_cases import (
        best_by_margin,
        load_rows,
        read_over_index,
        save_rows,
        training_corpus,
        write_corpus,
        xquad_corpus,
    )

    if args.english is not None:
        examples = english_examples(args.english, as_read=False)
        docs, questions = xquad_corpus(args.english, examples, args.seed)
    else:
        everything = load_examples(args.train_dir)
        examples = [e for e in everything if is_calibration(e)]
        docs, questions = training_corpus(examples, [e for e in everything if not is_calibration(e)], args.seed)
    if args.limit:
        questions = random.Random(args.seed).sample(questions, min(args.limit, len(questions)))
    corpus = write_corpus(docs, args.retrieval / "corpus.jsonl")
    logger.info("%d fitting questions over %d indexed passages", len(questions), len(docs))
    saved = args.retrieval / "rows.jsonl"
    if args.reuse_rows and saved.is_file():
        rows = load_rows(saved)
        logger.info("reusing %d candidate rows from %s", len(rows), saved)
    else:
        rows = read_over_index(questions, corpus, args.retrieval / "index", args.weights, args.cache_dir)
        save_rows(rows, saved)
    best = best_by_margin(rows)
    fitted_on: dict[str, object] = {
        "mode": "retrieval",
        "questions": len(questions),
        "answerable_in_index": sum(1 for q in questions if q.doc_id is not None),
        "indexed_passages": len(docs),
        "candidates": len(rows),
        "cases": len(best),
        "right_top_span": sum(1 for r in best if r.right),
    }
    return [r.features for r in best], [r.right for r in best], fitted_on


def _card(
    calibrator: Calibrator, features: list[AnswerFeatures], correct: list[bool], fitted_on: dict[str, object]
) -> dict[str, Any]:
    """The calibrator, what it was fitted on and its accuracy/coverage curves."""
    conf, right, figure = decisions(calibrator, features, correct)
    return {
        **calibrator.to_card(),
        "fitted_on": {**fitted_on, "figure_spans": int(figure.sum())},
        "curve": utility_curve(conf, right),
        "curve_figure_spans": utility_curve(conf[figure], right[figure], WRONG_FIGURE_COST),
        "curve_text_spans": utility_curve(conf[~figure], right[~figure], WRONG_TEXT_COST),
    }


if __name__ == "__main__":
    raise SystemExit(main())
