"""rag/loading/markdown.py: Markdown syntax goes, words stay, the first heading is the title."""

from __future__ import annotations

from pathlib import Path

from loading_helpers import only_doc


def test_markdown_is_stripped_lightly(tmp_path: Path) -> None:
    path = tmp_path / "report.md"
    path.write_text(
        "# 海珠区2018年政府工作报告\n\n## 一、2017年工作回顾\n\n- 实现**地区生产总值**1740.31亿元,见[附件](a.html)。\n"
        + "> 引用的一句话。\n\n---\n",
        encoding="utf-8",
    )
    doc = only_doc(path)
    assert (
        doc.text
        == "海珠区2018年政府工作报告\n\n一、2017年工作回顾\n\n实现地区生产总值1740.31亿元,见附件。\n引用的一句话。"
    )
    assert doc.meta.title == "海珠区2018年政府工作报告" and doc.meta.review_years == (2017,)

