"""Compare two eval reports (``rag eval --compare OLD/report.json``): summary deltas and per-question changes."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Any

from eval.metrics import SUMMARY_KEYS
from eval.report import format_metric

ReportLike = Mapping[str, Any] | str | PathLike[str]

_LOWER_IS_BETTER = frozenset({"false_refusal_rate", "latency_ms_p50", "latency_ms_p95"})
_COUNT_KEYS = frozenset({"n", "answerable", "unanswerable"})


def load_report(source: ReportLike) -> Mapping[str, Any]:
    """A report given as a mapping, a report.json path, or a directory holding report.json."""
    if isinstance(source, Mapping):
        return source
    path = Path(source)
    if path.is_dir():
        path = path / "report.json"
    if not path.is_file():
        raise FileNotFoundError(f"no eval report at {path} — run `rag eval --out DIR` first")
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "summary" not in data:
        raise ValueError(f"{path} is not an eval report (no 'summary')")
    return data


def _delta(key: str, old: object, new: object) -> str:
    if not isinstance(old, int | float) or not isinstance(new, int | float) or isinstance(old, bool):
        return ""
    diff = float(new) - float(old)
    if abs(diff) < 1e-9:
        return "="
    if key in _COUNT_KEYS:
        text = f"{diff:+.0f}"
    elif key.startswith("latency"):
        text = f"{diff:+.0f} ms"
    elif key == "mrr@10":
        text = f"{diff:+.3f}"
    else:
        text = f"{100 * diff:+.1f} pt"
    if key in _COUNT_KEYS:
        return text
    better = diff < 0 if key in _LOWER_IS_BETTER else diff > 0
    return f"{text} {'▲' if better else '▼'}"


def _answer(item: Mapping[str, Any]) -> str:
    if item.get("error"):
        return f"ERROR: {item['error']}"
    text = str(item.get("short_answer", ""))
    return f"(refused) {text}" if item.get("refused") else text


def _line(item: Mapping[str, Any], old: Mapping[str, Any] | None = None) -> str:
    question = str(item.get("question", ""))
    question = question if len(question) <= 70 else question[:69] + "…"
    gold = " | ".join(str(g) for g in item.get("gold") or []) or "(unanswerable)"
    text = f"  {item.get('id')}: {question}\n      gold: {gold}\n"
    if old is not None:
        text += f"      old:  {_answer(old)}\n"
    return text + f"      new:  {_answer(item)}"


def compare_reports(old_json: ReportLike, new_json: ReportLike) -> str:
    """Human-readable diff: summary deltas, then fixed / broken / changed-answer / added / removed questions."""
    old, new = load_report(old_json), load_report(new_json)
    old_s, new_s = old.get("summary", {}), new.get("summary", {})
    lines = ["Summary (old → new)", ""]
    width = max(len(k) for k in SUMMARY_KEYS)
    for key in SUMMARY_KEYS:
        o, n = old_s.get(key), new_s.get(key)
        lines.append(
            f"  {key:<{width}}  {format_metric(key, o):>9} → {format_metric(key, n):>9}  {_delta(key, o, n)}"
        )
    for group in ("by_lang", "by_type"):
        old_g, new_g = old.get(group) or {}, new.get(group) or {}
        names = list(dict.fromkeys([*old_g, *new_g]))
        if names:
            lines += ["", f"answer_accuracy {group.replace('_', ' ')}:"]
        for name in names:
            o = (old_g.get(name) or {}).get("answer_accuracy")
            n = (new_g.get(name) or {}).get("answer_accuracy")
            lines.append(
                f"  {name:<{width}}  {format_metric('answer_accuracy', o):>9} → "
                f"{format_metric('answer_accuracy', n):>9}  {_delta('answer_accuracy', o, n)}"
            )

    old_items = {str(i.get("id")): i for i in old.get("items") or []}
    new_items = {str(i.get("id")): i for i in new.get("items") or []}
    fixed, broken, changed = [], [], []
    for qid, item in new_items.items():
        before = old_items.get(qid)
        if before is None:
            continue
        if item.get("correct") and not before.get("correct"):
            fixed.append(_line(item, before))
        elif before.get("correct") and not item.get("correct"):
            broken.append(_line(item, before))
        elif _answer(item) != _answer(before):
            changed.append(_line(item, before))
    added = [_line(new_items[q]) for q in new_items if q not in old_items]
    removed = [f"  {q}" for q in old_items if q not in new_items]
    for title, entries in (
        ("Fixed", fixed),
        ("Broken", broken),
        ("Changed answer (same verdict)", changed),
        ("Only in new", added),
        ("Only in old", removed),
    ):
        lines += ["", f"{title} ({len(entries)})"]
        lines += entries
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """``python -m eval.compare OLD NEW`` (report.json files or the directories holding them)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m eval.compare", description=main.__doc__)
    parser.add_argument("old", help="old report.json (or its directory)")
    parser.add_argument("new", help="new report.json (or its directory)")
    args = parser.parse_args(argv)
    try:
        print(compare_reports(args.old, args.new), end="")
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
