"""The HTTP API over a fake pipeline: routes, auth, CORS, limits, problem+json, SSE, chat completions."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_fakes import HAIZHU_ID, HAIZHU_TEXT, XSS_ID, XSS_PAYLOAD, FakePipeline
from fastapi.testclient import TestClient

from api import create_app
from api.security import TokenBucketLimiter
from rag.errors import GeneratorError
from rag.settings import Settings

PROBLEM = "application/problem+json"


def make_client(pipeline: FakePipeline | None = None, **settings: Any) -> TestClient:
    settings.setdefault("rate_limit_per_minute", 0)
    app = create_app(Settings(**settings), pipeline=pipeline or FakePipeline.with_samples())
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def fake() -> FakePipeline:
    return FakePipeline.with_samples()


@pytest.fixture
def client(fake: FakePipeline) -> Iterator[TestClient]:
    with make_client(fake) as c:
        yield c


def assert_problem(resp: Any, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = resp.json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status
    assert "Traceback" not in resp.text
    return body


def parse_sse(text: str) -> list[tuple[str | None, str]]:
    events = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        event, data = None, []
        for line in block.split("\n"):
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
        events.append((event, "\n".join(data)))
    return events


# ---------------------------------------------------------------- ask / search


def test_ask_returns_answer_contract(client: TestClient) -> None:
    resp = client.post("/v1/ask", json={"question": "what was Haizhu's 2018 GDP target"})
    assert resp.status_code == 200
    body = resp.json()
    assert {
        "question",
        "short_answer",
        "answer",
        "refused",
        "language",
        "citations",
        "timings_ms",
    } <= body.keys()
    assert body["short_answer"] == "about 7.7%"
    assert body["refused"] is False and body["language"] == "en"
    cite = body["citations"][0]
    assert cite["doc_id"] == HAIZHU_ID and HAIZHU_TEXT[cite["start"] : cite["end"]] == cite["quote"]


def test_ask_passes_filters_and_history(client: TestClient, fake: FakePipeline) -> None:
    resp = client.post(
        "/v1/ask",
        json={
            "question": "and the revenue target?",
            "filters": {"region": "海珠区", "year": 2018},
            "history": [{"question": "what was Haizhu's 2018 GDP target", "answer": "about 7.7% [1]"}],
        },
    )
    assert resp.status_code == 200
    _, filters, history = fake.asked[-1]
    assert filters is not None and filters.region == "海珠区" and filters.year == 2018
    assert history[0].answer == "about 7.7% [1]"


def test_ask_refusal(client: TestClient) -> None:
    body = client.post("/v1/ask", json={"question": "火星基地什么时候建成"}).json()
    assert body["refused"] is True and body["citations"] == []


def test_ask_stream_sse(client: TestClient) -> None:
    resp = client.post("/v1/ask", json={"question": "what was Haizhu's 2018 GDP target", "stream": True})
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(resp.text)
    tokens = [json.loads(d)["text"] for e, d in events if e == "token"]
    assert len(tokens) > 1
    assert events[-1][0] == "answer"
    answer = json.loads(events[-1][1])
    assert "".join(tokens) == answer["answer"]
    assert answer["citations"][0]["doc_id"] == HAIZHU_ID


def test_ask_stream_error_event(fake: FakePipeline) -> None:
    fake.fail_with = GeneratorError("the LLM endpoint is unreachable")
    with make_client(fake) as c:
        resp = c.post("/v1/ask", json={"question": "GDP target", "stream": True})
    events = parse_sse(resp.text)
    assert events[-1][0] == "error"
    problem = json.loads(events[-1][1])
    assert problem["status"] == 502 and "unreachable" in problem["detail"]


def test_search(client: TestClient) -> None:
    resp = client.post("/v1/search", json={"query": "海珠区 地区生产总值 目标", "k": 3})
    assert resp.status_code == 200
    body = resp.json()
    assert 0 < len(body["hits"]) <= 3
    hit = body["hits"][0]
    assert set(hit) >= {
        "doc_id",
        "chunk_id",
        "title",
        "region",
        "year",
        "section",
        "text",
        "start",
        "end",
        "score",
    }
    assert "7.7%" in hit["text"]


def test_search_k_out_of_range(client: TestClient) -> None:
    assert_problem(client.post("/v1/search", json={"query": "GDP", "k": 0}), 422)


# ---------------------------------------------------------------- validation and problems


@pytest.mark.parametrize("question", ["", "   \n "])
def test_empty_question_is_422(client: TestClient, question: str) -> None:
    body = assert_problem(client.post("/v1/ask", json={"question": question}), 422)
    assert "empty" in body["detail"]


def test_long_question_is_422_with_limit() -> None:
    with make_client(max_question_chars=50) as c:
        body = assert_problem(c.post("/v1/ask", json={"question": "x" * 51}), 422)
    assert "50" in body["detail"] and "limit" in body["detail"]


def test_missing_field_and_broken_json(client: TestClient) -> None:
    body = assert_problem(client.post("/v1/ask", json={"q": "hi"}), 422)
    assert "question" in body["detail"]
    resp = client.post("/v1/ask", content=b'{"question": "GDP', headers={"content-type": "application/json"})
    assert_problem(resp, 400)


def test_request_body_limit_is_413() -> None:
    with make_client(max_request_bytes=200) as c:
        body = assert_problem(c.post("/v1/ask", json={"question": "x" * 500}), 413)
        assert "200" in body["detail"]

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
            yield b'{"question": "'
            yield b"y" * 400
            yield b'"}'

        assert_problem(c.post("/v1/ask", content=chunks(), headers={"content-type": "application/json"}), 413)


def test_unknown_route_and_method(client: TestClient) -> None:
    assert_problem(client.get("/v1/nope"), 404)
    assert_problem(client.get("/v1/ask"), 405)


def test_unexpected_error_is_generic_500(fake: FakePipeline, caplog: pytest.LogCaptureFixture) -> None:
    fake.fail_with = RuntimeError("secret-token-123 leaked in message")
    with make_client(fake) as c:
        body = assert_problem(c.post("/v1/ask", json={"question": "GDP target"}), 500)
    assert "secret-token-123" not in json.dumps(body)
    assert "RuntimeError" in caplog.text


def test_library_errors_map_to_statuses(fake: FakePipeline) -> None:
    fake.fail_with = GeneratorError("LLM down")
    with make_client(fake) as c:
        assert_problem(c.post("/v1/ask", json={"question": "GDP target"}), 502)


# ---------------------------------------------------------------- documents


def test_list_get_delete_documents(client: TestClient) -> None:
    listed = client.get("/v1/documents").json()
    assert listed["count"] == 2
    ids = {d["doc_id"] for d in listed["documents"]}
    assert ids == {HAIZHU_ID, XSS_ID}
    doc = client.get(f"/v1/documents/{HAIZHU_ID}").json()
    assert doc["text"] == HAIZHU_TEXT and doc["region"] == "海珠区" and doc["year"] == 2018
    assert client.delete(f"/v1/documents/{HAIZHU_ID}").status_code == 204
    assert_problem(client.get(f"/v1/documents/{HAIZHU_ID}"), 404)
    assert_problem(client.delete(f"/v1/documents/{HAIZHU_ID}"), 404)


def wait_job(client: TestClient, url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(url, headers=headers).json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.02)
    raise AssertionError("job did not finish")


def test_upload_job_lifecycle(tmp_path: Path) -> None:
    fake = FakePipeline.with_samples()
    fake.ingest_gate = threading.Event()  # the job stays running until the test has seen it running
    report = "越秀区2019年政府工作报告\n今年预期目标是:地区生产总值增长6.5%。\n"
    with make_client(fake) as c:
        resp = c.post(
            "/v1/documents", files={"file": ("../../越秀区 2019.txt", report.encode(), "text/plain")}
        )
        assert resp.status_code == 202, resp.text
        job = resp.json()
        assert job["status"] in ("queued", "running")
        assert job["filename"] == "越秀区 2019.txt"
        assert resp.headers["location"] == job["status_url"]
        assert c.get(job["status_url"]).json()["status"] in ("queued", "running")
        fake.ingest_gate.set()
        done = wait_job(c, job["status_url"])
        assert done["status"] == "done" and done["doc_ids"] == ["越秀区 2019.txt"]
        assert done["report"]["added"] == ["越秀区 2019.txt"]
        doc = c.get("/v1/documents/越秀区 2019.txt").json()
        assert doc["text"] == report and doc["year"] == 2019
        ask = {"question": "越秀区地区生产总值目标", "filters": {"doc_id": "越秀区 2019.txt"}}
        assert c.post("/v1/ask", json=ask).json()["short_answer"] == "6.5%左右"
        assert_problem(c.get("/v1/documents/jobs/nope"), 404)


def test_upload_failed_job_reports_reason(client: TestClient) -> None:
    resp = client.post(
        "/v1/documents", files={"file": ("bad.txt", b"\xff\xfe\xfa not utf-8 \xff", "text/plain")}
    )
    assert resp.status_code == 202
    job = wait_job(client, resp.json()["status_url"])
    assert job["status"] == "failed" and job["reason"]


def test_upload_unsupported_type_is_415(client: TestClient) -> None:
    body = assert_problem(
        client.post("/v1/documents", files={"file": ("x.exe", b"MZ", "application/x")}), 415
    )
    assert ".pdf" in body["detail"] and ".pdf" in body["supported"]


def test_upload_limits() -> None:
    with make_client(max_upload_bytes=1000, max_request_bytes=100) as c:
        # The upload limit, not the (smaller) request limit, applies to uploads.
        ok = c.post(
            "/v1/documents", files={"file": ("a.txt", "海珠区2018年报告\n".encode() * 20, "text/plain")}
        )
        assert ok.status_code == 202
        big = c.post("/v1/documents", files={"file": ("b.txt", b"x" * 5000, "text/plain")})
        assert_problem(big, 413)
        assert_problem(c.post("/v1/documents", files={"file": ("e.txt", b"", "text/plain")}), 422)
        assert_problem(c.post("/v1/documents", data={"x": "1"}), 422)


# ---------------------------------------------------------------- auth, rate limit, CORS


def test_keys_required_for_writes_only() -> None:
    with make_client(api_keys=["k1", "k2"]) as c:
        assert c.post("/v1/ask", json={"question": "GDP target"}).status_code == 200
        resp = c.delete(f"/v1/documents/{HAIZHU_ID}")
        body = assert_problem(resp, 401)
        assert "Bearer" in body["detail"] and resp.headers["www-authenticate"].startswith("Bearer")
        assert_problem(c.delete(f"/v1/documents/{HAIZHU_ID}", headers={"Authorization": "Bearer nope"}), 403)
        assert (
            c.delete(f"/v1/documents/{HAIZHU_ID}", headers={"Authorization": "Bearer k2"}).status_code == 204
        )
        # A wrong key is rejected on reads too, rather than silently ignored.
        assert_problem(c.get("/v1/documents", headers={"Authorization": "Bearer nope"}), 403)
        files = {"file": ("a.txt", b"hello", "text/plain")}
        assert_problem(c.post("/v1/documents", files=files), 401)


def test_keys_required_for_reads_when_configured() -> None:
    with make_client(api_keys=["k1"], require_key_for_reads=True) as c:
        assert_problem(c.post("/v1/ask", json={"question": "GDP target"}), 401)
        assert_problem(c.get("/v1/models"), 401)
        ok = c.post("/v1/ask", json={"question": "GDP target"}, headers={"Authorization": "Bearer k1"})
        assert ok.status_code == 200
        assert c.get("/healthz").status_code == 200 and c.get("/widget.js").status_code == 200


def test_rate_limit_429_with_retry_after() -> None:
    with make_client(rate_limit_per_minute=3, api_keys=["a", "b"]) as c:
        for _ in range(3):
            assert c.get("/v1/models").status_code == 200
        resp = c.get("/v1/models")
        assert_problem(resp, 429)
        assert int(resp.headers["retry-after"]) >= 1
        # Buckets are per key: another key still has its own.
        assert c.get("/v1/models", headers={"Authorization": "Bearer a"}).status_code == 200


def test_token_bucket_refills() -> None:
    limiter = TokenBucketLimiter(60, burst=2)
    assert limiter.acquire("x", now=0.0) is None
    assert limiter.acquire("x", now=0.0) is None
    wait = limiter.acquire("x", now=0.0)
    assert wait is not None and 0.9 < wait <= 1.0
    assert limiter.acquire("x", now=1.01) is None
    assert TokenBucketLimiter(0).acquire("x") is None


def test_cors_allow_list() -> None:
    with make_client(cors_origins=["https://good.example"]) as c:
        pre = c.options(
            "/v1/ask",
            headers={
                "Origin": "https://good.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type,authorization",
            },
        )
        assert pre.status_code == 200
        assert pre.headers["access-control-allow-origin"] == "https://good.example"
        resp = c.post("/v1/ask", json={"question": ""}, headers={"Origin": "https://good.example"})
        assert resp.headers["access-control-allow-origin"] == "https://good.example"  # errors too
        bad = c.post("/v1/ask", json={"question": "GDP"}, headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in bad.headers
        bad_pre = c.options(
            "/v1/ask", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
        )
        assert bad_pre.status_code == 400


# ---------------------------------------------------------------- OpenAI-compatible


def test_chat_completions(client: TestClient, fake: FakePipeline) -> None:
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "海珠区2018年的目标?"},
        {"role": "assistant", "content": "7.7%左右 [1]。"},
        {"role": "user", "content": [{"type": "text", "text": "what was Haizhu's 2018 GDP target"}]},
    ]
    resp = client.post("/v1/chat/completions", json={"model": "x", "messages": messages, "temperature": 0})
    assert resp.status_code == 200
    body = resp.json()
    assert body["object"] == "chat.completion" and body["model"] == "x"
    message = body["choices"][0]["message"]
    assert message["role"] == "assistant" and "[1]" in message["content"]
    assert message["citations"] == body["citations"] and body["citations"][0]["doc_id"] == HAIZHU_ID
    question, _, history = fake.asked[-1]
    assert question == "what was Haizhu's 2018 GDP target"
    assert [(t.question, t.answer) for t in history] == [("海珠区2018年的目标?", "7.7%左右 [1]。")]


def test_chat_completions_stream(client: TestClient) -> None:
    resp = client.post(
        "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "what was Haizhu's 2018 GDP target"}], "stream": True},
    )
    assert resp.headers["content-type"].startswith("text/event-stream")
    events = [d for _, d in parse_sse(resp.text)]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(d) for d in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert "7.7%" in text and "[1]" in text
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["citations"][0]["doc_id"] == HAIZHU_ID


def test_chat_completions_needs_user_message(client: TestClient) -> None:
    assert_problem(
        client.post("/v1/chat/completions", json={"messages": [{"role": "system", "content": "x"}]}), 422
    )
    assert_problem(client.post("/v1/chat/completions", json={"messages": []}), 422)


def test_models(client: TestClient) -> None:
    body = client.get("/v1/models").json()
    assert body["object"] == "list" and body["data"][0]["id"] == "govreport-rag"


# ---------------------------------------------------------------- health, static, docs


def test_health_and_readiness_flip() -> None:
    gate: dict[str, FakePipeline] = {}

    def slow_loader(_settings: Settings) -> FakePipeline:
        while "go" not in gate:
            time.sleep(0.01)
        return gate["go"]

    app = create_app(Settings(rate_limit_per_minute=0), loader=slow_loader)
    with TestClient(app, raise_server_exceptions=False) as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        assert_problem(c.get("/readyz"), 503)
        body = assert_problem(c.post("/v1/ask", json={"question": "GDP"}), 503)
        assert "loading" in body["detail"]
        gate["go"] = FakePipeline.with_samples()
        deadline = time.monotonic() + 5
        while c.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert c.get("/readyz").json() == {"status": "ready", "documents": 2}
        assert c.post("/v1/ask", json={"question": "GDP target"}).status_code == 200


def test_readiness_reports_load_failure() -> None:
    from rag.errors import IndexNotFoundError

    def failing(_settings: Settings) -> FakePipeline:
        raise IndexNotFoundError('no index at ./index — run "rag ingest data/reports" first')

    with TestClient(create_app(Settings(), loader=failing)) as c:
        deadline = time.monotonic() + 5
        while "rag ingest" not in c.get("/readyz").text and time.monotonic() < deadline:
            time.sleep(0.01)
        assert "rag ingest" in assert_problem(c.get("/readyz"), 503)["detail"]


def test_static_widget_demo_and_openapi(client: TestClient) -> None:
    js = client.get("/widget.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert "attachShadow" in js.text and ".innerHTML" not in js.text
    page = client.get("/")
    assert page.status_code == 200 and "widget.js" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    spec = client.get("/openapi.json").json()
    for path in ("/v1/ask", "/v1/search", "/v1/documents", "/v1/documents/{doc_id}", "/v1/chat/completions"):
        assert path in spec["paths"], path
    assert client.get("/docs").status_code == 200


def test_json_is_xss_safe_data(client: TestClient) -> None:
    """Markup in documents and questions comes back as JSON string data, never as HTML."""
    doc = client.get(f"/v1/documents/{XSS_ID}")
    assert doc.headers["content-type"].startswith("application/json")
    assert XSS_PAYLOAD in doc.json()["text"]
    resp = client.post("/v1/ask", json={"question": f"{XSS_PAYLOAD} 测试标记"})
    assert resp.headers["content-type"].startswith("application/json")
    assert XSS_PAYLOAD in resp.json()["answer"]
    assert_problem(client.get("/v1/documents/<script>alert(1)</script>"), 404)
