"""RFC 9457 problem+json errors: the one error shape every route returns, and the handlers that produce it."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from api.schemas import Problem
from rag.errors import (
    DocumentNotFoundError,
    DocumentReadError,
    GeneratorError,
    IndexLockedError,
    IndexMismatchError,
    IndexNotFoundError,
    InvalidQuestionError,
    ModelUnavailableError,
    RagError,
    UnsupportedFileError,
)

PROBLEM_MEDIA_TYPE = "application/problem+json"
GENERIC_500_DETAIL = "The server hit an unexpected error; it has been logged. Try again later."
_FASTAPI_BODY_ERROR = "There was an error parsing the body"
"""FastAPI's detail when a JSON body is not UTF-8 or nests too deeply; replaced by one that says what to send."""
BODY_ERROR_DETAIL = "The request body could not be parsed: send one JSON object, encoded as UTF-8."

log = logging.getLogger("api")


class ProblemError(Exception):
    """An error the API reports as problem+json with a given status (raised by routes and dependencies)."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        slug: str | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.slug = slug
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries documenting problem+json errors."""
    return {code: {"model": Problem, "content": {PROBLEM_MEDIA_TYPE: {}}} for code in codes}


def problem_dict(status: int, detail: str, *, slug: str | None = None, **extra: Any) -> dict[str, Any]:
    """The problem JSON body: type, title, status, detail (+ extension members)."""
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body: dict[str, Any] = {
        "type": f"/problems/{slug}" if slug else "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    body.update(extra)
    return body


def problem_response(
    status: int,
    detail: str,
    *,
    slug: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> Response:
    """A problem+json response."""
    problem = problem_dict(status, detail, slug=slug, **extra)
    body = json.dumps(problem, ensure_ascii=False)
    try:
        content = body.encode("utf-8")
    except UnicodeEncodeError:  # an echoed value held a lone surrogate: JSON can still escape it
        content = json.dumps(problem).encode("ascii")
    return Response(content, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=dict(headers or {}))


def rag_error_status(exc: RagError) -> tuple[int, str]:
    """HTTP status and problem slug for a library error."""
    match exc:
        case DocumentNotFoundError():
            return 404, "document-not-found"
        case InvalidQuestionError():
            return 422, "invalid-question"
        case UnsupportedFileError():
            return 415, "unsupported-file-type"
        case DocumentReadError():
            return 422, "unreadable-document"
        case IndexNotFoundError() | IndexMismatchError():
            return 503, "index-unavailable"
        case IndexLockedError():
            return 503, "index-locked"
        case ModelUnavailableError():
            return 503, "model-unavailable"
        case GeneratorError():
            return 502, "generator-failed"
        case _:
            return 400, "bad-request"


def exception_to_problem(exc: BaseException) -> dict[str, Any]:
    """The problem body for any exception (used inside SSE streams where a status line is already sent)."""
    if isinstance(exc, ProblemError):
        return problem_dict(exc.status, exc.detail, slug=exc.slug, **exc.extra)
    if isinstance(exc, RagError):
        status, slug = rag_error_status(exc)
        return problem_dict(status, str(exc), slug=slug)
    log.error("unhandled error while streaming: %s", type(exc).__name__, exc_info=exc)
    return problem_dict(500, GENERIC_500_DETAIL)


def _validation_detail(exc: RequestValidationError) -> tuple[int, str, list[dict[str, Any]]]:
    errors = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        errors.append(
            {"loc": loc, "msg": str(err.get("msg", "invalid value")), "type": str(err.get("type", ""))}
        )
    if any(e["type"] == "json_invalid" for e in errors):
        return 400, "The request body is not valid JSON.", errors
    summary = "; ".join(f"{e['loc']}: {e['msg']}" for e in errors[:5])
    return 422, f"Invalid request — {summary}", errors


def allowed_methods(routes: Iterable[BaseRoute], path: str) -> list[str]:
    """The methods of the resource at this path (for the `Allow` header of a 405).

    The resource is the path template of the first route that matches, as routing resolves it, so
    /v1/documents/jobs/1 is a job (GET), not a document named "jobs/1".
    """
    matching = [r for r in routes if isinstance(r, APIRoute | Route) and r.path_regex.match(path)]
    if not matching:
        return []
    template = matching[0].path_format
    return sorted({m for r in matching if r.path_format == template for m in r.methods or ()})


def install_problem_handlers(app: FastAPI) -> None:
    """Route every error (ours, the library's, FastAPI's) through problem+json."""

    async def on_problem(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ProblemError)
        return problem_response(exc.status, exc.detail, slug=exc.slug, headers=exc.headers, **exc.extra)

    async def on_rag_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RagError)
        status, slug = rag_error_status(exc)
        if status >= 500:
            log.warning("%s: %s", type(exc).__name__, exc)
        return problem_response(status, str(exc), slug=slug)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 400 and detail == _FASTAPI_BODY_ERROR:
            return problem_response(400, BODY_ERROR_DETAIL, slug="invalid-request")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names only the first route whose path matched; list every method of the resource.
            methods = allowed_methods(getattr(request.app.state, "routes", ()), request.url.path)
            if methods:
                headers["Allow"] = ", ".join(methods)
        return problem_response(exc.status_code, detail, headers=headers)

    async def on_validation_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        status, detail, errors = _validation_detail(exc)
        return problem_response(status, detail, slug="invalid-request", errors=errors)

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(RagError, on_rag_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
