"""Markdown: light stripping of the syntax, words kept; the first heading is the title hint."""

from __future__ import annotations

import re

_MD_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^```.*$|^~~~.*$", re.M), ""),
    (re.compile(r"^ {0,3}#{1,6}[ \t]+(.*?)[ \t]*#*[ \t]*$", re.M), r"\1"),
    (re.compile(r"^ {0,3}>[ \t]?", re.M), ""),
    (re.compile(r"^[ \t]*(?:[-*_][ \t]*){3,}$", re.M), ""),
    (re.compile(r"^[ \t]*\|?[ \t]*:?-{3,}:?[ \t]*(?:\|[ \t]*:?-{3,}:?[ \t]*)*\|?[ \t]*$", re.M), ""),
    (re.compile(r"^([ \t]*)[-*+][ \t]+", re.M), r"\1"),
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),
    (re.compile(r"`([^`\n]+)`"), r"\1"),
    (re.compile(r"</?[A-Za-z][^>\n]*>"), ""),
)


def markdown_text(text: str) -> tuple[str, str | None]:
    """Light Markdown stripping: syntax goes, words stay; the first heading is the title hint."""
    front = re.match(r"\A---\n.*?\n---\n", text, re.S)
    if front:
        text = text[front.end() :]
    heading = re.search(r"^ {0,3}#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", text, re.M)
    for pattern, repl in _MD_RULES:
        text = pattern.sub(repl, text)
    return text, heading.group(1) if heading else None
