"""CI gate: fail when a report's metrics fall below (or, for "max" metrics, rise above) the agreed thresholds.

thresholds.json::

    {"overall": {"answer_accuracy": 0.8, ...},            # minimums over all questions
     "by_lang": {"zh": {...}, "en": {...}},               # minimums per question language
     "max": {"overall": {"false_refusal_rate": 0.1},      # maximums (lower is better)
             "by_lang": {"en": {...}}}}

Usage: ``python -m eval.gate REPORT.json [--thresholds eval/thresholds.json]`` — exit 1 listing every failure.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFAULT_THRESHOLDS = Path(__file__).resolve().parent / "thresholds.json"


def _check(scope: str, values: Mapping[str, Any], limits: Mapping[str, Any], *, is_max: bool) -> list[str]:
    failures = []
    for key, limit in limits.items():
        if limit is None:
            continue
        if key not in values:
            failures.append(f"{scope}: {key} missing from the report")
            continue
        value = values[key]
        if value is None:  # metric not applicable to this set (e.g. no unanswerable questions)
            continue
        if is_max and float(value) > float(limit):
            failures.append(f"{scope}: {key} = {float(value):.4f} is above the maximum {float(limit):.4f}")
        elif not is_max and float(value) < float(limit):
            failures.append(f"{scope}: {key} = {float(value):.4f} is below the minimum {float(limit):.4f}")
    return failures


def _check_section(
    section: Mapping[str, Any],
    summary: Mapping[str, Any],
    by_lang: Mapping[str, Mapping[str, Any]],
    *,
    is_max: bool,
) -> list[str]:
    failures = _check("overall", summary, section.get("overall") or {}, is_max=is_max)
    for lang, limits in (section.get("by_lang") or {}).items():
        if lang not in by_lang:
            continue  # no questions in that language in this gold set
        failures += _check(f"lang={lang}", by_lang[lang], limits, is_max=is_max)
    return failures


def check_thresholds(
    summary: Mapping[str, Any],
    thresholds: Mapping[str, Any],
    by_lang: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[str]:
    """Every threshold the report misses, as one readable line each (empty list: pass).

    Metrics that are None in the report (not applicable) are skipped; languages absent from the report too.
    """
    by_lang = by_lang or {}
    failures = _check_section(thresholds, summary, by_lang, is_max=False)
    failures += _check_section(thresholds.get("max") or {}, summary, by_lang, is_max=True)
    return failures


def load_thresholds(path: Path = DEFAULT_THRESHOLDS) -> dict[str, Any]:
    """Thresholds from JSON."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: thresholds must be a JSON object")
    return data


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m eval.gate", description="Fail CI when metrics regress.")
    parser.add_argument("report", type=Path, help="report.json written by `rag eval --out DIR`")
    parser.add_argument("--thresholds", type=Path, default=DEFAULT_THRESHOLDS, help="thresholds JSON")
    args = parser.parse_args(argv)
    try:
        report = json.loads(args.report.read_text(encoding="utf-8"))
        thresholds = load_thresholds(args.thresholds)
    except (OSError, ValueError) as exc:
        print(f"eval gate: cannot read input: {exc}", file=sys.stderr)
        return 2
    if not isinstance(report, dict) or "summary" not in report:
        print(f"eval gate: {args.report} is not an eval report (no 'summary')", file=sys.stderr)
        return 2
    failures = check_thresholds(report["summary"], thresholds, report.get("by_lang") or {})
    if failures:
        print(
            f"eval gate FAILED ({len(failures)} threshold(s) missed, thresholds: {args.thresholds}):",
            file=sys.stderr,
        )
        for line in failures:
            print(f"  - {line}", file=sys.stderr)
        return 1
    print(f"eval gate passed ({args.report}, thresholds: {args.thresholds})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
