"""Gold question sets: the project's dev schema and the external `normalized/qa*.jsonl` schema, read into one shape."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

CheckMode = Literal["any_of", "refusal", "all_groups_any_alt", "any_variant_all_items"]
CHECK_MODES: tuple[CheckMode, ...] = ("any_of", "refusal", "all_groups_any_alt", "any_variant_all_items")


class GoldFormatError(ValueError):
    """A gold file line that is not valid JSON or misses required fields."""


@dataclass(frozen=True)
class AnswerCheck:
    """How a predicted short answer is judged.

    - ``any_of``: ``groups == (alternatives,)``; any one alternative suffices.
    - ``refusal``: no groups; only a refusal is right.
    - ``all_groups_any_alt``: every group must be matched by one of its alternatives.
    - ``any_variant_all_items``: each group is a variant (a list of items); some variant must have all its items matched.
    """

    mode: CheckMode
    groups: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class GoldItem:
    """One gold question, whichever schema it came from."""

    id: str
    question: str
    lang: str
    """``zh`` or ``en`` (external ``zh-Hans``/``zh-Hant`` map to ``zh``)."""
    answers: tuple[str, ...]
    """Canonical answer first, then aliases (flattened for display); empty when unanswerable."""
    check: AnswerCheck
    answerable: bool
    doc_groups: tuple[tuple[str, ...], ...] = ()
    """Every group needs one of its documents retrieved (dev multi-doc: one doc a group; external: alternatives)."""
    evidence: tuple[str, ...] = ()
    """Verbatim substrings of the gold documents; aligned with ``doc_groups`` when both have the same length."""
    type: str = "other"
    difficulty: str = "n/a"
    pool_doc_ids: tuple[str, ...] | None = None
    """Restrict retrieval to these documents (RGB per-question pools); None means the whole index."""
    source: Literal["dev", "external"] = "dev"

    @property
    def gold_docs(self) -> tuple[str, ...]:
        """All gold document ids, in order, without duplicates."""
        return tuple(dict.fromkeys(d for group in self.doc_groups for d in group))


def _lang(value: object) -> str:
    text = str(value or "").strip().lower()
    if text.startswith("zh"):
        return "zh"
    if text.startswith("en"):
        return "en"
    return text or "zh"


def _str_tuple(value: object) -> tuple[str, ...]:
    """A string, a list of strings or null as a tuple of non-empty strings."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, list):
        return tuple(str(v) for v in value if v is not None and str(v) != "")
    raise TypeError(f"expected a string or a list of strings, got {type(value).__name__}")


def _groups(value: object) -> tuple[tuple[str, ...], ...]:
    """A list whose elements are strings (one-element groups) or lists of alternatives."""
    if not isinstance(value, list):
        raise TypeError("expected a list of groups")
    return tuple(g for g in (_str_tuple(v) for v in value) if g)


def _item_from_dev(record: dict[str, Any]) -> GoldItem:
    answer = record.get("answer")
    aliases = _str_tuple(record.get("answer_aliases"))
    answers = tuple(dict.fromkeys((*_str_tuple(answer), *aliases)))
    answerable = answer is not None
    docs = _str_tuple(record.get("doc"))
    return GoldItem(
        id=str(record["id"]),
        question=str(record["question"]),
        lang=_lang(record.get("lang")),
        answers=answers if answerable else (),
        check=AnswerCheck("any_of", (answers,)) if answerable else AnswerCheck("refusal"),
        answerable=answerable,
        doc_groups=tuple((d,) for d in docs),
        evidence=_str_tuple(record.get("evidence")),
        type=str(record.get("type") or ("other" if answerable else "unanswerable")),
        difficulty=str(record.get("difficulty") or "n/a"),
        source="dev",
    )


def _check_from_external(raw: object, answers: tuple[str, ...], answerable: bool) -> AnswerCheck:
    if not isinstance(raw, dict):
        return AnswerCheck("any_of", (answers,)) if answerable else AnswerCheck("refusal")
    mode = str(raw.get("mode", "any_of"))
    if mode not in CHECK_MODES:
        raise ValueError(f"unknown answer_check.mode {mode!r} (known: {', '.join(CHECK_MODES)})")
    if mode == "refusal":
        return AnswerCheck("refusal")
    if mode == "any_of":
        alts = _str_tuple(raw.get("alts")) or answers
        return AnswerCheck("any_of", (alts,))
    # Group modes: the data uses "groups"; "variants"/"items" are accepted for any_variant_all_items.
    for key in ("groups", "variants", "items"):
        if key in raw:
            return AnswerCheck(cast(CheckMode, mode), _groups(raw[key]))
    return AnswerCheck(cast(CheckMode, mode), tuple((a,) for a in answers))


def _item_from_external(record: dict[str, Any]) -> GoldItem:
    answers = _str_tuple(record.get("answers"))
    check = _check_from_external(record.get("answer_check"), answers, bool(record.get("answerable", True)))
    answerable = bool(record.get("answerable", check.mode != "refusal")) and check.mode != "refusal"
    if "gold_doc_groups" in record:
        doc_groups = _groups(record["gold_doc_groups"])
    else:
        gold_docs = _str_tuple(record.get("gold_doc_ids"))
        doc_groups = (gold_docs,) if gold_docs else ()
    pool = record.get("pool_doc_ids")
    if not answers:
        answers = tuple(a for group in check.groups for a in group)
    return GoldItem(
        id=str(record["qid"]),
        question=str(record["question"]),
        lang=_lang(record.get("q_lang")),
        answers=answers,
        check=check,
        answerable=answerable,
        doc_groups=doc_groups,
        evidence=_str_tuple(record.get("evidence")),
        type=str(record.get("answer_type") or ("other" if answerable else "unanswerable")),
        difficulty=str(record.get("difficulty") or "n/a"),
        pool_doc_ids=_str_tuple(pool) if pool is not None else None,
        source="external",
    )


def parse_gold_record(record: dict[str, Any]) -> GoldItem:
    """One JSON record of either schema (external records carry ``qid``) as a GoldItem."""
    if "qid" in record:
        return _item_from_external(record)
    return _item_from_dev(record)


def read_gold_lines(lines: Iterable[str], *, source: str = "<gold>") -> tuple[GoldItem, ...]:
    """Gold items from JSONL lines; blank lines are skipped; ids must be unique."""
    items: list[GoldItem] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise TypeError("a line must be a JSON object")
            item = parse_gold_record(record)
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
            raise GoldFormatError(f"{source}:{number}: {detail}") from exc
        if item.id in seen:
            raise GoldFormatError(f"{source}:{number}: duplicate id {item.id!r}")
        seen.add(item.id)
        items.append(item)
    return tuple(items)


def load_gold(path: Path) -> tuple[GoldItem, ...]:
    """All items of a gold JSONL file (dev or external schema, detected per line)."""
    if not path.is_file():
        raise FileNotFoundError(f"no gold file at {path}")
    with path.open(encoding="utf-8") as handle:
        return read_gold_lines(handle, source=str(path))


def sample_items(items: Sequence[GoldItem], limit: int | None, seed: int = 0) -> tuple[GoldItem, ...]:
    """A seeded random sample of ``limit`` items in their original order (all items when limit is None)."""
    if limit is None or limit >= len(items):
        return tuple(items)
    if limit < 0:
        raise ValueError("limit must be >= 0")
    chosen = sorted(random.Random(seed).sample(range(len(items)), limit))
    return tuple(items[i] for i in chosen)
