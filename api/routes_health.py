"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from api.deps import PipelineLike
from api.problems import ProblemError, problem_responses
from api.schemas import HealthOut

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthOut, response_model_exclude_none=True)
def healthz() -> Any:
    """The process is up (says nothing about the index)."""
    return {"status": "ok"}


@router.get("/readyz", response_model=HealthOut, responses=problem_responses(503))
def readyz(request: Request) -> Any:
    """200 once the pipeline is loaded and can answer; 503 (with the reason) before that."""
    pipeline: PipelineLike | None = request.app.state.pipeline
    if pipeline is None:
        error: str | None = request.app.state.load_error
        detail = f"The index could not be loaded: {error}" if error else "Loading the index."
        raise ProblemError(
            503, detail, slug="not-ready", headers={"Retry-After": "5"}, extra={"ready": False}
        )
    return {"status": "ready", "documents": len(pipeline.documents())}
