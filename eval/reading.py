"""The reader alone on each question's gold passage: exact match and character F1.

    python -m eval.reading cmrc  --limit 1000 --seed 0 --out out/reader-cmrc
    python -m eval.reading xquad --limit 300  --out out/reader-xquad

Retrieval is bypassed (the passage is the gold one), so this measures the reader model and its decoding (an
English question is read as the answerer hands it over, with Chinese dictionary words after its phrases);
end-to-end numbers come from `python -m eval.external`.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from eval.external import EXTERNAL_SETS
from eval.gold import GoldItem, load_gold, sample_items
from eval.spans import char_f1, exact_match
from rag.answering.rephrasing import english_reader_text
from rag.query import detect_language
from rag.reader.base import Reader

BATCH_QUESTIONS = 16


@dataclass(frozen=True)
class ReadingResult:
    """One question read on its gold passage."""

    qid: str
    question: str
    answers: tuple[str, ...]
    prediction: str
    margin: float
    em: float
    f1: float


def read_passages(corpus: Path) -> dict[str, str]:
    """doc_id → text of a JSONL corpus."""
    out: dict[str, str] = {}
    with corpus.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                record = json.loads(line)
                out[str(record["doc_id"])] = str(record["text"])
    return out


def evaluate_reader(reader: Reader, items: Sequence[GoldItem], passages: dict[str, str]) -> list[ReadingResult]:
    """Read every answerable item on its first gold passage."""
    usable = [i for i in items if i.answerable and i.gold_docs and i.gold_docs[0] in passages]
    out: list[ReadingResult] = []
    for b in range(0, len(usable), BATCH_QUESTIONS):
        batch = usable[b : b + BATCH_QUESTIONS]
        questions = [english_reader_text(i.question) if detect_language(i.question) == "en" else i.question for i in batch]
        proposals = reader.read(questions, [[passages[i.gold_docs[0]]] for i in batch], top_n=1)
        for item, props in zip(batch, proposals, strict=True):
            pred = props[0].text if props else ""
            margin = props[0].margin if props else float("-inf")
            out.append(
                ReadingResult(
                    item.id, item.question, item.answers, pred, margin,
                    exact_match(pred, item.answers), char_f1(pred, item.answers),
                )
            )
    return out


def summarize_reading(results: Sequence[ReadingResult]) -> dict[str, float]:
    """Mean EM and F1."""
    n = len(results) or 1
    return {
        "questions": float(len(results)),
        "exact_match": round(sum(r.em for r in results) / n, 4),
        "f1": round(sum(r.f1 for r in results) / n, 4),
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("set", choices=["cmrc", "xquad", "xquad-zh"])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--evaldata", type=Path, default=Path("../shared/evaldata"))
    parser.add_argument("--weights", type=Path, default=None, help="Reader weights directory (default: shipped).")
    parser.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache" / "govreport-rag")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--precision", choices=["auto", "bf16", "fp32"], default="auto")
    args = parser.parse_args(argv)
    from rag.reader.factory import load_reader

    spec = EXTERNAL_SETS[args.set]
    items = sample_items(load_gold(args.evaldata / spec.qa), args.limit, args.seed)
    passages = read_passages(args.evaldata / spec.corpus)
    reader = load_reader("trained", cache_dir=args.cache_dir, weights_dir=args.weights, precision=args.precision)
    assert reader is not None
    t0 = time.perf_counter()
    results = evaluate_reader(reader, items, passages)
    seconds = time.perf_counter() - t0
    summary = {**summarize_reading(results), "seconds": round(seconds, 1), "set": args.set, "precision": args.precision, "limit": args.limit, "seed": args.seed}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "reading.json").write_text(
        json.dumps({"summary": summary, "items": [r.__dict__ for r in results]}, ensure_ascii=False, indent=1),
        encoding="utf-8",
    )
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
