"""Evaluation harness: gold sets, metrics, reports, comparisons and the CI gate."""

from __future__ import annotations

from eval.compare import compare_reports
from eval.gate import check_thresholds
from eval.gold import AnswerCheck, GoldItem, load_gold
from eval.metrics import answer_correct, normalize_answer
from eval.report import EvalReport, write_reports
from eval.runner import QASystem, evaluate, run_eval

__all__ = [
    "AnswerCheck",
    "EvalReport",
    "GoldItem",
    "QASystem",
    "answer_correct",
    "check_thresholds",
    "compare_reports",
    "evaluate",
    "load_gold",
    "normalize_answer",
    "run_eval",
    "write_reports",
]
