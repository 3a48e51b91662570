"""The chat widget in headless Chromium over the real pipeline, on a report whose title and text carry
`<img src=x onerror=alert(1)>` and a script: shown as text, nothing runs, no image is requested."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import make_document, make_hashing_settings, shared_tokenizer
from test_xss_escaping import DOC_ID, PAYLOAD, QUESTION, TEXT, TITLE

from api import create_app
from rag.pipeline import Pipeline
from rag.pipeline_factory import load_pipeline
from rag.settings import Settings

pytestmark = pytest.mark.slow


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def xss_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("rag.pipeline.Tokenizer", shared_tokenizer)
        pipeline = load_pipeline(make_hashing_settings(tmp_path_factory.mktemp("widget-xss")))
    pipeline.ingest_documents([make_document(DOC_ID, TEXT, title=TITLE, region="恶意区", year=2020)])
    return pipeline


@pytest.fixture(scope="module")
def live_url(xss_pipeline: Pipeline) -> Iterator[str]:
    import uvicorn

    port = _free_port()
    app = create_app(Settings(rate_limit_per_minute=0), pipeline=xss_pipeline)  # type: ignore[arg-type]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "server did not become ready"
        time.sleep(0.1)
    yield url
    server.should_exit = True
    thread.join(timeout=10)


def test_widget_shows_a_hostile_title_and_quote_as_text(live_url: str) -> None:
    if not CHROMIUM.exists():
        pytest.skip("needs Chromium at /usr/bin/chromium (apt-get install chromium; .ci/run installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright Python package")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            dialogs: list[str] = []
            errors: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            requested: list[str] = []
            page.on("request", lambda r: requested.append(r.url))
            page.goto(live_url + "/")
            # The demo page lists the report by its title.
            sync_api.expect(page.locator("#reports")).to_contain_text(PAYLOAD, timeout=15_000)
            page.locator("govreport-chat .launcher").click()
            box = page.locator("govreport-chat textarea")
            box.fill(QUESTION)
            box.press("Enter")
            final = page.locator("govreport-chat .msg.bot:not(.welcome):not(.streaming)").last
            sync_api.expect(final).to_contain_text("6%", timeout=30_000)
            final.locator(".answer-text .chip").first.click()
            source = page.locator("govreport-chat .source")
            sync_api.expect(source).to_contain_text(
                PAYLOAD, timeout=10_000
            )  # the quote and its title, as text
            page.wait_for_timeout(500)
            shadow: Any = page.evaluate(
                "(() => { const r = document.querySelector('govreport-chat').shadowRoot;"
                " return {img: r.querySelectorAll('img').length, script: r.querySelectorAll('script').length,"
                " on: [...r.querySelectorAll('*')].filter(e => [...e.attributes].some(a => a.name.startsWith('on'))).length}; })()"
            )
            assert shadow == {"img": 0, "script": 0, "on": 0}
            assert page.evaluate("document.querySelectorAll('img').length") == 0
            assert dialogs == [] and errors == []
            assert not [u for u in requested if u.rstrip("/").endswith("/x")], (
                "the browser tried to load src=x"
            )
        finally:
            browser.close()
