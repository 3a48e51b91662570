"""Run the external evaluation sets of ``../shared/evaldata`` (see its README.md) through the harness.

Usage::

    python -m eval.external cmrc        [--limit 300] [--seed 0] --out runs/cmrc
    python -m eval.external xquad       [--limit N]   [--seed 0] [--held-out] --out runs/xquad
    python -m eval.external rgb-reject  [--limit N]   [--seed 0] --out runs/rgb-reject
    (also: xquad-zh, rgb-refine, rgb-int;  --evaldata DIR overrides the data folder)

- ``cmrc``: CMRC 2018 dev — corpus_dev.jsonl (848 zh Wikipedia passages) + a seeded sample of qa_dev.jsonl
  (default 300 of 3,219 questions); answer accuracy.
- ``xquad``: XQuAD English questions over the 240 Chinese passages (corpus_zh.jsonl + qa_en2zh.jsonl);
  cross-lingual retrieval and answers.
- ``rgb-reject``: RGB negative rejection — the corpus is only the passages named in the sampled questions'
  ``pool_doc_ids`` (written to ``OUT/corpus_subset.jsonl`` so ingest stays small) and each question retrieves
  only from its own pool; every question should be refused (``rejection_rate``).

Each run builds a fresh index in ``OUT/index`` and writes ``OUT/report.json``, ``report.md``, ``report.html``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eval.gold import GoldItem, load_gold, sample_items
from eval.report import EvalReport, summary_text
from eval.runner import PipelineLoader, run_items

if TYPE_CHECKING:
    from rag.settings import Settings


@dataclass(frozen=True)
class ExternalSet:
    """One external gold set: its question file, its corpus, and how to index it."""

    name: str
    qa: str
    """Question file, relative to the evaldata folder."""
    corpus: str
    """Corpus JSONL, relative to the evaldata folder."""
    default_limit: int | None = None
    pool_subset: bool = False
    """Index only the passages of the sampled questions' pools (RGB), not the whole corpus file."""
    description: str = ""


EXTERNAL_SETS: dict[str, ExternalSet] = {
    s.name: s
    for s in (
        ExternalSet(
            "cmrc",
            "cmrc2018/normalized/qa_dev.jsonl",
            "cmrc2018/normalized/corpus_dev.jsonl",
            300,
            description="CMRC 2018 dev, Chinese extractive QA",
        ),
        ExternalSet(
            "xquad",
            "xquad/normalized/qa_en2zh.jsonl",
            "xquad/normalized/corpus_zh.jsonl",
            description="XQuAD English questions over Chinese passages",
        ),
        ExternalSet(
            "xquad-zh",
            "xquad/normalized/qa_zh.jsonl",
            "xquad/normalized/corpus_zh.jsonl",
            description="XQuAD Chinese questions over Chinese passages",
        ),
        ExternalSet(
            "rgb-reject",
            "rgb/normalized/qa_reject.jsonl",
            "rgb/normalized/corpus.jsonl",
            pool_subset=True,
            description="RGB negative rejection (expect refusals)",
        ),
        ExternalSet(
            "rgb-refine",
            "rgb/normalized/qa_refine.jsonl",
            "rgb/normalized/corpus.jsonl",
            pool_subset=True,
            description="RGB news questions with their own noisy pools",
        ),
        ExternalSet(
            "rgb-int",
            "rgb/normalized/qa_int.jsonl",
            "rgb/normalized/corpus.jsonl",
            pool_subset=True,
            description="RGB two-part information integration",
        ),
    )
}


def default_evaldata_dir() -> Path:
    """``<repo>/../shared/evaldata``."""
    return Path(__file__).resolve().parent.parent.parent / "shared" / "evaldata"


def pool_doc_ids(items: Iterable[GoldItem]) -> set[str]:
    """Every document named in the items' pools and gold documents."""
    ids: set[str] = set()
    for item in items:
        ids.update(item.pool_doc_ids or ())
        ids.update(item.gold_docs)
    return ids


def write_corpus_subset(corpus: Path, doc_ids: set[str], out_path: Path) -> int:
    """Copy the JSONL records whose ``doc_id`` is in ``doc_ids`` to ``out_path``; returns how many."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with corpus.open(encoding="utf-8") as src, out_path.open("w", encoding="utf-8") as dst:
        for line in src:
            if not line.strip():
                continue
            record: dict[str, Any] = json.loads(line)
            if record.get("doc_id") in doc_ids:
                dst.write(line if line.endswith("\n") else line + "\n")
                written += 1
    return written


def run_external(
    name: str,
    *,
    out_dir: Path,
    settings: Settings,
    evaldata: Path | None = None,
    limit: int | None = None,
    seed: int = 0,
    progress: bool = False,
    loader: PipelineLoader | None = None,
    held_out: bool = False,
) -> EvalReport:
    """Run one external set (``EXTERNAL_SETS``) into ``out_dir``; ``limit`` None uses the set's default sample size."""
    spec = EXTERNAL_SETS.get(name)
    if spec is None:
        raise ValueError(f"unknown external set {name!r}; choose one of {', '.join(EXTERNAL_SETS)}")
    root = evaldata or default_evaldata_dir()
    qa_path, corpus_path = root / spec.qa, root / spec.corpus
    for path in (qa_path, corpus_path):
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found — pass --evaldata pointing at shared/evaldata")
    gold = load_gold(qa_path)
    if held_out:
        # only questions on passages the English calibrator was not fitted on
        from rag.answering.calibration_fit import is_english_fit_article

        gold = tuple(i for i in gold if not any(is_english_fit_article(d) for d in i.gold_docs))
    items = sample_items(gold, limit if limit is not None else spec.default_limit, seed)
    corpus = corpus_path
    if spec.pool_subset:
        corpus = out_dir / "corpus_subset.jsonl"
        count = write_corpus_subset(corpus_path, pool_doc_ids(items), corpus)
        print(f"{name}: {len(items)} questions, {count} pool passages → {corpus}", file=sys.stderr)
    meta: dict[str, Any] = {
        "set": name,
        "gold": str(qa_path),
        "limit": limit or spec.default_limit,
        "seed": seed,
        "held_out": held_out,
    }
    return run_items(
        items,
        settings=settings,
        corpus=[corpus],
        out_dir=out_dir,
        progress=progress,
        meta=meta,
        loader=loader,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m eval.external",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("set", choices=list(EXTERNAL_SETS), help="which external set")
    parser.add_argument(
        "--limit",
        type=int,
        default=None,
        help="seeded random sample of N questions (default: 300 for cmrc, all otherwise)",
    )
    parser.add_argument("--seed", type=int, default=0, help="sampling seed")
    parser.add_argument("--out", type=Path, required=True, help="output directory (report.* and index/)")
    parser.add_argument(
        "--evaldata", type=Path, default=None, help="evaldata folder (default ../shared/evaldata)"
    )
    parser.add_argument(
        "--held-out",
        action="store_true",
        help="xquad: only questions on the articles the English calibrator was not fitted on (even-numbered)",
    )
    args = parser.parse_args(list(argv) if argv is not None else None)

    from rag.errors import RagError
    from rag.settings import Settings

    try:
        report = run_external(
            args.set,
            out_dir=args.out,
            settings=Settings(),
            evaldata=args.evaldata,
            limit=args.limit,
            seed=args.seed,
            progress=sys.stderr.isatty(),
            held_out=args.held_out,
        )
    except (FileNotFoundError, ValueError, RagError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(summary_text(report.to_dict()))
    print(f"reports written to {args.out}/report.{{json,md,html}}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
