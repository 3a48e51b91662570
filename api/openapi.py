"""The OpenAPI document as this server's configuration enforces it: which keys are required, how long a question may be."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from api.deps import question_schema
from api.security import read_access, write_access
from rag.settings import Settings

Access = Literal["read", "write"]
SCHEME = "HTTPBearer"
"""FastAPI's name for `api.security.bearer_scheme` in `components.securitySchemes`."""


def route_access(dependant: Dependant) -> Access | None:
    """Whether a route depends on `write_access` (a key whenever keys are configured), `read_access`, or neither."""
    stack = [dependant]
    found: Access | None = None
    while stack:
        dep = stack.pop()
        if dep.call is write_access:
            return "write"
        if dep.call is read_access:
            found = "read"
        stack.extend(dep.dependencies)
    return found


def key_required(access: Access, settings: Settings) -> bool | None:
    """True when the key is required, False when optional, None when keys are not checked at all."""
    if not [k for k in settings.api_keys if k]:
        return None
    return access == "write" or settings.require_key_for_reads


QUESTION_FIELDS = {"AskRequest": "question", "SearchRequest": "query"}
"""Request fields checked by `api.deps.check_question`."""


def openapi_for(
    app: FastAPI, routes: Sequence[BaseRoute], settings: Settings
) -> Callable[[], dict[str, Any]]:
    """A replacement for `app.openapi` (built once, like FastAPI's own); `routes` are the included routers' routes.

    FastAPI marks every route that reads the bearer header as requiring it; here reads are optional unless
    `require_key_for_reads`, and without configured keys no operation asks for one (a key sent is ignored).
    Question fields get the limits `check_question` applies, so generated clients and fuzzers know them.
    """

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = FastAPI.openapi(app)
            document_security(schema, routes, settings)
            document_questions(schema, settings)
        assert app.openapi_schema is not None
        return app.openapi_schema

    return openapi


def document_security(schema: dict[str, Any], routes: Sequence[BaseRoute], settings: Settings) -> None:
    """Rewrite each operation's `security` (in place) to what the configured keys enforce."""
    for route in routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        access = route_access(route.dependant)
        if access is None:
            continue
        required = key_required(access, settings)
        for method in route.methods or ():
            operation = schema["paths"].get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            if required is None:
                operation.pop("security", None)
            elif required:
                operation["security"] = [{SCHEME: []}]
            else:
                operation["security"] = [{}, {SCHEME: []}]  # `{}`: no key is also accepted
    if not any("security" in op for ops in schema["paths"].values() for op in ops.values()):
        schema.get("components", {}).pop("securitySchemes", None)


def document_questions(schema: dict[str, Any], settings: Settings) -> None:
    """Add the question limits (length, visible text, no control characters) to the request schemas."""
    components = schema.get("components", {}).get("schemas", {})
    for model, name in QUESTION_FIELDS.items():
        field = components.get(model, {}).get("properties", {}).get(name)
        if field is not None:
            field.update(question_schema(settings.max_question_chars))
