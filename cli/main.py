"""The `rag` command: ingest | ask | search | serve | eval | docs | remove (thin: parses, calls, prints)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rag.errors import RagError
from rag.refusal import render_reason
from rag.settings import Settings


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings()
    index = getattr(args, "index", None)
    if index is not None:
        settings = settings.model_copy(update={"index_dir": index})
    elif "RAG_INDEX_DIR" not in os.environ:
        settings = settings.model_copy(update={"index_dir": Path("index")})
    return settings


def _print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


def cmd_ingest(args: argparse.Namespace) -> int:
    """Add files, folders and JSONL corpora to the index."""
    from rag.pipeline_factory import load_pipeline

    for p in args.paths:
        if not p.exists():
            raise RagError(f"{p} does not exist")
    settings = _settings(args)
    pipeline = load_pipeline(settings, answering=False)
    report = pipeline.ingest(args.paths, progress=sys.stderr.isatty() or args.progress)
    summary = {
        "index": str(settings.index_dir),
        "added": list(report.added),
        "updated": list(report.updated),
        "unchanged": list(report.unchanged),
        "failed": [{"source": s, "reason": r} for s, r in report.failed],
        "chunks_embedded": report.chunks_embedded,
        "documents": len(pipeline.documents()),
    }
    if args.json:
        _print_json(summary)
    else:
        print(
            f"indexed {len(report.added)} new, {len(report.updated)} updated, {len(report.unchanged)} unchanged "
            f"({report.chunks_embedded} chunks embedded); {summary['documents']} documents in {settings.index_dir}"
        )
        for source, reason in report.failed:
            print(f"skipped {source}: {reason}", file=sys.stderr)
    return 1 if report.failed and not (report.added or report.updated or report.unchanged) else 0


def _filters(args: argparse.Namespace) -> Any:
    from rag.types import QueryFilters

    if args.region is None and args.year is None and args.doc_id is None:
        return None
    return QueryFilters(region=args.region, year=args.year, doc_id=args.doc_id)


def _load_existing(args: argparse.Namespace, *, answering: bool = True) -> Any:
    from rag.index.generations import index_exists
    from rag.pipeline_factory import load_pipeline

    settings = _settings(args)
    if settings.vector_store == "faiss" and not index_exists(settings.index_dir):
        raise RagError(f'no index at {settings.index_dir} — run "rag ingest data/reports" first')
    return load_pipeline(settings, answering=answering)


def cmd_ask(args: argparse.Namespace) -> int:
    """Answer a question with citations."""
    from rag.serialization import answer_to_dict

    pipeline = _load_existing(args)
    answer = pipeline.ask(args.question, filters=_filters(args))
    if args.json:
        _print_json(answer_to_dict(answer))
        return 0
    print(answer.answer)
    for c in answer.citations:
        print(f"  [{c.n}] {c.title} ({c.doc_id}, {c.start}-{c.end}) {c.section}")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    """Ranked passages for a query."""
    from rag.serialization import search_to_dict

    pipeline = _load_existing(args, answering=False)
    result = pipeline.search(args.query, k=args.k, filters=_filters(args))
    if args.json:
        _print_json(search_to_dict(result))
        return 0
    q = result.query
    print(f"parsed: lang={q.language} regions={list(q.regions)} years={list(q.years)} intent={q.intent} qtype={q.qtype}")
    if result.reason:
        print(f"routing: {render_reason(result.reason, result.query.language)}")
    for h in result.hits:
        text = h.chunk.text.replace("\n", " ")
        print(f"{h.rank:>2}. {h.score:.3f} {h.chunk.doc_id} [{h.chunk.section or '-'}] {text[:120]}")
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    """List indexed documents."""
    from rag.serialization import document_info_to_dict

    pipeline = _load_existing(args, answering=False)
    infos = pipeline.documents()
    if args.json:
        _print_json([document_info_to_dict(i) for i in infos])
        return 0
    for i in infos:
        m = i.meta
        print(f"{i.doc_id}\t{m.title}\t{m.region or '-'}\t{m.year or '-'}\t{i.n_chunks} chunks")
    print(f"{len(infos)} documents")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    """Delete a document from the index."""
    pipeline = _load_existing(args, answering=False)
    pipeline.remove(args.doc_id)
    print(f"removed {args.doc_id}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the HTTP API and the chat widget."""
    from api.server import serve

    settings = _settings(args)
    serve(settings, host=args.host, port=args.port)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """Run a gold set and write report.json/md/html."""
    from eval.compare import compare_reports
    from eval.runner import run_eval

    settings = _settings(args)
    if not args.corpus and settings.vector_store == "faiss":
        from rag.index.generations import index_exists

        if not index_exists(settings.index_dir):
            raise RagError(
                f'no index at {settings.index_dir} — run "rag ingest data/reports" first, or pass --corpus to build one'
            )
    out = args.out or Path("out")
    report = run_eval(
        args.gold,
        corpus=args.corpus or None,
        index_dir=settings.index_dir,
        out_dir=out,
        settings=settings,
        limit=args.limit,
        progress=sys.stderr.isatty(),
    )
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    if args.json:
        _print_json(data["summary"])
    else:
        summary = data["summary"]
        for key, value in summary.items():
            print(f"{key:>20}: {value if value is not None else 'n/a'}")
        print(f"reports written to {out}/report.json, report.md, report.html")
    if args.compare:
        print(compare_reports(args.compare, out / "report.json"))
    del report
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Argument parser for all subcommands."""
    parser = argparse.ArgumentParser(prog="rag", description="Cited question answering over government work reports.")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser, json_flag: bool = True) -> None:
        p.add_argument("--index", type=Path, help="index directory (default $RAG_INDEX_DIR or ./index)")
        if json_flag:
            p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("ingest", help="add files, folders and JSONL corpora to the index")
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--progress", action="store_true", help="show a progress bar even when not on a terminal")
    common(p)
    p.set_defaults(func=cmd_ingest)

    for name, helptext, func in (("ask", "answer a question with citations", cmd_ask), ("search", "ranked passages", cmd_search)):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("query" if name == "search" else "question")
        if name == "search":
            p.add_argument("--k", type=int, default=8)
        p.add_argument("--region", help="only reports of this region (海珠区, Haizhu, 广东省…)")
        p.add_argument("--year", type=int, help="only reports covering this year")
        p.add_argument("--doc-id", dest="doc_id", help="only this document")
        common(p)
        p.set_defaults(func=func)

    p = sub.add_parser("docs", help="list indexed documents")
    common(p)
    p.set_defaults(func=cmd_docs)

    p = sub.add_parser("remove", help="delete a document from the index")
    p.add_argument("doc_id")
    common(p, json_flag=False)
    p.set_defaults(func=cmd_remove)

    p = sub.add_parser("serve", help="HTTP API and chat widget")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    common(p, json_flag=False)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("eval", help="score the system on a gold set")
    p.add_argument("--gold", type=Path, required=True)
    p.add_argument("--corpus", type=Path, nargs="*", help="build a fresh index of exactly these paths first")
    p.add_argument("--out", type=Path, help="output directory (default ./out)")
    p.add_argument("--limit", type=int, help="evaluate a seeded sample of this many questions")
    p.add_argument("--compare", type=Path, help="an older report.json to compare with")
    common(p)
    p.set_defaults(func=cmd_eval)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; errors print one line on stderr and exit non-zero."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except RagError as exc:
        print(f"rag: error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"rag: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rag: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
