"""Routing over real government work reports: questions naming a province or the State Council and a year must
search only that report; an unindexed region/year must route to nothing with a reason; filters that match
nothing must return no hits.

Hermetic and fast: excerpts of 20 records of ../shared/evaldata/gov_work_reports/normalized/corpus.jsonl
(tests/fixtures/corpus_excerpts.jsonl, each record's head, its section headings and a window around the sentence
asked about) indexed with the hashing embedder. Rebuild the fixture with
`python tests/test_routing_corpus.py --rebuild [path/to/corpus.jsonl]`.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from rag.pipeline import Pipeline
from rag.pipeline_factory import load_pipeline
from rag.refusal import render_reason
from rag.settings import Settings
from rag.types import QueryFilters

FIXTURE = Path(__file__).parent / "fixtures" / "corpus_excerpts.jsonl"
SOURCE = Path(__file__).resolve().parents[2] / "shared" / "evaldata" / "gov_work_reports" / "normalized" / "corpus.jsonl"

NAT_2025 = "gwr:national:c8ea2145b4a2e17a"
NAT_2024 = "gwr:national:5bc940b9531fe9a0"
NAT_2018 = "gwr:national:cb9b73e104b98f62"
NAT_2018_RESOLUTION = "gwr:national:b0039aaa87637364"  # 第十三届全国人民代表大会第一次会议关于政府工作报告的决议
NAT_2013 = "gwr:national:1a0b09c597b9b6f7"
NAT_2008 = "gwr:national:2a9cb79eb39b5cef"
NAT_1998 = "gwr:national:bb945a0c9c028152"
NAT_UNDATED_RESOLUTION = "gwr:national:e88a4906444ec750"  # 第十届全国人民代表大会第五次会议关于政府工作报告的决议 (2007)
GUANGDONG = "gwr:prov2025:广东省"
INNER_MONGOLIA = "gwr:prov2025:内蒙古自治区"
TIBET = "gwr:prov2025:西藏"
SHAANXI = "gwr:prov2025:陕西省"
SHANXI = "gwr:prov2025:山西省"
ZHEJIANG = "gwr:prov2025:浙江省"

EVIDENCE: dict[str, tuple[str, ...]] = {
    NAT_2025: ("今年发展主要预期目标是：国内生产总值增长5%左右",),
    NAT_2024: ("今年发展主要预期目标是：国内生产总值增长5%左右",),
    NAT_2018: ("今年发展主要预期目标是：国内生产总值增长6.5%左右",),
    NAT_2018_RESOLUTION: (),
    NAT_2013: ("今年经济社会发展的主要预期目标是：国内生产总值增长7.5%左右",),
    NAT_2008: ("国内生产总值增长8%左右；居民消费价格总水平涨幅控制在4.8%左右",),
    NAT_1998: ("今年国民经济宏观调控的主要目标是：经济增长速度8 ％",),
    NAT_UNDATED_RESOLUTION: (),
    GUANGDONG: ("今年经济社会发展的主要预期目标是：地区生产总值增长5%左右",),
    INNER_MONGOLIA: ("全区经济社会发展的主要预期目标是：地区生产总值增长6%左右",),
    TIBET: ("经济社会发展主要预期目标是：地区生产总值增长7%以上、力争达到8%",),
    SHAANXI: ("全省发展的主要预期目标是：生产总值增长5%左右",),
    SHANXI: ("今年发展主要预期目标是：地区生产总值增长5%左右",),
    ZHEJIANG: ("主要预期目标为：生产总值增长5.5%左右，城镇调查失业率控制在5%以内",),
    # Distractors: other provinces' 2025 reports (heads only), so a wrong route has somewhere to go.
    "gwr:prov2025:宁夏": (),
    "gwr:prov2025:广西": (),
    "gwr:prov2025:新疆": (),
    "gwr:prov2025:北京市": (),
    "gwr:prov2025:四川省": (),
    "gwr:prov2025:河南省": (),
    "gwr:prov2025:海南省": (),
}

HEAD_CHARS = 2000
DISTRACTOR_HEAD_CHARS = 1500
WINDOW_BEFORE = 300
WINDOW_AFTER = 500
_HEADING = re.compile(r"^\s*(?:[一二三四五六七八九十]+、|第[一二三四五六七八九十]+部分)")


def excerpt(text: str, anchors: tuple[str, ...]) -> str:
    """The head of a report, its short section headings (they carry the review/plan years) and a window
    around each anchor sentence, in document order."""
    spans = [(0, min(HEAD_CHARS if anchors else DISTRACTOR_HEAD_CHARS, len(text)))]
    pos = 0
    for line in text.split("\n"):
        if _HEADING.match(line) and len(line.strip()) <= 40:
            spans.append((pos, pos + len(line)))
        pos += len(line) + 1
    for anchor in anchors:
        at = text.find(anchor)
        if at < 0:
            raise ValueError(f"anchor {anchor!r} not in the report")
        spans.append((max(0, at - WINDOW_BEFORE), min(len(text), at + len(anchor) + WINDOW_AFTER)))
    spans.sort()
    merged: list[list[int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return "\n".join(text[a:b] for a, b in merged)


def build_fixture(source: Path = SOURCE, out: Path = FIXTURE) -> None:
    """Write the excerpt file from the full corpus."""
    records = {}
    for line in source.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["doc_id"] in EVIDENCE:
            records[record["doc_id"]] = record
    missing = set(EVIDENCE) - set(records)
    if missing:
        raise SystemExit(f"not in {source}: {sorted(missing)}")
    with out.open("w", encoding="utf-8") as f:
        for doc_id, anchors in EVIDENCE.items():
            r = records[doc_id]
            row = {"doc_id": doc_id, "title": r["title"], "text": excerpt(r["text"], anchors), "lang": r["lang"],
                   "meta": r["meta"]}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


# --------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    tmp = tmp_path_factory.mktemp("routing-corpus")
    settings = Settings(embedder="hashing", reader="none", index_dir=tmp / "index", cache_dir=tmp / "cache")
    pipe = load_pipeline(settings)
    report = pipe.ingest([FIXTURE])
    assert not report.failed and len(report.added) == len(EVIDENCE)
    return pipe


def test_fixture_is_small_and_keeps_the_evidence() -> None:
    assert FIXTURE.stat().st_size < 150_000
    rows = {r["doc_id"]: r for r in map(json.loads, FIXTURE.read_text(encoding="utf-8").splitlines())}
    assert list(rows) == list(EVIDENCE)
    for doc_id, anchors in EVIDENCE.items():
        for anchor in anchors:
            assert anchor in rows[doc_id]["text"], doc_id


# --------------------------------------------------------------------------------------------- routed

_RESOLUTION_BUG = (
    "metadata: the NPC resolution approving the 2018 report (第十三届全国人民代表大会第一次会议关于政府工作报告的决议) "
    "gets region 全国, year 2018, plan_year 2018 (from '同意报告提出的2018年…'), so 2018 State Council questions "
    "route to it as well as to the report"
)

_FIVE_YEAR_REVIEW_BUG = (
    "routing: a target question for {year} routes to the {year} report (plan_year {year}) and also to the {later} "
    "report, whose '过去五年' review covers {year}; with intent=target and a report that plans {year}, route() "
    "should keep only the reports planning it"
)

CHECKS = json.loads((Path(__file__).parent / "fixtures" / "routing_checks.json").read_text(encoding="utf-8"))
"""The questions and filters (shared with bench/bench_routing.py, which runs them over the full corpus)."""
KNOWN_BUGS = {"national-2018-zh": _RESOLUTION_BUG}

ROUTED = [
    pytest.param(
        c["question"], c["doc_id"], id=c["id"],
        marks=[pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[c["id"]])] if c["id"] in KNOWN_BUGS else [],
    )
    for c in CHECKS["routed"]
]


@pytest.mark.parametrize(("question", "doc_id"), ROUTED)
def test_named_report_is_the_only_one_searched(pipeline: Pipeline, question: str, doc_id: str) -> None:
    result = pipeline.search(question, k=5)
    assert result.reason is None
    assert result.routed_doc_ids == (doc_id,)
    assert len(result.hits) == 5
    assert [h.chunk.doc_id for h in result.hits] == [doc_id] * 5


# --------------------------------------------------------------------------------------------- unrouted

_UNDATED_FALLBACK_BUG = (
    "routing: no national report covers 1990, but route() falls back to the national documents without any year "
    "(the NPC resolution 第十届全国人民代表大会第五次会议关于政府工作报告的决议 gets year=None), so the question is "
    "answered from that resolution instead of refused with 'no indexed report of 全国 covers 1990'"
)

UNROUTED = [pytest.param(c["question"], c["named"], id=c["id"]) for c in CHECKS["unrouted"]]


@pytest.mark.parametrize(("question", "named"), UNROUTED)
def test_unindexed_region_or_year_routes_to_nothing(pipeline: Pipeline, question: str, named: str) -> None:
    result = pipeline.search(question, k=5)
    assert result.hits == ()
    assert result.reason is not None and named in render_reason(result.reason, "en")
    answer = pipeline.ask(question)
    assert answer.refused and not answer.citations


# --------------------------------------------------------------------------------------------- filters

EMPTY_FILTERS = [
    pytest.param(QueryFilters(region=c["region"], year=c["year"]), id=c["id"]) for c in CHECKS["empty_filters"]
]


@pytest.mark.parametrize("filters", EMPTY_FILTERS)
def test_filters_matching_nothing_return_no_hits(pipeline: Pipeline, filters: QueryFilters) -> None:
    result = pipeline.search("地区生产总值增长目标是多少?", k=5, filters=filters)
    assert result.hits == ()


def test_filters_that_match_restrict_the_hits(pipeline: Pipeline) -> None:
    """Control for the empty-filter checks: the same filter shape does find the one matching report."""
    result = pipeline.search("地区生产总值增长目标是多少?", k=5, filters=QueryFilters(region="陕西省", year=2025))
    assert result.hits and {h.chunk.doc_id for h in result.hits} == {SHAANXI}


if __name__ == "__main__":
    if sys.argv[1:2] == ["--rebuild"]:
        build_fixture(Path(sys.argv[2]) if len(sys.argv) > 2 else SOURCE)
        print(f"wrote {FIXTURE} ({FIXTURE.stat().st_size} bytes)")
