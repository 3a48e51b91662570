"""Chinese-aware splitting of a cleaned report into headed sections, sentences and chunks."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from rag.text.dates import YEAR
from rag.text.sentences import Span, split_sentences, trim
from rag.types import Chunk, Document

_CN_NUM = "一二三四五六七八九十百零〇两"
# Heading markers by level: "一、", "(一)"/"（一）", "1." / "1、" / "(1)", "第一部分"/"第一章".
_HEADING_PATTERNS: tuple[tuple[int, re.Pattern[str]], ...] = (
    (1, re.compile(rf"^第[{_CN_NUM}\d]+[部分章篇节]")),
    (1, re.compile(rf"^[{_CN_NUM}]+、")),
    (2, re.compile(rf"^[(（][{_CN_NUM}]+[)）]")),
    (3, re.compile(r"^\d{1,2}[、.．](?!\d)")),
    (4, re.compile(r"^[(（]\d{1,2}[)）]")),
)
# A bare heading such as "2012年工作回顾" or "附件" (short, no sentence punctuation).
_BARE_HEADING = re.compile(
    rf"^(?:{YEAR}年[^。，,;；:：!?！？]{{0,12}}(?:回顾|安排|计划|任务|总结)[^。，,;；:：!?！？\s]{{0,4}}|名词解释|附件[::]?)$"
)
"""An unnumbered top heading: "2024年工作回顾", "2025年工作安排建议" (a short tail after the key word)."""
_INLINE_HEADING = re.compile(rf"\s+(?=(?:[{_CN_NUM}]+、|[(（][{_CN_NUM}]+[)）])\S)")
_MAX_HEADING_CHARS = 40


@dataclass(frozen=True)
class Sentence:
    """A sentence with the heading path it sits under."""

    text: str
    start: int
    end: int
    section: str
    is_heading: bool = False


def heading_level(line: str) -> int | None:
    """Heading level of a line (1 = top), or None if it reads as prose."""
    stripped = line.strip()
    if not stripped or len(stripped) > _MAX_HEADING_CHARS * 2:
        return None
    if _BARE_HEADING.match(stripped):
        return 0
    for level, pattern in _HEADING_PATTERNS:
        if pattern.match(stripped):
            # A numbered list item that runs on into a long sentence is a list item, not a heading.
            body_end = re.search(r"[。;；!?！？]", stripped)
            if len(stripped) > _MAX_HEADING_CHARS or (body_end and body_end.end() < len(stripped)):
                return None
            return level
    return None


def _paragraphs(text: str) -> list[Span]:
    """Lines, further split where a heading marker starts mid-line (web copies that lost their newlines)."""
    out: list[Span] = []
    pos = 0
    for line in text.split("\n"):
        line_start = pos
        pos += len(line) + 1
        cut_points = [0] + [m.end() for m in _INLINE_HEADING.finditer(line)] + [len(line)]
        for a, b in itertools.pairwise(cut_points):
            if (span := trim(line, a, b, line_start)) is not None:
                out.append(span)
    return out


def document_sentences(text: str) -> list[Sentence]:
    """All sentences of a document with their section path; headings are sentences flagged is_heading."""
    path: list[tuple[int, str]] = []
    sentences: list[Sentence] = []
    for para in _paragraphs(text):
        pieces = split_sentences(para.text, para.start)
        first = pieces[0] if pieces else None
        if first is not None and _starts_with_marker(first.text) and heading_level(first.text) is None:
            # Flattened copies put "一、标题 正文…" on one line: the heading ends at the first space.
            gap = re.search(r"\s", first.text[:_MAX_HEADING_CHARS + 2])
            if gap:
                head = Span(first.text[: gap.start()], first.start, first.start + gap.start())
                rest = trim(para.text, gap.end() + first.start - para.start, para.end - para.start, para.start)
                pieces = [head, *split_sentences(rest.text, rest.start)] if rest else [head]
                first = head
        level = heading_level(first.text) if first else None
        if first is not None and level is not None:
            # A heading may share a line with its first sentence ("(一)标题 正文…" in flattened copies).
            head_text = first.text
            path = [p for p in path if p[0] < level] + [(level, head_text)]
            sentences.append(Sentence(head_text, first.start, first.end, _path_str(path), is_heading=True))
            pieces = pieces[1:]
        for span in pieces:
            sentences.append(Sentence(span.text, span.start, span.end, _path_str(path)))
    return sentences


def _starts_with_marker(text: str) -> bool:
    return any(p.match(text) for _, p in _HEADING_PATTERNS)


_REVIEW_HEADING = re.compile(r"回顾|总结|过去|成绩|主要工作情况")
_PLAN_HEADING = re.compile(r"安排|计划|工作任务|主要工作|总体要求|目标任务|今年|明年|发展思路")
_PLAN_INTRO = re.compile(rf"(?:今年|明年|新的一年|新一年|{YEAR}年)是|总体要求是|主要预期目标")


def _heading_period(top: str) -> str:
    if _REVIEW_HEADING.search(top):
        return "review"
    if _PLAN_HEADING.search(top):
        return "plan"
    return ""


def assign_periods(sentences: list[Sentence]) -> list[str]:
    """Label each sentence "review" (results of past years), "plan" (targets) or "" (preamble/unknown).

    Top-level headings decide where they exist (一、2017年工作回顾 / 二、2018年工作安排 / 名词解释);
    reports without such headings switch from review to plan at the first plan introduction
    ("今年是…", "主要预期目标是…"), and what precedes it is a review only if there is a substantial amount.
    """
    tops = [s.section.split(" > ")[0] if s.section else "" for s in sentences]
    if any(_heading_period(t) for t in tops):
        return [_heading_period(t) for t in tops]
    flip = next((i for i, s in enumerate(sentences) if _PLAN_INTRO.search(s.text)), None)
    if flip is None:
        return ["" for _ in sentences]
    before = sum(s.end - s.start for s in sentences[:flip])
    total = sum(s.end - s.start for s in sentences) or 1
    head = "review" if before > 0.15 * total else ""
    return [head if i < flip else "plan" for i in range(len(sentences))]


def _path_str(path: list[tuple[int, str]]) -> str:
    return " > ".join(title for _, title in path)


def chunk_document(document: Document, *, chunk_size: int = 240, overlap: int = 1) -> list[Chunk]:
    """Group consecutive sentences of one section into chunks of about chunk_size characters.

    Chunks never cross a section boundary; `overlap` sentences are repeated between neighbours so a
    fact that straddles two chunks is whole in at least one.
    """
    text = document.text
    chunks: list[Chunk] = []
    group: list[tuple[Sentence, str]] = []

    def flush() -> None:
        if not group:
            return
        start, end = group[0][0].start, group[-1][0].end
        periods = [p for _, p in group if p]
        chunks.append(
            Chunk(
                chunk_id=f"{document.doc_id}#{len(chunks)}",
                doc_id=document.doc_id,
                text=text[start:end],
                start=start,
                end=end,
                section=group[-1][0].section,
                ordinal=len(chunks),
                period=periods[-1] if periods else "",
            )
        )

    sentences = _bounded(document_sentences(text), chunk_size * 2)
    for sentence, period in zip(sentences, assign_periods(sentences), strict=True):
        last = group[-1][0] if group else None
        if last is not None and ((last.section != sentence.section and not last.is_heading) or group[-1][1] != period):
            flush()
            group = []
        elif group and sentence.end - group[0][0].start > chunk_size:
            flush()
            keep = group[-overlap:] if overlap and len(group) > overlap else []
            group = [g for g in keep if not g[0].is_heading]
        group.append((sentence, period))
    flush()
    return chunks


def _bounded(sentences: list[Sentence], limit: int) -> list[Sentence]:
    """Cut sentences longer than limit at commas (or hard) so no chunk grows unbounded."""
    out: list[Sentence] = []
    for s in sentences:
        if s.end - s.start <= limit:
            out.append(s)
            continue
        pos = 0
        body = s.text
        while pos < len(body):
            stop = min(pos + limit, len(body))
            if stop < len(body):
                comma = max(body.rfind(c, pos + limit // 2, stop) for c in ",，、")
                if comma > pos:
                    stop = comma + 1
            out.append(Sentence(body[pos:stop], s.start + pos, s.start + stop, s.section, s.is_heading))
            pos = stop
    return out
