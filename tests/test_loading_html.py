"""rag/loading/html.py: the visible text of a page, its title, and its declared charset."""

from __future__ import annotations

from pathlib import Path

from loading_helpers import only_doc


def test_html_drops_scripts_navigation_and_footer(tmp_path: Path) -> None:
    html = """<html><head><title>海珠区2018年政府工作报告_广州市海珠区人民政府</title>
<script>var x = "不要我";</script><style>p {color: red}</style></head><body>
<nav>首页 | 政务公开</nav><header>网站头部</header>
<div class="content"><p>一、2017年工作回顾</p><p>实现地区生产总值1740.31亿元,<b>同比增长7.6%</b>。</p>
<table><tr><td>指标</td><td>数值</td></tr></table><br>二、2018年工作安排</div>
<footer>联系我们 粤ICP备05083207号</footer></body></html>"""
    path = tmp_path / "report.html"
    path.write_text(html, encoding="utf-8")
    doc = only_doc(path)
    assert doc.meta.title == "海珠区2018年政府工作报告"
    assert "实现地区生产总值1740.31亿元,同比增长7.6%。" in doc.text
    assert "一、2017年工作回顾\n" in doc.text and "指标 数值" in doc.text
    for hidden in ("不要我", "color", "首页", "网站头部", "ICP"):
        assert hidden not in doc.text
    assert doc.meta.review_years == (2017,) and doc.meta.plan_year == 2018


def test_html_with_declared_gbk_charset(tmp_path: Path) -> None:
    html = '<html><head><meta charset="gb2312"><title>沙河口区政府工作报告</title></head><body><p>各位代表：</p></body></html>'
    path = tmp_path / "page.htm"
    path.write_bytes(html.encode("gbk"))
    doc = only_doc(path)
    assert doc.text == "各位代表："
    assert doc.meta.region == "沙河口区"

