"""Retrieval ablation: the dev-set harness numbers with each retrieval stage switched on in turn.

    python -m eval.ablation --gold ../shared/gold/dev.jsonl --index out/dev/index

Every configuration runs over the same index (the stages only change query-time scoring), so differences come
from the stages alone.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from eval.gold import load_gold
from eval.report import build_report
from eval.runner import evaluate
from rag.retrieval import RetrievalWeights

_OFF = RetrievalWeights(
    doc_terms=0.0, period=0.0, metric=0.0, year_in_text=0.0, append_terms_to_query=False,
    sentence_rescoring=0.0, routing=False,
)
STAGES: list[tuple[str, RetrievalWeights]] = [
    ("dense only (e5)", replace(_OFF, sparse=0.0)),
    ("BM25 only (jieba + bigrams)", replace(_OFF, dense=0.0)),
    ("RRF dense + BM25 (baseline)", _OFF),
    ("+ metadata routing", replace(_OFF, routing=True)),
    ("+ glossary terms in dense query", replace(_OFF, routing=True, append_terms_to_query=True)),
    ("+ metric/period/doc boosts", replace(RetrievalWeights(), sentence_rescoring=0.0)),
    ("+ sentence re-ranking (full)", RetrievalWeights()),
]
KEYS = ("answer_accuracy", "doc_hit@1", "evidence_hit@1", "evidence_hit@5", "mrr@10")


def main(argv: list[str] | None = None) -> int:
    """Print a markdown table of the ablation."""
    from rag.pipeline_factory import load_pipeline
    from rag.settings import Settings

    parser = argparse.ArgumentParser(prog="python -m eval.ablation", description=__doc__)
    parser.add_argument("--gold", type=Path, required=True)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args(argv)
    pipeline = load_pipeline(Settings(), index_dir=args.index)
    items = load_gold(args.gold)
    rows = []
    print("| configuration | " + " | ".join(KEYS) + " | ev@1 zh | ev@1 en | ev@5 zh | ev@5 en |")
    print("|---" * (len(KEYS) + 5) + "|")
    for name, weights in STAGES:
        pipeline.weights = weights
        pipeline.retriever.weights = weights
        report = build_report(evaluate(pipeline, items), {"stage": name}).to_dict()
        s, by = report["summary"], report["by_lang"]
        cells = [f"{s[k]:.3f}" for k in KEYS]
        cells += [f"{by[lang]['evidence_hit@1']:.3f}" for lang in ("zh", "en")]
        cells += [f"{by[lang]['evidence_hit@5']:.3f}" for lang in ("zh", "en")]
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
        rows.append({"stage": name, "summary": s, "by_lang": by})
    if args.json_out:
        args.json_out.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
