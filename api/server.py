"""Run the API with uvicorn; on first start, build the index from the bundled reports.

`python -m api.server [--host H] [--port P] [--index DIR]` (also what `rag serve` calls).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from api.app import create_app
from api.deps import PipelineLike
from rag.settings import Settings

log = logging.getLogger("api")


def load_or_build(settings: Settings) -> PipelineLike:
    """Load the index; if it is missing or empty, index `settings.reports_dir` first (slow, once)."""
    from rag.pipeline_factory import load_pipeline

    pipeline: PipelineLike = load_pipeline(settings)
    if pipeline.documents():
        return pipeline
    reports = settings.reports_dir
    if not reports.exists():
        log.warning(
            "the index at %s is empty and %s does not exist; upload reports with POST /v1/documents",
            settings.index_dir,
            reports,
        )
        return pipeline
    log.info("the index at %s is empty: indexing %s (first start)…", settings.index_dir, reports)
    report = pipeline.ingest([reports])
    log.info(
        "indexed %d documents (%d chunks); %d could not be read",
        len(report.added) + len(report.updated),
        report.chunks_embedded,
        len(report.failed),
    )
    for source, reason in report.failed:
        log.warning("skipped %s: %s", source, reason)
    return pipeline


def serve(
    settings: Settings | None = None,
    *,
    host: str | None = None,
    port: int | None = None,
    log_level: str = "info",
) -> None:
    """Serve the API, the widget and the demo page until interrupted; /readyz turns 200 once the index is loaded."""
    import uvicorn

    settings = settings or Settings()
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(settings, loader=load_or_build)
    uvicorn.run(
        app,
        host=host or settings.host,
        port=port or settings.port,
        log_level=log_level,
        timeout_graceful_shutdown=5,
        server_header=False,
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m api.server", description=__doc__)
    parser.add_argument("--host", help="bind address (default $RAG_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default $RAG_PORT or 8000)")
    parser.add_argument("--index", type=Path, help="index directory (default $RAG_INDEX_DIR or ./index)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    args = parser.parse_args(argv)
    settings = Settings()
    if args.index is not None:
        settings = settings.model_copy(update={"index_dir": args.index})
    serve(settings, host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
