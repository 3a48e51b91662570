"""HTML pages: the visible text with block structure kept as newlines, and the part of a title that names the
report."""

from __future__ import annotations

import codecs
import re
from html.parser import HTMLParser

from rag.loading.decoding import decode_bytes

_SKIP_TAGS = {
    "script",
    "style",
    "nav",
    "header",
    "footer",
    "noscript",
    "template",
    "svg",
    "iframe",
    "form",
    "button",
}
_BLOCK_TAGS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "table",
               "ul", "ol", "blockquote", "pre", "hr", "dd", "dt", "dl", "main", "aside", "figure", "caption"}  # fmt: skip
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_-]+)""", re.I)


class _HtmlText(HTMLParser):
    """Visible text of a page with block structure kept as newlines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip_depth = 0
        self.title = ""
        self.h1 = ""
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self.skip_depth += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append(" ")
        if tag in ("title", "h1"):
            self._in = tag

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skip_depth = max(self.skip_depth - 1, 0)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")
        if tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "title":
            self.title += data
            return
        if self.skip_depth:
            return
        if self._in == "h1" and not self.h1:
            self.h1 = data.strip()
        self.parts.append(data)


def decode_html(data: bytes) -> str:
    """A page's text: its declared charset if that decodes it (GB2312/GBK as GB18030), else detected."""
    declared = _META_CHARSET.search(data[:4096])
    if declared and not data.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        codec = declared.group(1).decode("ascii").lower()
        codec = "gb18030" if codec in ("gb2312", "gbk") else codec
        try:
            return data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            pass  # a wrong declaration is common: fall back to detection
    return decode_bytes(data)


def html_text(html: str) -> tuple[str, str | None]:
    """The visible text of a page and a title hint (the <title> or first <h1> that names a report)."""
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    text = re.sub(r"[ \t]*\n[ \t\n]*\n", "\n\n", "".join(parser.parts))
    titles = [t for t in (_tidy_title(parser.title), _tidy_title(parser.h1)) if t]
    return text, next(
        (t for t in titles if re.search(r"报告|工作|计划|总结", t)), titles[0] if titles else None
    )


def _tidy_title(title: str) -> str | None:
    """The part of a page title that names the report (海珠区2018年政府工作报告_广州市海珠区人民政府 → 海珠区2018年政府工作报告)."""
    parts = [p.strip() for p in re.split(r"\s*[_|｜]\s*|\s+-\s+|\s+—\s+", title) if p.strip()]
    if not parts:
        return None
    return next((p for p in parts if re.search(r"报告|工作|计划|总结", p)), parts[0])
