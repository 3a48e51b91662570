"""Report writers, report comparison and the CI gate."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest

from eval.compare import compare_reports
from eval.gate import check_thresholds, load_thresholds
from eval.gate import main as gate_main
from eval.metrics import SUMMARY_KEYS, CitedQuote, ItemResult
from eval.report import build_report, render_html, render_markdown, write_reports

ITEMS = (
    ItemResult(
        id="q1",
        question="<script>alert('x')</script>GDP target?",
        lang="en",
        type="numeric",
        difficulty="easy",
        answerable=True,
        gold=("7.7%", "about 7.7%"),
        gold_docs=("001.txt",),
        has_evidence=True,
        correct=True,
        refused=False,
        short_answer="about 7.7%",
        answer="7.7% [1]",
        evidence_rank=1,
        doc_rank=1,
        retrieved_docs=("001.txt",),
        citations=(CitedQuote("001.txt", "增长7.7%左右 <b>&</b>"),),
        latency_ms=12.5,
    ),
    ItemResult(
        id="q2",
        question="河长多少名?",
        lang="zh",
        type="numeric",
        difficulty="easy",
        answerable=True,
        gold=("169名",),
        gold_docs=("001.txt",),
        has_evidence=True,
        correct=False,
        refused=False,
        short_answer="<img src=x onerror=alert(1)>",
        evidence_rank=None,
        doc_rank=4,
        latency_ms=30.0,
    ),
    ItemResult(
        id="q3",
        question="研发投入强度目标?",
        lang="zh",
        type="unanswerable",
        difficulty="hard",
        answerable=False,
        gold=(),
        gold_docs=(),
        has_evidence=False,
        correct=True,
        refused=True,
        short_answer="报告中没有相关信息",
        latency_ms=8.0,
    ),
)


def make_report(items: tuple[ItemResult, ...] = ITEMS) -> dict[str, object]:
    return build_report(items, {"gold": "dev.jsonl"}).to_dict()


def test_json_has_contract_keys(tmp_path: Path) -> None:
    paths = write_reports(build_report(ITEMS, {"gold": "dev.jsonl"}), tmp_path)
    data = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert list(data["summary"]) == list(SUMMARY_KEYS)
    for group in ("by_lang", "by_type", "by_difficulty"):
        for summary in data[group].values():
            assert list(summary) == list(SUMMARY_KEYS)
    assert set(data["by_lang"]) == {"en", "zh"}
    item_keys = {
        "id",
        "question",
        "lang",
        "type",
        "gold",
        "correct",
        "refused",
        "short_answer",
        "evidence_rank",
        "doc_rank",
        "cited_docs",
        "citations",
        "latency_ms",
    }
    assert all(item_keys <= set(i) for i in data["items"])
    assert data["items"][0]["citations"] == [{"doc_id": "001.txt", "quote": "增长7.7%左右 <b>&</b>"}]
    assert data["summary"]["answer_accuracy"] == 0.5
    assert data["summary"]["rejection_rate"] == 1.0


def test_html_escapes_everything_and_is_self_contained() -> None:
    page = render_html(make_report())
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<img" not in page and "<b>&</b>" not in page
    assert not re.search(r"(src|href)=[\"']?https?:", page)
    assert "<svg" in page and "n/a" in page  # citation_precision of the en-only chart etc.
    assert "✓" in page and "✗" in page


class _Tags(HTMLParser):
    """The start tags, attribute names and text of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes.update(name for name, _ in attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_escapes_every_field_the_template_shows() -> None:
    payload = "<img src=x onerror=alert(1)>\"'"
    item = replace(
        ITEMS[1],
        id=f"q{payload}",
        lang=f"zh{payload}",
        type=f"numeric{payload}",
        difficulty=f"hard{payload}",
        gold=(f"169名{payload}",),
        refused=True,
        short_answer=f"拒{payload}",
        citations=(CitedQuote(f"doc{payload}", f"quote{payload}"),),
    )
    failed = replace(ITEMS[0], id="q9", error=f"boom{payload}")
    page = render_html(build_report((item, failed), {"gold": f"dev{payload}", "n": 2}).to_dict())
    parsed = _Tags()
    parsed.feed(page)
    assert "img" not in parsed.tags and not [a for a in parsed.attributes if a.startswith("on")]
    text = "".join(parsed.text)
    for field in ("q", "zh", "numeric", "hard", "169名", "拒", "doc", "quote", "boom", "dev"):
        assert f"{field}{payload}" in text
    assert "[refused]" in text and "error: boom" in text


def test_report_templates_ship_in_the_package() -> None:
    root = Path(__file__).resolve().parents[1]
    pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    globs = pyproject["tool"]["setuptools"]["package-data"]["eval"]
    templates = sorted((root / "eval" / "templates").iterdir())
    assert templates and all(any(t.relative_to(root / "eval").match(g) for g in globs) for t in templates)
    assert any(d.lower().startswith("jinja2") for d in pyproject["project"]["dependencies"])


def test_markdown_lists_wrong_items() -> None:
    md = render_markdown(make_report())
    assert "## Wrong items (1)" in md and "| q2 |" in md
    assert "| q1 |" not in md


def test_none_metrics_render_as_na() -> None:
    report = make_report(ITEMS[2:])  # only an unanswerable question
    assert report["summary"]["answer_accuracy"] is None  # type: ignore[index]
    assert "n/a" in render_markdown(report)


def test_compare_lists_fixed_and_broken() -> None:
    old = make_report()
    new_items = (
        replace(ITEMS[0], correct=False, short_answer="2%"),
        replace(ITEMS[1], correct=True, short_answer="169名"),
        ITEMS[2],
    )
    new = make_report(new_items)
    text = compare_reports(old, new)
    fixed = text.split("Fixed (1)")[1].split("Broken")[0]
    broken = text.split("Broken (1)")[1].split("Changed answer")[0]
    assert "q2" in fixed and "169名" in fixed
    assert "q1" in broken and "2%" in broken
    assert "answer_accuracy" in text


def test_compare_reads_paths(tmp_path: Path) -> None:
    write_reports(make_report(), tmp_path / "old")
    write_reports(make_report(), tmp_path / "new")
    text = compare_reports(tmp_path / "old" / "report.json", tmp_path / "new")
    assert "Fixed (0)" in text and "Broken (0)" in text


def test_gate_fails_below_threshold() -> None:
    summary = make_report()["summary"]
    by_lang = make_report()["by_lang"]
    thresholds = {
        "overall": {"answer_accuracy": 0.9, "rejection_rate": 0.5},
        "by_lang": {"zh": {"answer_accuracy": 0.1}, "fr": {"answer_accuracy": 1.0}},
        "max": {"overall": {"false_refusal_rate": 0.0, "latency_ms_p95": 10.0}},
    }
    failures = check_thresholds(summary, thresholds, by_lang)  # type: ignore[arg-type]
    assert any("overall: answer_accuracy" in f and "below" in f for f in failures)
    assert any("lang=zh: answer_accuracy" in f for f in failures)
    assert any("latency_ms_p95" in f and "above" in f for f in failures)
    assert not any("rejection_rate" in f or "false_refusal_rate" in f or "lang=fr" in f for f in failures)


def test_shipped_thresholds_name_real_metrics_and_reject_a_weak_report() -> None:
    shipped = load_thresholds()
    names = set(shipped["overall"]) | {k for lang in shipped["by_lang"].values() for k in lang}
    names |= set(shipped["max"]["overall"])
    assert names <= set(SUMMARY_KEYS)
    report = make_report()  # the hand-made report is mediocre (accuracy 0.5): the real gate must fail it
    assert check_thresholds(report["summary"], shipped, report["by_lang"])  # type: ignore[arg-type]


def test_gate_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_reports(make_report(), tmp_path)
    strict = tmp_path / "strict.json"
    strict.write_text(json.dumps({"overall": {"answer_accuracy": 0.99}}))
    lenient = tmp_path / "lenient.json"
    lenient.write_text(json.dumps({"overall": {"answer_accuracy": 0.1}}))
    assert gate_main([str(tmp_path / "report.json"), "--thresholds", str(lenient)]) == 0
    assert gate_main([str(tmp_path / "report.json"), "--thresholds", str(strict)]) == 1
    assert "answer_accuracy" in capsys.readouterr().err
