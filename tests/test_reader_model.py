"""The shipped reader, for real: verified on load, answers report sentences, refuses off-topic passages."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag.answering.calibration import features_of, wants_figure
from rag.answering.reading import load_answerer
from rag.answering.spans import snap_span
from rag.errors import ModelUnavailableError
from rag.reader.weights import DEFAULT_WEIGHTS_DIR, WEIGHTS_NAME

pytestmark = pytest.mark.slow

E5_CACHE = Path.home() / ".cache" / "govreport-rag"
REPORT = "今年经济社会发展主要预期目标是:地区生产总值增长7.7%左右,一般公共预算收入增长2%,城镇登记失业率控制在3.5%以内。"
OFF_TOPIC = "黄河发源于青藏高原巴颜喀拉山北麓,流经九个省区,最后注入渤海。"


@pytest.fixture(scope="module")
def answerer():  # type: ignore[no-untyped-def]
    return load_answerer(cache_dir=E5_CACHE)


def test_the_reader_picks_the_asked_figure_out_of_a_report_sentence(answerer) -> None:  # type: ignore[no-untyped-def]
    questions = ["地区生产总值增长目标是多少?", "城镇登记失业率控制在多少?", "What is the GDP growth target?"]
    proposals = answerer.reader.read(questions, [[REPORT]] * 3, top_n=1)
    spans = [REPORT[slice(*snap_span(REPORT, p[0].start, p[0].end))] for p in proposals]
    assert spans[0] == "7.7%左右"
    assert spans[1] == "3.5%以内"
    assert "7.7%" in spans[2]


def test_the_calibrated_confidence_prefers_the_answering_passage(answerer) -> None:  # type: ignore[no-untyped-def]
    question = "地区生产总值增长目标是多少?"
    on, off = answerer.reader.read([question, question], [[REPORT], [OFF_TOPIC]], top_n=1)
    zh = answerer.calibration.zh
    conf_on = zh.confidence(features_of(wants_figure(question), on[0]))
    off_features = features_of(wants_figure(question), off[0]) if off else None
    conf_off = zh.confidence(off_features) if off_features else 0.0
    assert conf_on > conf_off + 0.2
    if off_features:
        assert conf_off < zh.threshold_for(off_features)  # an off-topic passage is never answered


def test_tampered_weights_are_refused_on_load(tmp_path: Path) -> None:
    copy = tmp_path / "reader"
    shutil.copytree(DEFAULT_WEIGHTS_DIR, copy)
    data = bytearray((copy / WEIGHTS_NAME).read_bytes())
    data[len(data) // 2] ^= 0x01
    (copy / WEIGHTS_NAME).write_bytes(bytes(data))
    with pytest.raises(ModelUnavailableError, match="checksum"):
        load_answerer(cache_dir=E5_CACHE, weights_dir=copy)


def test_bf16_and_fp32_readers_pick_the_same_spans() -> None:
    from rag.reader.factory import load_reader

    questions = ["地区生产总值增长目标是多少?", "一般公共预算收入增长多少?", "城镇登记失业率控制在多少?"]
    passages = [[REPORT, OFF_TOPIC]] * len(questions)
    picked = {}
    for precision in ("bf16", "fp32"):
        reader = load_reader("trained", cache_dir=E5_CACHE, precision=precision)  # type: ignore[arg-type]
        assert reader is not None
        picked[precision] = [(p[0].passage_index, p[0].start, p[0].end) for p in reader.read(questions, passages, top_n=1)]
    assert picked["bf16"] == picked["fp32"]
