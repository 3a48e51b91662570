"""Who may change the index: API keys (401 without, 403 wrong), compared in constant time and never logged;
the CORS allow-list; uploads that cannot write outside their folder. Each test fails without its protection."""

from __future__ import annotations

import hmac
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_fakes import HAIZHU_ID, RecordingPipeline, fake_client
from fastapi.testclient import TestClient

KEYS = ["key-one-7f3a9c", "key-two-51be0d"]
WRONG = "key-wrong-c0ffee"
PROBLEM = "application/problem+json"


@pytest.fixture
def fake() -> RecordingPipeline:
    return RecordingPipeline.with_samples()


@pytest.fixture
def client(fake: RecordingPipeline) -> Iterator[TestClient]:
    with fake_client(fake, api_keys=KEYS) as c:
        yield c


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _upload(client: TestClient, name: str = "new.txt", **kwargs: Any) -> Any:
    return client.post(
        "/v1/documents", files={"file": (name, "新区2020年报告\n".encode(), "text/plain")}, **kwargs
    )


WRITES = {
    "upload": lambda c, **kw: _upload(c, **kw),
    "delete": lambda c, **kw: c.delete(f"/v1/documents/{HAIZHU_ID}", **kw),
    "job status": lambda c, **kw: c.get("/v1/documents/jobs/0123", **kw),
}


# ----------------------------------------------------------------------------------- keys


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
def test_writes_without_a_key_are_401_and_change_nothing(
    client: TestClient, fake: RecordingPipeline, write: Any
) -> None:
    before = sorted(d.doc_id for d in fake.documents())
    resp = write(client)
    assert resp.status_code == 401 and resp.headers["content-type"].startswith(PROBLEM), resp.text
    assert resp.json()["type"] == "/problems/missing-api-key"
    assert resp.headers["www-authenticate"] == "Bearer"
    assert sorted(d.doc_id for d in fake.documents()) == before and not fake.ingested


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
@pytest.mark.parametrize(
    "header",
    [
        bearer(WRONG),
        bearer(KEYS[0][:-1]),  # a prefix of a real key
        bearer(KEYS[0] + "x"),
        bearer(KEYS[0].upper()),
        bearer(f"{KEYS[0]},{KEYS[1]}"),
        {"Authorization": f"Basic {KEYS[0]}"},  # not a bearer token: treated as no key
    ],
    ids=["wrong", "prefix", "longer", "case", "two-keys", "basic-scheme"],
)
def test_writes_with_a_wrong_key_are_403_and_change_nothing(
    client: TestClient, fake: RecordingPipeline, write: Any, header: dict[str, str]
) -> None:
    before = sorted(d.doc_id for d in fake.documents())
    resp = write(client, headers=header)
    expected = 401 if header["Authorization"].startswith("Basic") else 403
    assert resp.status_code == expected and resp.headers["content-type"].startswith(PROBLEM), resp.text
    assert sorted(d.doc_id for d in fake.documents()) == before and not fake.ingested


def test_each_configured_key_may_write(client: TestClient, fake: RecordingPipeline) -> None:
    assert _upload(client, headers=bearer(KEYS[1])).status_code == 202
    assert client.delete(f"/v1/documents/{HAIZHU_ID}", headers=bearer(KEYS[0])).status_code == 204
    assert HAIZHU_ID not in {d.doc_id for d in fake.documents()}


def test_reads_stay_open_but_a_wrong_key_sent_on_a_read_is_403(client: TestClient) -> None:
    assert client.get("/v1/documents").status_code == 200
    assert client.get("/v1/documents", headers=bearer(KEYS[0])).status_code == 200
    assert client.get("/v1/documents", headers=bearer(WRONG)).status_code == 403


def test_keys_are_compared_in_constant_time_against_every_key(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr("api.security.hmac.compare_digest", spy)
    for key in (KEYS[0], KEYS[1], WRONG):
        calls.clear()
        client.delete("/v1/documents/nothing.txt", headers=bearer(key))
        # Every configured key is compared, also after a match, so timing says nothing about which one matched.
        assert sorted(b for _, b in calls) == sorted(k.encode() for k in KEYS), key
        assert {a for a, _ in calls} == {key.encode()}


def test_keys_never_reach_the_log_or_an_error_body(
    fake: RecordingPipeline, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with fake_client(fake, api_keys=KEYS, rate_limit_per_minute=2) as c:
        bodies = [
            c.delete(f"/v1/documents/{HAIZHU_ID}", headers=bearer(WRONG)).text,
            c.get("/v1/documents", headers=bearer(WRONG)).text,
            _upload(c, headers=bearer(KEYS[0])).text,
            c.get("/v1/models", headers=bearer(KEYS[0])).text,
            c.get("/v1/models", headers=bearer(KEYS[0])).text,  # 429: over the limit
        ]
        fake.fail_with = RuntimeError("boom")  # an unexpected 500, logged with its traceback
        bodies.append(c.post("/v1/ask", json={"question": "GDP"}, headers=bearer(KEYS[1])).text)  # own bucket
    logged = "\n".join(
        [r.getMessage() for r in caplog.records] + [caplog.text] + [str(r.args) for r in caplog.records]
    )
    assert "unhandled RuntimeError" in logged  # the 500 was logged…
    for key in (*KEYS, WRONG):
        assert key not in logged, f"{key} was logged"  # …without the request's headers
        assert all(key not in body for body in bodies), f"{key} echoed in a response"


# ----------------------------------------------------------------------------------- CORS


@pytest.mark.parametrize(
    ("request_", "status"),
    [
        (lambda c, h: c.get("/v1/documents", headers=h), 200),
        (lambda c, h: c.post("/v1/ask", json={"question": " "}, headers=h), 422),
        (lambda c, h: c.delete(f"/v1/documents/{HAIZHU_ID}", headers=h), 401),
        (lambda c, h: c.delete(f"/v1/documents/{HAIZHU_ID}", headers={**h, **bearer(WRONG)}), 403),
    ],
    ids=["read", "422", "401", "403"],
)
def test_cors_allow_list_on_answers_and_errors(fake: RecordingPipeline, request_: Any, status: int) -> None:
    with fake_client(fake, api_keys=KEYS, cors_origins=["https://good.example"]) as c:
        good = request_(c, {"Origin": "https://good.example"})
        assert good.status_code == status
        assert good.headers["access-control-allow-origin"] == "https://good.example"
        assert "access-control-allow-credentials" not in good.headers  # keys go in a header, never cookies
        for origin in ("https://evil.example", "https://good.example.evil.example", "null"):
            bad = request_(c, {"Origin": origin})
            assert bad.status_code == status and "access-control-allow-origin" not in bad.headers, origin


def test_cors_preflight_for_writes_only_from_allowed_origins(fake: RecordingPipeline) -> None:
    with fake_client(fake, api_keys=KEYS, cors_origins=["https://good.example"]) as c:
        ask = {"Access-Control-Request-Method": "DELETE", "Access-Control-Request-Headers": "authorization"}
        good = c.options(f"/v1/documents/{HAIZHU_ID}", headers={"Origin": "https://good.example", **ask})
        assert (
            good.status_code == 200
            and "authorization" in good.headers["access-control-allow-headers"].lower()
        )
        bad = c.options(f"/v1/documents/{HAIZHU_ID}", headers={"Origin": "https://evil.example", **ask})
        assert bad.status_code == 400 and "access-control-allow-origin" not in bad.headers
        assert HAIZHU_ID in {d.doc_id for d in fake.documents()}


# ----------------------------------------------------------------------------------- uploads


NASTY_NAMES = [
    "../../outside.txt",
    "..\\..\\outside.txt",
    "/tmp/outside.txt",
    "C:\\Windows\\outside.txt",
    "a/../../../outside.txt",
    "....//....//outside.txt",
    "%2e%2e%2f%2e%2e%2foutside.txt",
    "..%c0%af..%c0%afoutside.txt",
    "\uff0e\uff0e\uff0foutside.txt",  # full-width ../
    "..\u2215..\u2215outside.txt",  # division slash
    "~/outside.txt",
    "outside.txt\x00.pdf",
    ".hidden.txt",
    "CON.txt",
]


@pytest.mark.parametrize("name", NASTY_NAMES)
def test_uploads_cannot_write_outside_the_upload_folder(
    name: str, tmp_path: Path, fake: RecordingPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    made: list[Path] = []
    real_mkdtemp = tempfile.mkdtemp

    def mkdtemp(*args: Any, **kwargs: Any) -> str:
        folder = Path(real_mkdtemp(*args, **{**kwargs, "dir": uploads}))
        made.append(folder)
        return str(folder)

    monkeypatch.setattr("api.routes_documents.tempfile.mkdtemp", mkdtemp)
    victim = tmp_path / "uploads" / "outside.txt"  # where "../outside.txt" from inside the folder would land
    with fake_client(fake) as c:
        resp = _upload(c, name)
        assert resp.status_code in (202, 415), resp.text
        if resp.status_code == 202:
            job = c.get(resp.json()["status_url"]).json()
            for _ in range(200):
                if job["status"] in ("done", "failed"):
                    break
                job = c.get(resp.json()["status_url"]).json()
    assert not victim.exists() and not (tmp_path / "outside.txt").exists()
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert all(any(p.is_relative_to(folder) for folder in made) for p in written), written
    for path in fake.ingested:
        assert len(made) == 1 and path.parent == made[0], (name, path)
        assert path.name and "/" not in path.name and "\\" not in path.name and not path.name.startswith(".")
