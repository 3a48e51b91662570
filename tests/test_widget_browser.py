"""The chat widget in a real (headless) Chromium against a live uvicorn server.

Screenshots go to tests/artifacts/ (gitignored).
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_fakes import XSS_PAYLOAD, FakePipeline

from api import create_app
from rag.settings import Settings

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]

if not CHROMIUM.exists():
    pytest.skip(
        "needs Chromium at /usr/bin/chromium (apt-get install chromium; .ci/run installs it)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright Python package")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """uvicorn serving an app in a background thread."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not become ready")

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def real_pipeline(tmp: Path) -> Any | None:
    """The real pipeline (hashing embedder) over a copy of data/reports, or None if it is not there yet."""
    reports = tmp / "reports"
    shutil.copytree(ROOT / "data" / "reports", reports)
    settings = Settings(embedder="hashing", reader="none", index_dir=tmp / "index", reports_dir=reports)
    try:
        from rag.pipeline_factory import load_pipeline

        pipeline = load_pipeline(settings)
        pipeline.ingest([reports])
    except ImportError:  # the pipeline or its loaders are not there yet
        return None
    return pipeline


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    pipeline = real_pipeline(tmp_path_factory.mktemp("widget")) or FakePipeline.with_samples(
        stream_delay_s=0.02
    )
    app = create_app(Settings(rate_limit_per_minute=0), pipeline=pipeline)
    with LiveServer(app) as live:
        yield live


@pytest.fixture(scope="module")
def fake_server() -> Iterator[LiveServer]:
    app = create_app(Settings(rate_limit_per_minute=0), pipeline=FakePipeline.with_samples())
    with LiveServer(app) as live:
        yield live


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="en-US")
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.js_errors = errors
    yield pg
    context.close()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


def ask(page: Any, question: str) -> None:
    box = page.locator("govreport-chat textarea")
    box.fill(question)
    box.press("Enter")


def test_ask_stream_and_open_citation(server: LiveServer, page: Any) -> None:
    page.goto(server.url + "/")
    launcher = page.locator("govreport-chat .launcher")
    launcher.click()
    panel = page.locator("govreport-chat .panel")
    sync_api.expect(panel).to_be_visible()
    # Opening moves focus into the question box.
    assert page.evaluate("document.querySelector('govreport-chat').shadowRoot.activeElement.id") == "q"
    ask(page, "what was Haizhu's 2018 GDP target")

    final = page.locator("govreport-chat .msg.bot:not(.welcome):not(.streaming)").last
    sync_api.expect(final).to_contain_text("7.7%", timeout=30_000)
    chip = final.locator(".answer-text .chip").first
    sync_api.expect(chip).to_be_visible()
    shot(page, "desktop_answer.png")

    chip.click()
    mark = page.locator("govreport-chat .source mark")
    sync_api.expect(mark).to_contain_text("7.7%", timeout=10_000)
    para = page.locator("govreport-chat .source .para")
    assert len(para.inner_text()) > len(
        mark.inner_text()
    )  # the paragraph around the quote, not just the quote
    shot(page, "desktop_source.png")

    # Esc closes the source view first (focus back on the chip), then the panel (focus back on the launcher).
    page.keyboard.press("Escape")
    sync_api.expect(page.locator("govreport-chat .source")).to_be_hidden()
    page.keyboard.press("Escape")
    sync_api.expect(panel).to_be_hidden()
    assert (
        page.evaluate("document.querySelector('govreport-chat').shadowRoot.activeElement.className")
        == "launcher"
    )

    # The conversation survives a reload (sessionStorage).
    page.reload()
    page.locator("govreport-chat .launcher").click()
    sync_api.expect(page.locator("govreport-chat .msg.user")).to_contain_text("Haizhu")
    sync_api.expect(page.locator("govreport-chat .msg.bot:not(.welcome)").last).to_contain_text("7.7%")
    assert page.js_errors == []


def test_follow_up_sends_history_and_example_buttons(fake_server: LiveServer, page: Any) -> None:
    page.goto(fake_server.url + "/")
    bodies: list[Any] = []
    page.on("request", lambda r: bodies.append(r.post_data_json) if r.url.endswith("/v1/ask") else None)
    page.locator("[data-govreport-ask]").first.click()  # an example question on the demo page
    bot = page.locator("govreport-chat .msg.bot:not(.welcome):not(.streaming)")
    sync_api.expect(bot.last).to_contain_text("7.7", timeout=10_000)
    ask(page, "那2017年呢?")
    sync_api.expect(bot).to_have_count(2, timeout=10_000)
    assert bodies[0]["history"] == [] and bodies[0]["stream"] is True
    assert bodies[1]["history"][0]["question"].startswith("海珠区2018年")
    assert "7.7" in bodies[1]["history"][0]["answer"]


def test_refusal_is_styled_distinctly(fake_server: LiveServer, page: Any) -> None:
    page.goto(fake_server.url + "/")
    page.locator("govreport-chat .launcher").click()
    ask(page, "火星基地什么时候建成")
    refused = page.locator("govreport-chat .msg.bot.refused")
    sync_api.expect(refused).to_contain_text("报告中", timeout=10_000)
    shot(page, "desktop_refused.png")


def test_keyboard_and_language(fake_server: LiveServer, page: Any) -> None:
    page.goto(fake_server.url + "/")
    launcher = page.locator("govreport-chat .launcher")
    assert launcher.get_attribute("aria-label") == "打开政府工作报告问答"  # <html lang="zh-CN">
    page.locator("#lang-toggle").click()  # the demo page switches <html lang> to en; the widget follows
    sync_api.expect(launcher).to_have_attribute("aria-label", "Open the government report Q&A")
    launcher.focus()
    page.keyboard.press("Enter")
    panel = page.locator("govreport-chat .panel")
    sync_api.expect(panel).to_be_visible()
    assert page.evaluate("document.querySelector('govreport-chat').shadowRoot.activeElement.id") == "q"
    assert page.locator("govreport-chat h2").inner_text() == "Government report Q&A"
    page.keyboard.type("what was Haizhu's 2018 GDP target")
    page.keyboard.press("Enter")
    final = page.locator("govreport-chat .msg.bot:not(.welcome):not(.streaming)").last
    sync_api.expect(final).to_contain_text("7.7%", timeout=10_000)
    shot(page, "desktop_english.png")
    page.keyboard.press("Escape")
    sync_api.expect(panel).to_be_hidden()


def test_markup_is_shown_literally_never_executed(fake_server: LiveServer, page: Any) -> None:
    page.goto(fake_server.url + "/")
    page.locator("govreport-chat .launcher").click()
    question = f"{XSS_PAYLOAD} 测试标记"
    ask(page, question)
    final = page.locator("govreport-chat .msg.bot:not(.welcome):not(.streaming)").last
    sync_api.expect(final).to_contain_text("<script>window.__xss=1</script>", timeout=10_000)
    # The document title (in the demo page's report table too) carries markup as well.
    sync_api.expect(page.locator("#reports")).to_contain_text("<img src=x onerror=window.__xss=2>")
    shot(page, "desktop_xss_answer.png")
    sync_api.expect(page.locator("govreport-chat .msg.user")).to_contain_text(XSS_PAYLOAD)
    final.locator(".answer-text .chip").first.click()
    mark = page.locator("govreport-chat .source mark")
    sync_api.expect(mark).to_contain_text('<img src=x onerror="window.__xss=1">')
    shadow_imgs = page.evaluate(
        "document.querySelector('govreport-chat').shadowRoot.querySelectorAll('img').length"
    )
    assert shadow_imgs == 0
    page.wait_for_timeout(300)
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    shot(page, "desktop_xss.png")


def test_phone_layout_fills_viewport(server: LiveServer, browser: Any) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, device_scale_factor=2
    )
    page = context.new_page()
    try:
        page.goto(server.url + "/")
        shot(page, "phone_page.png")
        page.locator("govreport-chat .launcher").click()
        panel = page.locator("govreport-chat .panel")
        sync_api.expect(panel).to_be_visible()
        box = panel.bounding_box()
        assert box is not None
        assert box["x"] >= 0 and box["y"] >= 0
        assert box["x"] + box["width"] <= 390 + 0.5 and box["y"] + box["height"] <= 844 + 0.5
        assert box["width"] >= 389  # full-screen under 480px
        ask(page, "海珠区2018年地区生产总值增长目标是多少?")
        final = page.locator("govreport-chat .msg.bot:not(.welcome):not(.streaming)").last
        sync_api.expect(final).to_contain_text("7.7%", timeout=30_000)
        shot(page, "phone_answer.png")
        final.locator(".answer-text .chip").first.click()
        sync_api.expect(page.locator("govreport-chat .source mark")).to_contain_text("7.7%")
        shot(page, "phone_source.png")
        # Nothing scrolls sideways.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        context.close()
