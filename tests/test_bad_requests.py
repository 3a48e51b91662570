"""Bad HTTP requests against the API: each is a 4xx application/problem+json that says what to send instead,
never a 5xx, and none reaches the pipeline."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from api_fakes import RecordingPipeline, fake_client
from fastapi.testclient import TestClient

from api.routes_documents import safe_filename
from rag.types import IngestReport

PROBLEM = "application/problem+json"
JSON = {"content-type": "application/json"}


@pytest.fixture
def fake() -> RecordingPipeline:
    return RecordingPipeline.with_samples()


@pytest.fixture
def client(fake: RecordingPipeline) -> Iterator[TestClient]:
    with fake_client(fake) as c:
        yield c


def assert_problem(resp: Any, status: int, *needles: str) -> dict[str, Any]:
    """A problem+json of that status whose detail contains every needle."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = resp.json()
    assert body["status"] == status and body["title"] and body["detail"]
    for needle in needles:
        assert needle in body["detail"], body["detail"]
    assert "Traceback" not in resp.text
    return body


# ----------------------------------------------------------------------------------- questions


@pytest.mark.parametrize("route", ["/v1/ask", "/v1/search"])
@pytest.mark.parametrize(
    ("value", "status", "needle"),
    [
        ("", 422, "is empty"),
        ("   \n\t ", 422, "is empty"),
        ("\u3000\u3000", 422, "is empty"),  # ideographic spaces
        ("\u200b\ufeff\u200d", 422, "is empty"),  # zero-width characters only
        ("x" * 100_000, 422, "the limit is 1,000"),
        ("经济" * 50_000, 422, "the limit is 1,000"),  # 100,000 characters, 300 kB of UTF-8
        ("GDP\x00target", 422, "control character U+0000"),
        ("GDP \x1b[31mtarget", 422, "control character U+001B"),
        ("GDP\x7f", 422, "control character U+007F"),
        ("\x01\x02\x03", 422, "control character U+0001"),
    ],
    ids=[
        "empty",
        "whitespace",
        "ideographic-space",
        "zero-width",
        "100k-ascii",
        "100k-cjk",
        "nul",
        "ansi-escape",
        "del",
        "controls-only",
    ],
)
def test_bad_question_text_is_422(
    client: TestClient, fake: RecordingPipeline, route: str, value: str, status: int, needle: str
) -> None:
    field = "question" if route == "/v1/ask" else "query"
    assert_problem(client.post(route, json={field: value}), status, needle, f"`{field}`")
    assert fake.asked == []


def test_tabs_and_newlines_in_a_question_are_fine(client: TestClient) -> None:
    assert client.post("/v1/ask", json={"question": "海珠区\t2018年\n地区生产总值目标"}).status_code == 200


def test_bad_chat_message_text_is_422(client: TestClient) -> None:
    for content, needle in (("", "is empty"), ("q" * 100_000, "limit"), ("GDP\x00", "control character")):
        body = {"messages": [{"role": "user", "content": content}]}
        assert_problem(client.post("/v1/chat/completions", json=body), 422, needle, "messages[-1].content")


# ----------------------------------------------------------------------------------- bodies


@pytest.mark.parametrize(
    ("route", "body", "status", "needle"),
    [
        ("/v1/ask", b'{"question": "GDP', 400, "not valid JSON"),
        ("/v1/ask", b'{"question": "GDP",}', 400, "not valid JSON"),
        ("/v1/ask", b"", 422, "body"),
        ("/v1/ask", b"null", 422, "body"),
        ("/v1/ask", b'["GDP"]', 422, "body"),
        ("/v1/ask", b'"GDP"', 422, "body"),
        ("/v1/ask", b'{"question": 5}', 422, "question"),
        ("/v1/ask", b'{"question": ["GDP"]}', 422, "question"),
        ("/v1/ask", b'{"question": "GDP", "filters": "region"}', 422, "filters"),
        ("/v1/ask", b'{"question": "GDP", "filters": {"year": "last"}}', 422, "filters.year"),
        ("/v1/ask", b'{"question": "GDP", "filters": {"year": 1e400}}', 422, "filters.year"),
        ("/v1/ask", b'{"question": "GDP", "history": [1]}', 422, "history.0"),
        (
            "/v1/ask",
            b'{"question": "GDP", "filters": {"color": "red"}}',
            422,
            "filters.color: Extra inputs are not permitted",
        ),
        (
            "/v1/ask",
            b'{"question": "GDP", "filters": {"doc_id": "a", "regions": ["x"]}}',
            422,
            "filters.regions",
        ),
        ("/v1/search", b'{"query": "GDP", "k": "ten"}', 422, "k"),
        ("/v1/search", b'{"query": "GDP", "k": 2.5}', 422, "k"),
        ("/v1/search", b'{"query": "GDP", "k": NaN}', 422, "k"),
        ("/v1/search", b'{"query": "GDP", "k": 100000000000000000000000}', 422, "k"),
        ("/v1/search", b'{"query": "GDP", "filters": {"colour": 1}}', 422, "filters.colour"),
        ("/v1/chat/completions", b'{"messages": "hi"}', 422, "messages"),
        ("/v1/chat/completions", b'{"messages": []}', 422, "messages"),
        (
            "/v1/chat/completions",
            b'{"messages": [{"role": "root", "content": "GDP"}]}',
            422,
            "messages.0.role",
        ),
        ("/v1/chat/completions", b'{"messages": [{"role": "system", "content": "GDP"}]}', 422, "role `user`"),
        (
            "/v1/chat/completions",
            b'{"messages": [{"role": "user", "content": "GDP"}], "filters": {"x": 1}}',
            422,
            "filters.x",
        ),
    ],
)
def test_broken_json_and_wrong_types_are_4xx(
    client: TestClient, fake: RecordingPipeline, route: str, body: bytes, status: int, needle: str
) -> None:
    assert_problem(client.post(route, content=body, headers=JSON), status, needle)
    assert fake.asked == []


@pytest.mark.parametrize(
    "body",
    [
        b'{"question": "\xff\xfe GDP"}',
        b'{"question": "\xc3\x28"}',
        b"\x80\x81\x82",
    ],
    ids=["ff-fe", "bad-continuation", "garbage"],
)
def test_invalid_utf8_body_is_400_saying_utf8(client: TestClient, body: bytes) -> None:
    assert_problem(client.post("/v1/ask", content=body, headers=JSON), 400, "UTF-8")


@pytest.mark.parametrize(
    "body",
    [
        b'{"question": "\\ud800 GDP"}',
        b'{"question": "GDP", "filters": {"region": "\\udfff"}}',
        b'{"question": "GDP", "filters": {"\\ud800": 1}}',
        b'{"question": "GDP", "history": [{"question": "a", "answer": "\\udc00"}]}',
        b'{"question": "\xed\xa0\x80 GDP"}',  # a surrogate encoded as UTF-8 bytes (CESU-8); json.loads lets it by
    ],
    ids=["question", "filter-value", "filter-key", "history", "utf8-encoded"],
)
def test_lone_surrogate_escapes_are_422_not_500(client: TestClient, body: bytes) -> None:
    # Valid JSON, but "\ud800" alone is no character: echoing it back used to fail while encoding the response.
    assert_problem(client.post("/v1/ask", content=body, headers=JSON), 422, "unpaired surrogate", "UTF-8")


def test_lone_surrogate_in_chat_content_parts_is_422(client: TestClient) -> None:
    body = b'{"messages": [{"role": "user", "content": [{"type": "text", "text": "\\ud83d"}]}]}'
    assert_problem(client.post("/v1/chat/completions", content=body, headers=JSON), 422, "unpaired surrogate")


def test_a_valid_surrogate_pair_is_an_emoji_not_an_error(client: TestClient) -> None:
    resp = client.post("/v1/ask", content=b'{"question": "GDP \\ud83d\\ude00"}', headers=JSON)
    assert resp.status_code == 200 and resp.json()["question"] == "GDP 😀"


def test_nesting_too_deep_to_parse_is_400(client: TestClient) -> None:
    body = b'{"question": "GDP", "filters": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert_problem(client.post("/v1/ask", content=body, headers=JSON), 400, "JSON")


@pytest.mark.parametrize("route", ["/v1/ask", "/v1/search", "/v1/chat/completions"])
@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
    ],
)
def test_wrong_content_type_for_json_routes_is_415(
    client: TestClient, route: str, content_type: str | None
) -> None:
    body = b'{"question": "GDP", "query": "GDP", "messages": [{"role": "user", "content": "GDP"}]}'
    headers = {"content-type": content_type} if content_type else {}
    body_json = assert_problem(client.post(route, content=body, headers=headers), 415, "application/json")
    assert body_json["type"] == "/problems/unsupported-media-type"


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/problem+json"])
def test_json_content_types_with_parameters_or_suffixes_are_accepted(
    client: TestClient, content_type: str
) -> None:
    resp = client.post(
        "/v1/ask", content=b'{"question": "GDP target"}', headers={"content-type": content_type}
    )
    assert resp.status_code == 200


def test_invalid_content_length_is_400(client: TestClient) -> None:
    for value in ("abc", "-1"):
        resp = client.post("/v1/ask", content=b"{}", headers={**JSON, "content-length": value})
        assert_problem(resp, 400, "Content-Length")


def test_random_bytes_never_cause_a_5xx(client: TestClient) -> None:
    rng = random.Random(1234)
    templates = [
        b'{"question": "%s"}',
        b'{"query": "%s", "k": %s}',
        b'{"messages": [{"role": "user", "content": "%s"}]}',
    ]
    for i in range(60):
        junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
        template = templates[i % 3]
        body = junk if i % 4 == 0 else template.replace(b"%s", junk)
        for route in ("/v1/ask", "/v1/search", "/v1/chat/completions"):
            resp = client.post(route, content=body, headers=JSON)
            assert resp.status_code < 500, (route, body, resp.text)
            if resp.status_code >= 400:
                assert resp.headers["content-type"].startswith(PROBLEM)


# ----------------------------------------------------------------------------------- uploads


def _wait(client: TestClient, url: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(url).json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.02)
    raise AssertionError("job did not finish")


REPORT = "越秀区2019年政府工作报告\n今年预期目标是:地区生产总值增长6.5%。\n".encode()


@pytest.mark.parametrize(
    ("name", "saved_as"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\Windows\\win.ini.txt", "win.ini.txt"),
        ("/etc/cron.d/evil.md", "evil.md"),
        ("....//....//x.txt", "x.txt"),
        ("..%2F..%2Fescape.txt", "..%2F..%2Fescape.txt".lstrip(".")),
        (".hidden.txt", "hidden.txt"),
        ("NUL.txt", "_NUL.txt"),
        ("a\x00b.txt", "a_b.txt"),
        ("报告<script>.txt", "报告_script_.txt"),
    ],
)
def test_upload_names_cannot_escape_the_upload_folder(name: str, saved_as: str) -> None:
    assert safe_filename(name) == saved_as


@pytest.mark.parametrize("name", ["../../etc/passwd.txt", "..\\..\\boot.ini.txt", "/etc/shadow.md"])
def test_path_traversal_upload_is_stored_under_its_base_name(
    client: TestClient, fake: RecordingPipeline, name: str
) -> None:
    resp = client.post("/v1/documents", files={"file": (name, REPORT, "text/plain")})
    assert resp.status_code == 202, resp.text
    job = _wait(client, resp.json()["status_url"])
    assert job["status"] == "done"
    (path,) = fake.ingested
    assert path.name == safe_filename(name) and path.parent.name.startswith("rag-upload-")
    assert ".." not in path.parts and not path.exists()  # ingested from a private temp folder, then deleted


@pytest.mark.parametrize("name", ["../../etc/passwd", "..", ".", "...", "/"])
def test_upload_name_without_a_supported_type_is_415(
    client: TestClient, fake: RecordingPipeline, name: str
) -> None:
    resp = client.post("/v1/documents", files={"file": (name, b"root:x:0:0", "text/plain")})
    assert_problem(resp, 415, "Unsupported file type")
    assert fake.ingested == []


def test_oversized_upload_is_413_whether_declared_or_streamed(fake: RecordingPipeline) -> None:
    with fake_client(fake, max_upload_bytes=10_000) as c:
        assert_problem(
            c.post("/v1/documents", files={"file": ("big.txt", b"x" * 20_000, "text/plain")}), 413, "10,000"
        )

        def chunks() -> Iterator[bytes]:
            yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\n\r\n'
            for _ in range(30):
                yield b"y" * 1000
            yield b"\r\n--b--\r\n"

        headers = {"content-type": "multipart/form-data; boundary=b"}
        assert_problem(c.post("/v1/documents", content=chunks(), headers=headers), 413, "10,000")
    assert fake.ingested == []


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"content-type": "application/json"}, b'{"file": "report text"}'),
        ({"content-type": "text/plain"}, REPORT),
        ({}, REPORT),
        ({"content-type": "application/pdf"}, b"%PDF-1.4"),
    ],
    ids=["json", "text", "none", "pdf-body"],
)
def test_upload_that_is_not_a_form_is_415(client: TestClient, headers: dict[str, str], body: bytes) -> None:
    assert_problem(client.post("/v1/documents", content=body, headers=headers), 415, "multipart/form-data")


@pytest.mark.parametrize(
    ("content_type", "body", "needle"),
    [
        ("multipart/form-data", b"--x\r\nbroken", "could not be read"),
        (
            "multipart/form-data; boundary=x",
            b"--x\r\nContent-Disposition: form-data\r\n\r\nno name\r\n--x--\r\n",
            "",
        ),
    ],
)
def test_broken_multipart_is_4xx(client: TestClient, content_type: str, body: bytes, needle: str) -> None:
    resp = client.post("/v1/documents", content=body, headers={"content-type": content_type})
    assert 400 <= resp.status_code < 500 and resp.headers["content-type"].startswith(PROBLEM), resp.text
    assert needle in resp.json()["detail"]


def test_two_files_in_one_upload_is_400_saying_why(client: TestClient) -> None:
    files = [("file", ("a.txt", REPORT, "text/plain")), ("file", ("b.txt", REPORT, "text/plain"))]
    assert_problem(client.post("/v1/documents", files=files), 400, "Too many files")


def test_file_sent_as_a_plain_field_is_422(client: TestClient) -> None:
    assert_problem(client.post("/v1/documents", data={"file": "not a file"}), 422, "multipart field `file`")


def test_binary_upload_with_a_text_name_fails_its_job_not_the_server(client: TestClient) -> None:
    resp = client.post("/v1/documents", files={"file": ("report.txt", bytes(range(256)) * 8, "text/plain")})
    assert resp.status_code == 202
    job = _wait(client, resp.json()["status_url"])
    assert job["status"] == "failed" and job["reason"]


# ----------------------------------------------------------------------------------- paths


@pytest.mark.parametrize(
    "path",
    [
        "/v1/documents/..%2F..%2Fetc%2Fpasswd",
        "/v1/documents/%2e%2e/%2e%2e/etc/passwd",
        "/v1/documents/a%00b",
        "/v1/documents/%ff%fe",
        "/v1/documents/jobs/%ff",
        "/v1/documents/jobs/..%2F..%2F",
    ],
)
def test_traversal_and_junk_in_document_paths_are_404(client: TestClient, path: str) -> None:
    assert_problem(client.get(path), 404)


def test_traversal_delete_removes_nothing(client: TestClient, fake: RecordingPipeline) -> None:
    before = [d.doc_id for d in fake.documents()]
    assert_problem(client.delete("/v1/documents/..%2F..%2Fetc%2Fpasswd"), 404)
    assert [d.doc_id for d in fake.documents()] == before


# ----------------------------------------------------------------------------------- the index is busy or broken


def test_delete_while_another_process_writes_is_503_index_locked(
    client: TestClient, fake: RecordingPipeline
) -> None:
    from rag.errors import IndexLockedError

    def locked(doc_id: str) -> None:
        raise IndexLockedError("another ingest is running on index (it still holds index/.lock after 120 s)")

    fake.remove = locked  # type: ignore[method-assign]
    body = assert_problem(
        client.delete("/v1/documents/001_haizhu_2018.txt"), 503, "another ingest is running"
    )
    assert body["type"] == "/problems/index-locked"


def test_upload_while_another_process_writes_fails_its_job_with_the_reason(
    client: TestClient, fake: RecordingPipeline
) -> None:
    from rag.errors import IndexLockedError

    def locked(paths: Sequence[Path], *, progress: bool = False) -> IngestReport:
        raise IndexLockedError("another ingest is running on index (it still holds index/.lock after 120 s)")

    fake.ingest = locked  # type: ignore[method-assign]
    resp = client.post("/v1/documents", files={"file": ("a.txt", REPORT, "text/plain")})
    job = _wait(client, resp.json()["status_url"])
    assert job["status"] == "failed" and "another ingest is running" in job["reason"]


def test_corrupt_index_error_is_503_not_500(client: TestClient, fake: RecordingPipeline) -> None:
    from rag.errors import IndexCorruptError

    fake.fail_with = IndexCorruptError(
        "index file index/gen-000001/vectors.faiss is damaged (missing); rebuild…"
    )
    body = assert_problem(client.post("/v1/ask", json={"question": "GDP target"}), 503, "vectors.faiss")
    assert body["type"] == "/problems/index-unavailable"
