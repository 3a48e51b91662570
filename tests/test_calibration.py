"""The answer/refuse calibration: a logistic model over reader features with a utility threshold."""

from __future__ import annotations

import random

import numpy as np
import pytest

from rag.answering.calibration import (
    FEATURE_NAMES,
    AnswerFeatures,
    Calibrator,
    choose_threshold,
    features_of,
    fit_calibrator,
    utility_curve,
    wants_figure,
)
from rag.reader.base import SpanProposal


def synthetic(n: int, seed: int = 0) -> tuple[list[AnswerFeatures], list[bool]]:
    rng = random.Random(seed)
    feats, labels = [], []
    for _ in range(n):
        right = rng.random() < 0.5
        margin = rng.gauss(3.0 if right else -2.0, 1.5)
        feats.append(
            AnswerFeatures(
                margin, margin + 5, 5.0, margin - 3, -3.0, rng.random() < 0.5, rng.random() < 0.5, rng.randint(1, 20)
            )
        )
        labels.append(right)
    return feats, labels


def test_confidence_rises_with_the_reader_margin_and_separates_the_classes() -> None:
    feats, labels = synthetic(600)
    cal = fit_calibrator(feats, labels)
    low = AnswerFeatures(-4.0, 1.0, 5.0, -7.0, -3.0, False, False, 5)
    high = AnswerFeatures(5.0, 10.0, 5.0, 2.0, -3.0, False, False, 5)
    assert cal.confidence(low) < 0.2 < 0.8 < cal.confidence(high)
    answered = [cal.confidence(f) >= cal.threshold for f in feats]
    accuracy = sum(a == y for a, y in zip(answered, labels, strict=True)) / len(labels)
    assert accuracy > 0.9


def test_threshold_prefers_refusing_when_wrong_answers_cost_more() -> None:
    conf = np.array([0.9, 0.8, 0.6, 0.55, 0.3])
    correct = np.array([True, True, False, False, False])
    assert choose_threshold(conf, correct, 2.0) > 0.6
    curve = utility_curve(conf, correct)
    assert curve[0]["coverage"] == 1.0 and curve[-1]["coverage"] == 0.0


def test_figure_spans_need_more_confidence_than_other_spans() -> None:
    # the same confidence/correctness relation for both kinds: a wrong figure costs 2, a wrong phrase 1
    rng = random.Random(3)
    feats, labels = [], []
    for _ in range(800):
        margin = rng.uniform(-4, 4)
        right = rng.random() < 1 / (1 + np.exp(-margin))
        figure = rng.random() < 0.5
        feats.append(AnswerFeatures(margin, margin + 5, 5.0, margin - 3, -3.0, figure, figure, 6))
        labels.append(right)
    cal = fit_calibrator(feats, labels)
    assert cal.text_threshold is not None and cal.text_threshold < cal.threshold
    figure_span = AnswerFeatures(0.0, 5.0, 5.0, -3.0, -3.0, True, True, 6)
    text_span = AnswerFeatures(0.0, 5.0, 5.0, -3.0, -3.0, False, False, 6)
    assert cal.threshold_for(figure_span) == cal.threshold
    assert cal.threshold_for(text_span) == cal.text_threshold


def test_card_round_trip_and_refusal_of_foreign_features() -> None:
    cal = Calibrator(tuple([0.0] * len(FEATURE_NAMES)), tuple([1.0] * len(FEATURE_NAMES)), tuple([0.5] * len(FEATURE_NAMES)), -0.2, 0.45)
    assert Calibrator.from_card(cal.to_card()) == cal
    two = Calibrator(cal.mean, cal.scale, cal.coef, cal.intercept, 0.6, 0.4)
    assert Calibrator.from_card(two.to_card()) == two
    with pytest.raises(ValueError, match="features"):
        Calibrator.from_card({**cal.to_card(), "features": ["margin"]})


def test_answer_type_fit_features() -> None:
    assert wants_figure("2018年地区生产总值增长目标是多少?") and wants_figure("How many new jobs were created?")
    assert not wants_figure("谁负责这项工作?")
    f = features_of(True, SpanProposal(0, 0, 4, "7.7%", 9.0, 2.0))
    assert f.margin == 7.0 and f.has_figure and f.vector()[FEATURE_NAMES.index("type_fit")] == 1.0
    g = features_of(True, SpanProposal(0, 0, 3, "会展业", 9.0, 2.0))
    assert g.vector()[FEATURE_NAMES.index("type_fit")] == -1.0


def test_a_calibrator_fitted_on_the_reader_features_alone_ignores_the_retrieval_ones() -> None:
    from rag.answering.calibration import READER_FEATURES

    feats, labels = synthetic(400)
    cal = fit_calibrator(feats, labels, names=READER_FEATURES)
    assert cal.features == READER_FEATURES and len(cal.coef) == len(READER_FEATURES)
    assert Calibrator.from_card(cal.to_card()) == cal
    base = feats[0]
    far = AnswerFeatures(*[getattr(base, n) for n in ("margin", "score", "null_score", "log_prob", "null_log_prob", "wants_figure", "has_figure", "chars")], rank=4, support=3, score_gap=2.0)
    assert cal.confidence(far) == cal.confidence(base)


def test_the_retrieval_rank_of_the_spans_passage_is_learned() -> None:
    # the same reader scores; a span from the top passage is right far more often than one from the fourth
    rng = random.Random(5)
    feats, labels = [], []
    for _ in range(800):
        rank = rng.randrange(4)
        margin = rng.gauss(2.0, 1.0)
        feats.append(AnswerFeatures(margin, margin + 5, 5.0, margin - 3, -3.0, False, False, 6, rank=rank))
        labels.append(rng.random() < (0.8 if rank == 0 else 0.2))
    cal = fit_calibrator(feats, labels)
    top_rank = AnswerFeatures(2.0, 7.0, 5.0, -1.0, -3.0, False, False, 6, rank=0)
    low_rank = AnswerFeatures(2.0, 7.0, 5.0, -1.0, -3.0, False, False, 6, rank=3)
    assert cal.confidence(top_rank) > 0.6 > 0.3 > cal.confidence(low_rank)
    assert cal.coef[FEATURE_NAMES.index("log_rank")] < 0


def test_a_card_for_features_this_code_does_not_know_is_refused() -> None:
    cal = Calibrator((0.0,), (1.0,), (1.0,), 0.0, 0.5, None, ("margin",))
    card = cal.to_card()
    assert Calibrator.from_card(card) == cal
    with pytest.raises(ValueError, match="features"):
        Calibrator.from_card({**card, "features": ["margin_of_error"]})
    with pytest.raises(ValueError, match="features"):
        Calibrator.from_card({**card, "coef": [1.0, 2.0]})


def test_the_unit_a_question_asks_in_is_matched_against_the_spans_figures() -> None:
    from rag.text.numbers import asked_unit, units_fit

    assert asked_unit("“暖房子”工程共涉及多少栋老旧楼?") == "栋"
    assert asked_unit("比上年增长几个百分点?") == "个百分点"
    assert asked_unit("地区生产总值增长目标是多少?") is None
    assert units_fit("人", "万人") and units_fit("亿元", "万元") and not units_fit("栋", "万平方米")
    question = "共涉及多少栋老旧楼?"
    whole = features_of(True, SpanProposal(0, 0, 13, "75万平方米、272栋", 9.0, 2.0), unit=asked_unit(question))
    only = features_of(True, SpanProposal(0, 7, 11, "272栋", 9.0, 2.0), unit=asked_unit(question))
    wrong = features_of(True, SpanProposal(0, 0, 6, "75万平方米", 9.0, 2.0), unit=asked_unit(question))
    assert (whole.unit_fit, whole.extra_figures) == (1, 1)
    assert (only.unit_fit, only.extra_figures) == (1, 0)
    assert (wrong.unit_fit, features_of(True, SpanProposal(0, 0, 3, "会展业", 9.0, 2.0), unit="栋").unit_fit) == (-1, -1)
    assert features_of(True, SpanProposal(0, 0, 4, "7.7%", 9.0, 2.0)).unit_fit == 0
