"""Schemathesis against the app's own OpenAPI document: no 5xx, every response as documented.

Deterministic (derandomized Hypothesis, no example database) and bounded (MAX_EXAMPLES per operation), so it
stays a few seconds in CI. Checks: schemathesis' defaults — server errors, status codes, content types,
response headers and bodies against the schema, `Allow` on 405, auth really enforced where the document
says so, schema-violating requests rejected and schema-valid ones accepted.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import schemathesis
from api_fakes import FakePipeline
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api import create_app
from rag.settings import Settings

MAX_EXAMPLES = 40
KEY = "schemathesis-key"

# Rules the schema cannot state, so a schema-valid request may fairly get a 4xx here:
# an upload's type is its file name's suffix; a chat needs a `user` message whose content is a valid question.
NOT_EXPRESSIBLE = {("POST", "/v1/documents"), ("POST", "/v1/chat/completions")}

app = create_app(Settings(rate_limit_per_minute=0, api_keys=[KEY]), pipeline=FakePipeline.with_samples())
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_openapi_schema(case: Any) -> None:
    excluded = [positive_data_acceptance] if (case.method, case.path) in NOT_EXPRESSIBLE else []
    case.call_and_validate(headers={"Authorization": f"Bearer {KEY}"}, excluded_checks=excluded)


# ----------------------------------------------------------------------------------- what schemathesis found


def _operations(settings: Settings) -> dict[str, Any]:
    document = create_app(settings, pipeline=FakePipeline.with_samples()).openapi()
    return {f"{m.upper()} {p}": op for p, ops in document["paths"].items() for m, op in ops.items()}


def test_documented_security_follows_the_configured_keys() -> None:
    bearer, optional = [{"HTTPBearer": []}], [{}, {"HTTPBearer": []}]
    open_ops = _operations(Settings(rate_limit_per_minute=0))
    assert all("security" not in op for op in open_ops.values())  # no keys: none is checked
    keyed = _operations(Settings(api_keys=["k"]))
    assert keyed["POST /v1/documents"]["security"] == bearer
    assert keyed["DELETE /v1/documents/{doc_id}"]["security"] == bearer
    assert keyed["GET /v1/documents/jobs/{job_id}"]["security"] == bearer
    assert keyed["POST /v1/ask"]["security"] == optional and keyed["GET /v1/models"]["security"] == optional
    assert "security" not in keyed["GET /healthz"]
    strict = _operations(Settings(api_keys=["k"], require_key_for_reads=True))
    assert strict["POST /v1/ask"]["security"] == bearer and strict["POST /v1/search"]["security"] == bearer
    assert all("403" in op["responses"] for name, op in keyed.items() if "security" in op), "403 undocumented"


def test_question_limits_are_documented() -> None:
    schemas = create_app(Settings(max_question_chars=321), pipeline=FakePipeline()).openapi()["components"]
    question = schemas["schemas"]["AskRequest"]["properties"]["question"]
    assert question["minLength"] == 1 and question["maxLength"] == 321
    pattern = re.compile(question["pattern"])
    for ok in ("GDP target", "\u3000海珠区\n", "x\t"):
        assert pattern.search(ok), ok
    for bad in (" ", "\u200b\ufeff", "\x85", "GDP\x00", "a\x1b[31m"):
        assert not pattern.search(bad), repr(bad)
    assert schemas["schemas"]["SearchRequest"]["properties"]["query"]["pattern"] == question["pattern"]


def test_405_allow_lists_every_method_of_the_resource() -> None:
    with TestClient(create_app(Settings(), pipeline=FakePipeline.with_samples())) as client:
        expected = {
            "/v1/documents": "GET, POST",
            "/v1/documents/x.txt": "DELETE, GET",
            "/v1/documents/jobs/1": "GET",
            "/v1/ask": "POST",
        }
        for path, allow in expected.items():
            resp = client.put(path)
            assert resp.status_code == 405 and resp.headers["allow"] == allow, (path, resp.headers)
            assert resp.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"question": "GDP target", "stream": 0}, 422),  # was coerced to false
        ({"question": "GDP target", "filters": {"year": "2018"}}, 422),  # was coerced to 2018
        ({"question": "GDP target", "filters": {"year": True}}, 422),
        ({"question": "GDP target", "filters": {"year": 2018.0}}, 200),  # an integer to JSON Schema
    ],
)
def test_request_values_must_have_their_json_type(body: dict[str, Any], status: int) -> None:
    with TestClient(create_app(Settings(rate_limit_per_minute=0), pipeline=FakePipeline.with_samples())) as c:
        assert c.post("/v1/ask", json=body).status_code == status
        search = {"query": "GDP", "k": 8.0 if status == 200 else "8"}
        assert c.post("/v1/search", json=search).status_code == status
