"""The 20 routing checks of tests/test_routing_corpus.py (tests/fixtures/routing_checks.json) at full scale: over a real index (e.g. the 103
government work reports + data/reports, e5 model), how many questions get the right report at rank 1, are routed
to it alone and have all top-5 hits from it; unindexed region/year questions and empty filters must give no hits.

HF_HUB_OFFLINE=1 RAG_CACHE_DIR=/tmp/e5cache .venv/bin/python bench/bench_routing.py --index /tmp/gwr-bench-index
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SUBSTITUTES = {"江苏省": "台湾省"}
"""The unit fixture has no Jiangsu report but the full corpus has all 31 provinces: when the index holds a report
of a region the "not indexed" checks name, they name this one instead (Taiwan has no report in the corpus)."""


def _checks() -> dict[str, list[dict[str, Any]]]:
    """The questions and filters the unit test runs over its excerpts (one source of truth)."""
    data: dict[str, list[dict[str, Any]]] = json.loads(
        (ROOT / "tests" / "fixtures" / "routing_checks.json").read_text(encoding="utf-8")
    )
    return data


def main() -> None:
    """Run every check against the index and print one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

    from rag.index.generations import index_exists
    from rag.pipeline_factory import load_pipeline
    from rag.refusal import render_reason
    from rag.settings import Settings
    from rag.types import QueryFilters

    if not index_exists(args.index):
        raise SystemExit(f"no index at {args.index}")
    pipeline = load_pipeline(Settings(), index_dir=args.index)
    t = _checks()
    indexed = {d.meta.region for d in pipeline.documents()}
    swaps = {a: b for a, b in SUBSTITUTES.items() if a in indexed and b not in indexed}

    def swap(text: str) -> str:
        for a, b in swaps.items():
            text = text.replace(a, b)
        return text

    rows: list[dict[str, Any]] = []
    for check in t["routed"]:
        question, doc_id = check["question"], check["doc_id"]
        r = pipeline.search(question, k=args.k)
        docs = [h.chunk.doc_id for h in r.hits]
        rows.append({
            "id": check["id"], "kind": "routed", "question": question, "expected": doc_id,
            "rank1_ok": bool(docs) and docs[0] == doc_id,
            "routed_ok": r.routed_doc_ids == (doc_id,),
            "top_k_ok": len(docs) == args.k and set(docs) == {doc_id},
            "routed": list(r.routed_doc_ids), "hits": docs, "reason": render_reason(r.reason, "en") if r.reason else None,
        })
    for check in t["unrouted"]:
        question, named = swap(check["question"]), swap(check["named"])
        r = pipeline.search(question, k=args.k)
        reason = render_reason(r.reason, "en") if r.reason else None
        ok = not r.hits and reason is not None and named in reason
        rows.append({
            "id": check["id"], "kind": "unrouted", "question": question, "expected": f"no hits, reason naming {named}",
            "rank1_ok": ok, "routed_ok": ok, "top_k_ok": ok,
            "routed": list(r.routed_doc_ids), "hits": [h.chunk.doc_id for h in r.hits], "reason": reason,
        })
    for check in t["empty_filters"]:
        filters = QueryFilters(region=swaps.get(check["region"], check["region"]), year=check["year"])
        fid = check["id"]
        r = pipeline.search("地区生产总值增长目标是多少?", k=args.k, filters=filters)
        ok = not r.hits
        rows.append({
            "id": f"filter-{fid}", "kind": "filter", "question": f"filters={filters}", "expected": "no hits",
            "rank1_ok": ok, "routed_ok": ok, "top_k_ok": ok,
            "routed": list(r.routed_doc_ids), "hits": [h.chunk.doc_id for h in r.hits], "reason": render_reason(r.reason, "en") if r.reason else None,
        })
    result = {
        "index": str(args.index),
        "embedder": pipeline.embedder.model_id,
        "documents": len(pipeline.documents()),
        "chunks": len(pipeline.store.chunks),
        "substituted_regions": swaps,
        "checks": len(rows),
        "right_doc_at_rank1": sum(r["rank1_ok"] for r in rows),
        "routed_to_right_doc_alone": sum(r["routed_ok"] for r in rows),
        "all_top_k_from_right_doc": sum(r["top_k_ok"] for r in rows),
        "all_pass": sum(r["rank1_ok"] and r["routed_ok"] and r["top_k_ok"] for r in rows),
        "rows": rows,
    }
    text = json.dumps(result, ensure_ascii=False, indent=2)
    print(text)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
