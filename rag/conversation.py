"""Resolving follow-up questions ("and in 2017?", "那沙河口区呢?") against the previous turn."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.text.dates import YEAR_TOKEN
from rag.types import ParsedQuery, Turn


def is_follow_up(query: ParsedQuery) -> bool:
    """Short questions that name no metric and start like a continuation."""
    text = query.text.strip().lower()
    short = len(text) <= 16 if query.language == "zh" else len(text.split()) <= 6
    cue = re.match(r"^(and|what about|how about|in \d{4}|那|那么|还有|而|再)", text) or text.endswith(("呢?", "呢?", "呢"))
    return bool(short and (cue or not query.metrics) and not (query.metrics and query.regions and query.years))


def resolve_follow_up(question: str, parsed: ParsedQuery, history: Sequence[Turn]) -> str:
    """Rewrite a follow-up into a standalone question using the last turn; other questions pass through."""
    if not history or not is_follow_up(parsed):
        return question
    previous = history[-1].question
    rewritten = previous
    if parsed.years:
        years = list(YEAR_TOKEN.finditer(previous))
        if years:
            rewritten = YEAR_TOKEN.sub(str(parsed.years[0]), previous, count=1)
        else:
            rewritten = f"{previous} {parsed.years[0]}"
    if parsed.regions:
        rewritten = f"{rewritten} ({'、'.join(parsed.regions)})"
    if rewritten == previous:
        rewritten = f"{previous} {question}"
    return rewritten
