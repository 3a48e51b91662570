"""A report whose title and text carry `<img src=x onerror=alert(1)>`: shown as text, never run.

The HTML eval report is parsed: no element or attribute comes from the document. The widget's side is
tests/test_widget_xss.py (headless Chromium).
"""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest
from conftest import make_document, make_hashing_settings

from eval.gold import read_gold_lines
from eval.report import build_report, render_html, render_markdown
from eval.runner import evaluate
from rag.pipeline import Pipeline
from rag.pipeline_factory import load_pipeline

PAYLOAD = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(2)</script>"
DOC_ID = "777_xss.txt"
TITLE = f"恶意区2020年政府工作报告{PAYLOAD}"
TEXT = (
    f"{TITLE}\n\n一、2019年工作回顾\n\n全年地区生产总值增长6.3%{PAYLOAD}。\n\n"
    f"二、2020年工作安排\n\n今年经济社会发展主要预期目标是:地区生产总值增长6%左右{PAYLOAD}{SCRIPT}。\n"
)
QUESTION = "恶意区2020年地区生产总值增长目标是多少?"


@pytest.fixture(scope="module")
def xss_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    from conftest import shared_tokenizer

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("rag.pipeline.Tokenizer", shared_tokenizer)
        pipeline = load_pipeline(make_hashing_settings(tmp_path_factory.mktemp("xss")))
    doc = make_document(DOC_ID, TEXT, title=TITLE, region="恶意区", year=2020)
    assert pipeline.ingest_documents([doc]).added == (DOC_ID,)
    return pipeline


def test_the_answer_carries_the_markup_so_the_escaping_tests_mean_something(xss_pipeline: Pipeline) -> None:
    answer = xss_pipeline.ask(QUESTION)
    assert not answer.refused and answer.citations
    assert any(PAYLOAD in c.quote or SCRIPT in c.quote for c in answer.citations)
    assert answer.citations[0].title == TITLE


class _Elements(HTMLParser):
    """Every start tag and attribute of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend(attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_eval_report_shows_document_markup_as_text(xss_pipeline: Pipeline) -> None:
    record = {
        "id": f"x{PAYLOAD}",
        "question": QUESTION + SCRIPT,
        "lang": "zh",
        "answer": "6%左右",
        "doc": DOC_ID,
        "evidence": "地区生产总值增长6%左右",
        "type": f"numeric{SCRIPT}",
        "difficulty": PAYLOAD,
    }
    gold = read_gold_lines([json.dumps(record, ensure_ascii=False)])
    results = evaluate(xss_pipeline, gold)
    assert results[0].citations, "the eval item should quote the document"
    report = build_report(results, meta={"corpus": f"reports{PAYLOAD}"}).to_dict()
    page = render_html(report)
    parsed = _Elements()
    parsed.feed(page)
    assert "img" not in parsed.tags and "script" not in parsed.tags
    assert not [name for name, _ in parsed.attributes if name.startswith("on")]
    assert not [v for name, v in parsed.attributes if name in ("src", "href")]
    text = "".join(parsed.text)
    assert PAYLOAD in text and SCRIPT in text  # shown, as text
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<img" not in render_markdown(report)  # Markdown renderers would render raw HTML
