"""Evaluation harness: gold sets, metrics, reports, comparisons (eval.compare) and the CI gate (eval.gate)."""

from __future__ import annotations

from eval.answer_matching import answer_correct, normalize_answer
from eval.gold import AnswerCheck, GoldItem, load_gold
from eval.report import EvalReport, write_reports
from eval.runner import QASystem, evaluate, run_eval

__all__ = [
    "AnswerCheck",
    "EvalReport",
    "GoldItem",
    "QASystem",
    "answer_correct",
    "evaluate",
    "load_gold",
    "normalize_answer",
    "run_eval",
    "write_reports",
]
