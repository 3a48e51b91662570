"""The FastAPI application factory."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from api import routes_ask, routes_chat, routes_documents, routes_health, routes_search, routes_static
from api.deps import PipelineLike
from api.jobs import JobRunner
from api.middleware import EdgeMiddleware
from api.openapi import openapi_for
from api.problems import install_problem_handlers
from api.security import TokenBucketLimiter
from rag.errors import RagError
from rag.settings import Settings

log = logging.getLogger("api")

Loader = Callable[[Settings], PipelineLike]

DESCRIPTION = """Question answering over government work reports (政府工作报告) with exact sentence citations.

Ask in Chinese or English. Every answer cites the sentences it rests on by document and character offsets.
Errors are `application/problem+json`. When API keys are configured, send `Authorization: Bearer <key>`
(always for uploads and deletes; for reads only if the server requires it).
"""


def default_loader(settings: Settings) -> PipelineLike:
    """Load the model and the index named by the settings."""
    from rag.pipeline_factory import load_pipeline

    pipeline: PipelineLike = load_pipeline(settings)
    return pipeline


def _load_in_background(app: FastAPI, settings: Settings, loader: Loader) -> None:
    try:
        pipeline = loader(settings)
    except RagError as exc:
        log.error("could not load the pipeline: %s", exc)
        app.state.load_error = str(exc)
    except Exception as exc:
        log.error("could not load the pipeline: %s", type(exc).__name__, exc_info=exc)
        app.state.load_error = f"unexpected {type(exc).__name__} (see the server log)"
    else:
        app.state.pipeline = pipeline
        log.info("pipeline loaded; ready")


def create_app(
    settings: Settings | None = None, pipeline: PipelineLike | None = None, *, loader: Loader | None = None
) -> FastAPI:
    """The API, the widget and the demo page.

    Args:
        settings: defaults to `Settings()` (RAG_* environment variables).
        pipeline: an already loaded pipeline (tests pass a fake); otherwise the lifespan starts
            `loader(settings)` in a background thread and /readyz answers 503 until it returns.
        loader: how to load the pipeline; defaults to `rag.pipeline_factory.load_pipeline`.
    """
    settings = settings or Settings()
    load = loader or default_loader

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.jobs = JobRunner()
        if app.state.pipeline is None:
            app.state.load_error = None
            threading.Thread(
                target=_load_in_background, args=(app, settings, load), name="load-pipeline", daemon=True
            ).start()
        try:
            yield
        finally:
            app.state.jobs.shutdown()

    app = FastAPI(
        title="Government work report QA",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.pipeline = pipeline
    app.state.load_error = None
    app.state.limiter = TokenBucketLimiter(settings.rate_limit_per_minute)
    app.state.jobs = JobRunner()

    install_problem_handlers(app)
    routers = [
        m.router
        for m in (routes_ask, routes_search, routes_documents, routes_chat, routes_health, routes_static)
    ]
    for router in routers:
        app.include_router(router)
    app.state.routes = [r for router in routers for r in router.routes]
    app.openapi = openapi_for(app, app.state.routes, settings)  # type: ignore[method-assign]

    # Added last = outermost: even 413/429/500 responses carry CORS headers.
    app.add_middleware(
        EdgeMiddleware,
        max_request_bytes=settings.max_request_bytes,
        max_upload_bytes=settings.max_upload_bytes,
    )
    wildcard = "*" in settings.cors_origins
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"] if wildcard else settings.cors_origins,
        allow_credentials=False,
        allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type"],
        expose_headers=["Retry-After", "Location"],
        max_age=600,
    )
    return app
