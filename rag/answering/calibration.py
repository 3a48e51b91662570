"""One calibrated decision to answer or refuse: P(the proposed span is right), from a logistic model.

The features are the reader's span-vs-no-answer margin and raw scores, whether the question asks for
a quantity and whether the span states one (answer-type fit), and the span's length. The weights are
fitted on held-out *training* questions only (`rag.reader.calibration_fit`): answerable ones read on
their own passage among distractors, the same questions read on other articles' passages, and
ChineseSquad's unanswerable ones. One confidence, two thresholds by what a mistake costs, each
maximising expected utility on the fitting cases of its kind: for spans that state a figure a wrong
answer costs twice what a right one gains (a wrong number with a citation is worse than a refusal);
for other spans (names, measures, phrases the reader can judge from the cited sentence) it costs 1.5
times (measured on external sets: cost 1 gave CMRC-300 accuracy 0.39 but RGB rejection 0.72, cost 2
gave 0.28 / 0.80, cost 1.5 gives 0.37 / 0.75).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from rag.answering.spans import quantities
from rag.query import detect_language, detect_qtype
from rag.reader.base import SpanProposal
from rag.text.numbers import units_fit

READER_FEATURES = (
    "margin", "score", "null_score", "log_prob", "null_log_prob", "wants_figure", "has_figure", "type_fit", "log_chars",
)
"""What the reader alone says about a span (all a calibrator fitted on single passages can use)."""
UNIT_FEATURES = ("unit_fit", "extra_figures")
"""Whether the span's figure is in the unit the question asks for ("多少栋" → "272栋"), and how many more
figures than one the span holds (a list of figures seldom answers "多少")."""
RETRIEVAL_FEATURES = ("log_rank", "support", "score_gap")
"""Where the span's passage stands among the retrieved ones, and how many read passages propose it."""
FEATURE_NAMES = READER_FEATURES + UNIT_FEATURES + RETRIEVAL_FEATURES
WRONG_FIGURE_COST = 2.0
WRONG_TEXT_COST = 1.5
ANSWER_SLACK = 12
"""When fitting: a span holding the gold answer may be this many characters longer and still count as right."""
MIN_CASES_FOR_OWN_THRESHOLD = 40
"""Fewer fitting cases of a kind than this: that kind uses the threshold fitted on all cases at the figure cost."""


@dataclass(frozen=True)
class AnswerFeatures:
    """What the decision to answer looks at, for one proposed span."""

    margin: float
    score: float
    null_score: float
    log_prob: float
    null_log_prob: float
    wants_figure: bool
    has_figure: bool
    chars: int
    unit_fit: int = 0
    """+1: a figure of the span is in the unit the question names; -1: none is; 0: the question names none."""
    extra_figures: int = 0
    """Figures in the span beyond the first (years excluded)."""
    rank: int = 0
    """Position (0 = top) of the best-ranked retrieved passage that holds the span."""
    support: int = 1
    """How many of the read passages propose this answer text."""
    score_gap: float = 0.0
    """Retrieval score of the top passage minus that of the span's passage (>= 0)."""

    @property
    def judged_as_figure(self) -> bool:
        """Whether a wrong answer here misleads like a wrong number: the span states a figure, or the
        question asks for a quantity (the figure threshold applies)."""
        return self.has_figure or self.wants_figure

    def values(self) -> dict[str, float]:
        """Every feature by its name in FEATURE_NAMES."""
        fit = 1.0 if self.wants_figure == self.has_figure else -1.0
        return {
            "margin": self.margin,
            "score": self.score,
            "null_score": self.null_score,
            "log_prob": self.log_prob,
            "null_log_prob": self.null_log_prob,
            "wants_figure": float(self.wants_figure),
            "has_figure": float(self.has_figure),
            "type_fit": fit if self.wants_figure else 0.0,
            "log_chars": math.log1p(self.chars),
            "unit_fit": float(self.unit_fit),
            "extra_figures": float(min(3, self.extra_figures)),
            "log_rank": math.log1p(self.rank),
            "support": float(self.support),
            "score_gap": self.score_gap,
        }

    def vector(self, names: Sequence[str] = FEATURE_NAMES) -> list[float]:
        """Values of the named features, in that order."""
        values = self.values()
        return [values[n] for n in names]


def wants_figure(question: str) -> bool:
    """Whether the question asks for a quantity (多少, how many, growth rate…)."""
    return detect_qtype(question, detect_language(question), 0) == "numeric"


def features_of(
    question_wants_figure: bool,
    proposal: SpanProposal,
    *,
    unit: str | None = None,
    rank: int = 0,
    support: int = 1,
    score_gap: float = 0.0,
) -> AnswerFeatures:
    """Features of one proposal; `unit`: the unit the question asks in (`asked_unit`); `rank`, `support`,
    `score_gap`: see AnswerFeatures."""
    figures = quantities(proposal.text)
    unit_fit = 0 if unit is None else (1 if any(units_fit(unit, f.unit) for f in figures) else -1)
    return AnswerFeatures(
        proposal.margin,
        proposal.score,
        proposal.null_score,
        proposal.log_prob,
        proposal.null_log_prob,
        question_wants_figure,
        bool(figures),
        len(proposal.text),
        unit_fit,
        max(0, len(figures) - 1),
        rank,
        support,
        max(0.0, score_gap),
    )


@dataclass(frozen=True)
class Calibrator:
    """Standardised logistic regression over AnswerFeatures, with its chosen threshold."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float
    """Below this confidence a span stating a figure is refused."""
    text_threshold: float | None = None
    """Below this confidence any other span is refused (None: `threshold`)."""
    features: tuple[str, ...] = FEATURE_NAMES
    """The features the weights are for, a subset of FEATURE_NAMES in order."""

    def threshold_for(self, features: AnswerFeatures) -> float:
        """The threshold for this span's kind of mistake: a figure, or any answer to a question that asks
        for a quantity (a wrong answer to "多少" misleads like a wrong number), needs the figure threshold."""
        if features.judged_as_figure or self.text_threshold is None:
            return self.threshold
        return self.text_threshold

    def confidence(self, features: AnswerFeatures) -> float:
        """Calibrated probability that the span is a right answer."""
        z = self.intercept + sum(
            c * (v - m) / s
            for c, v, m, s in zip(self.coef, features.vector(self.features), self.mean, self.scale, strict=True)
        )
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def to_card(self) -> dict[str, Any]:
        """JSON-ready form (stored in the reader's manifest)."""
        return {
            "features": list(self.features),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "threshold": self.threshold,
            "text_threshold": self.text_threshold,
        }

    @classmethod
    def from_card(cls, card: Mapping[str, Any]) -> Calibrator:
        """Read back `to_card` output; refuses a card for features this code does not compute."""
        names = tuple(str(n) for n in card.get("features", ()))
        if not names or any(n not in FEATURE_NAMES for n in names) or len(card.get("coef", ())) != len(names):
            raise ValueError(f"calibration was fitted on features {card.get('features')}, expected some of {FEATURE_NAMES}")
        return cls(
            tuple(float(x) for x in card["mean"]),
            tuple(float(x) for x in card["scale"]),
            tuple(float(x) for x in card["coef"]),
            float(card["intercept"]),
            float(card["threshold"]),
            None if card.get("text_threshold") is None else float(card["text_threshold"]),
            names,
        )


def fit_calibrator(
    features: Sequence[AnswerFeatures],
    correct: Sequence[bool],
    *,
    l2: float = 1e-2,
    names: Sequence[str] = FEATURE_NAMES,
) -> Calibrator:
    """Logistic regression by Newton's method over the `names` features, then the utility-maximising
    thresholds."""
    names = tuple(names)
    x = np.array([f.vector(names) for f in features], dtype=np.float64)
    y = np.array(correct, dtype=np.float64)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = np.hstack([np.ones((len(x), 1)), (x - mean) / scale])
    w = np.zeros(z.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-np.clip(z @ w, -30, 30)))
        grad = z.T @ (p - y) + l2 * np.r_[0.0, w[1:]]
        hess = (z * (p * (1 - p))[:, None]).T @ z + l2 * np.diag(np.r_[0.0, np.ones(len(w) - 1)])
        step = np.linalg.solve(hess + 1e-9 * np.eye(len(w)), grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    probe = Calibrator(tuple(mean), tuple(scale), tuple(w[1:]), float(w[0]), 0.5, None, names)
    conf, right, figure = decisions(probe, features, correct)
    overall = choose_threshold(conf, right, WRONG_FIGURE_COST)
    threshold, text_threshold = overall, overall
    if figure.sum() >= MIN_CASES_FOR_OWN_THRESHOLD:
        threshold = choose_threshold(conf[figure], right[figure], WRONG_FIGURE_COST)
    if (~figure).sum() >= MIN_CASES_FOR_OWN_THRESHOLD:
        text_threshold = choose_threshold(conf[~figure], right[~figure], WRONG_TEXT_COST)
    return Calibrator(tuple(mean), tuple(scale), tuple(w[1:]), float(w[0]), threshold, text_threshold, names)


def decisions(
    calibrator: Calibrator, features: Sequence[AnswerFeatures], correct: Sequence[bool]
) -> tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.bool_]]:
    """Confidence, correctness and figure kind (`judged_as_figure`) of each case."""
    conf = np.array([calibrator.confidence(f) for f in features], dtype=np.float64)
    right = np.array(correct, dtype=bool)
    figure = np.array([f.judged_as_figure for f in features], dtype=bool)
    return conf, right, figure


def utility_curve(
    conf: NDArray[np.float64], correct: NDArray[np.bool_], wrong_cost: float = WRONG_FIGURE_COST
) -> list[dict[str, float]]:
    """Coverage, accuracy of the answered and utility at each candidate threshold."""
    out = []
    for t in np.round(np.linspace(0.05, 0.95, 19), 2):
        answered = conf >= t
        n = max(1, int(answered.sum()))
        right = int((answered & correct).sum())
        wrong = int(answered.sum()) - right
        out.append(
            {
                "threshold": float(t),
                "coverage": round(float(answered.mean()), 4),
                "accuracy_answered": round(right / n, 4),
                "utility": round((right - wrong_cost * wrong) / max(1, len(conf)), 4),
            }
        )
    return out


def choose_threshold(conf: NDArray[np.float64], correct: NDArray[np.bool_], wrong_cost: float) -> float:
    """The threshold of highest utility (ties: the lower threshold, i.e. answer more)."""
    curve = utility_curve(conf, correct, wrong_cost)
    best = max(curve, key=lambda r: (r["utility"], -r["threshold"]))
    return float(best["threshold"])


@dataclass(frozen=True)
class Calibration:
    """The calibrators of one reader: Chinese questions, and English ones when fitted."""

    zh: Calibrator
    en: Calibrator | None = None

    def for_language(self, language: str) -> Calibrator:
        """The calibrator for questions in `language` (Chinese when none is fitted for it)."""
        return self.en if language == "en" and self.en is not None else self.zh
