"""Page furniture: the lines a web page puts around a report, and the banners it repeats down the page.

Breadcrumbs, share and print links, portal metadata blocks, footers and licence notices are removed line by
line (prose never is); a banner seen three or more times keeps one copy. What goes is reported as furniture.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from rag.text.offsets import Edit, lines_with_offsets

# --- web furniture -------------------------------------------------------------------------------

_BULLET = re.compile(r"^[-•·*]\s*")
_FURNITURE_RULES: tuple[tuple[re.Pattern[str], int], ...] = (
    # (pattern searched in the stripped line, longest line it may remove)
    (re.compile(r"^(?:您|你)?(?:当前|现在)?(?:所在)?(?:的)?位置\s*[:：]"), 200),
    (re.compile(r"首页\s*(?:>|›|»|＞|→|/)"), 200),
    (re.compile(r"^(?:分享到|分享至|转发到|一键分享)"), 60),
    (re.compile(r"^(?:浏览|阅读|点击|访问)(?:量|数|率|次数|总数|人数|人次)?\s*[:：]"), 60),
    (re.compile(r"^(?:发布|更新|发表)(?:日期|时间)\s*[:：]"), 120),
    (re.compile(r"^(?:时间|日期|来源|信息来源|文章来源|作者|编辑|责任编辑|撰稿|供稿|字号|字体)\s*[:：]"), 80),
    (re.compile(r"^\d+(?:\.\d+)?\s*(?:KB|MB|K|M|页|字|次下载)\s*\|?$", re.I), 30),
    (
        re.compile(
            r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?\s*(?:发布|上传|更新)?\s*\|?$"
        ),
        40,
    ),
    (re.compile(r"^(?:上一篇|下一篇|上一条|下一条|上一页|下一页)"), 100),
    (re.compile(r"^(?:[-—–]\s*)?\d{1,4}\s*[-—–]$|^第\s*\d+\s*页(?:\s*[,，/]?\s*共\s*\d+\s*页)?$"), 20),
    (re.compile(r"^(?:相关(?:文章|链接|阅读|新闻|文档|推荐|信息)|热门(?:文章|推荐)|推荐阅读|猜你喜欢)"), 60),
    (
        re.compile(
            r"ICP备|ICP证|公网安备|网站标识码|版权所有|Copyright|©|联系我们|友情链接|站点地图|网站地图|网站声明"
        ),
        200,
    ),
    (re.compile(r"^(?:主办|主管)(?:单位)?\s*[:：].*(?:承办|协办|技术支持|运维|维护|ICP|网站)"), 200),
    (
        re.compile(r"^(?:申明敬告|免责声明|温馨提示|导语)\s*[:：]|不代表本站|本站不保证|网友上传|可咨询客服"),
        300,
    ),
    (
        re.compile(r"^(?:文档介绍|查看更多|展开全文|阅读全文|点击查看全文|全文阅读|下载文档|立即下载|收起)$"),
        10,
    ),
)
_LINK_WORDS = re.compile(
    r"打印本页|打印|关闭窗口|关闭|返回顶部|返回|顶部|收藏本页|收藏|加入收藏|字号|字体|[大中小]|默认"
)
_LINK_JUNK = re.compile(r"[\s?？|｜【】\[\]()（）·/:：]+")
_TRAILING_MORE = re.compile(r"\s*(?:查看更多|展开全文|阅读全文|点击查看全文)\s*$")
_SOURCE_BEFORE_DATE = re.compile(r"^\s*来源\s*[:：]\s*[^\n]{1,30}?(?=\d{4}年\d{1,2}月\d{1,2}日)")
_PORTAL_LABELS = (
    "索引号", "文件编号", "发布日期", "发布时间", "发文字号", "文号", "成文日期", "发文日期", "发布机构", "发文机关", "发文单位",
    "有效性", "公开方式", "公开范围", "公开日期", "公开时限", "主题分类", "体裁分类", "组配分类", "主题词",
    "内容概述", "信息名称", "生效日期", "废止日期", "所属机构", "名称", "分类",
)  # fmt: skip
_WEAK_LABELS = {"名称", "分类", "文号"}
_LABEL_ALT = "|".join(r"\s*".join(label) for label in sorted(_PORTAL_LABELS, key=len, reverse=True))
_PORTAL_LABEL = re.compile(rf"(?:{_LABEL_ALT})\s*[:：]")
_PORTAL_START = re.compile(rf"^(?P<label>{_LABEL_ALT})\s*[:：]\s*(?P<value>.*)$")


def _looks_like_prose(line: str) -> bool:
    """A report sentence: never removed by the label rules."""
    return len(line) >= 60 and (line[-1] in "。！？!?；;" or line.count("。") >= 2)


def furniture_edits(text: str, furniture: list[str]) -> list[Edit]:
    """Edits removing furniture lines; the removed text is appended to `furniture`."""
    lines = lines_with_offsets(text)
    tail = _tail_notice_start(lines)
    body, edits = lines[:tail], []
    if tail < len(lines):
        furniture.append(" ".join(line.strip() for _, line in lines[tail:] if line.strip()))
        edits.append((lines[tail][0], len(text), ""))
    dropped: set[int] = set()
    pending_label: str | None = None
    for n, (start, raw_line) in enumerate(body):
        line = raw_line.strip()
        if not line:
            continue
        key = _BULLET.sub("", line)
        end = start + len(raw_line) + 1  # with its newline, so no blank line is left behind
        if pending_label is not None:
            label, pending_label = pending_label, None
            if len(key) <= 40 and "。" not in key and not _PORTAL_START.match(key):
                furniture.append(f"{label}: {key}")
                edits.append((start, end, ""))
                dropped.add(n)
                continue
            furniture.append(f"{label}:")
        portal = _PORTAL_START.match(key)
        if portal and _is_portal_line(key, portal.group("label")):
            if portal.group("value").strip():
                furniture.append(key)
            else:  # the value is on the next line ("- 索引号:" / "- 2102000003/2016-07601")
                pending_label = re.sub(r"\s+", "", portal.group("label"))
            edits.append((start, end, ""))
            dropped.add(n)
            continue
        source = _SOURCE_BEFORE_DATE.match(raw_line)
        if source:  # "来源：某某日报2025年1月17日在…会议上": keep the delivery line
            furniture.append(source.group().strip())
            edits.append((start, start + source.end(), ""))
            continue
        if _is_furniture_line(key):
            furniture.append(line)
            edits.append((start, end, ""))
            dropped.add(n)
            continue
        more = _TRAILING_MORE.search(raw_line)
        if more and more.start() > 0:
            furniture.append(more.group().strip())
            edits.append((start + more.start(), start + more.end(), ""))
    return edits + _trailing_edits(body, dropped, furniture)


def _is_portal_line(key: str, label: str) -> bool:
    labels = len(_PORTAL_LABEL.findall(key))
    if re.sub(r"\s+", "", label) in _WEAK_LABELS:
        return labels >= 2
    return labels >= 2 or len(key) <= 60


def _is_furniture_line(key: str) -> bool:
    prose = _looks_like_prose(key)
    for pattern, max_len in _FURNITURE_RULES:
        if len(key) <= max_len and pattern.search(key):
            if prose and max_len < 300:  # only the site-notice rule may remove a sentence-like line
                continue
            return True
    if len(key) <= 60 and re.search(r"打印|关闭|返回顶部|收藏", key):
        return not _LINK_JUNK.sub("", _LINK_WORDS.sub("", key))
    return False


def _trailing_edits(lines: list[tuple[int, str]], dropped: set[int], furniture: list[str]) -> list[Edit]:
    """Drop what is left at the very end of a page: empty labels ("附件:"), template words ("Public domain")."""
    edits: list[Edit] = []
    for n in range(len(lines) - 1, -1, -1):
        start, raw_line = lines[n]
        line = raw_line.strip()
        if n in dropped or not line:
            continue
        empty_label = _EMPTY_LABEL.fullmatch(line) is not None
        template_word = len(line) <= 20 and re.fullmatch(r"[A-Za-z][A-Za-z .:/-]*", line) is not None
        if not (empty_label or template_word):
            break
        furniture.append(line)
        edits.append((start, start + len(raw_line) + 1, ""))
    return edits


_EMPTY_LABEL = re.compile(
    r"(?:(?:相关)?附件(?:下载)?|标签|关键词|责任编辑|编辑|来源|分享到?|扫一扫[^:：]{0,6})\s*[:：]"
)
_TAIL_NOTICE = re.compile(r"^(?:本作品(?:是|来自|在全世界|属于)|注[:：]中文维基文库|Public domain)")


def _tail_notice_start(lines: list[tuple[int, str]]) -> int:
    """Index of a licence notice near the end (维基文库 "本作品是…属于公有领域") followed only by short lines."""
    first = max(len(lines) - 40, 0)
    for n in range(first, len(lines)):
        if _TAIL_NOTICE.match(lines[n][1].strip()):
            if all(len(line.strip()) <= 150 for _, line in lines[n:]):
                return n
            break
    return len(lines)


# --- repeated banners -----------------------------------------------------------------------------

_REPEATED_FRAGMENT = re.compile(r"(?P<frag>[^\n]{6,100}?)(?:\s*(?P=frag)){2,}")


def repetition_edits(text: str, furniture: list[str]) -> list[Edit]:
    """Keep one copy of a banner repeated three or more times (whole lines or fragments inside a line)."""
    lines = lines_with_offsets(text)
    counts = Counter(s for s in (line.strip() for _, line in lines) if _is_banner_candidate(s))
    seen: set[str] = set()
    removed: set[str] = set()
    recent: list[str] = []
    edits: list[Edit] = []
    for start, raw_line in lines:
        line = raw_line.strip()
        if not line:
            continue
        if counts.get(line, 0) >= 3:
            if line in seen:
                if line not in removed:
                    removed.add(line)
                    furniture.append(f"repeated banner: {line}")
                edits.append((start, start + len(raw_line) + 1, ""))
                continue
            seen.add(line)
        elif " | " not in line and _has_repeated_ngram(line):  # table rows may repeat cells
            edits += _fragment_edits(start, raw_line, recent, furniture)
        recent = [*recent[-2:], line]
    banners = sorted((b for b, c in counts.items() if c >= 3), key=len, reverse=True)
    for start, raw_line in lines:
        prefix = raw_line.lstrip()
        for banner in banners:  # a last copy glued to the first sentence ("标题 XX年,全区上下…")
            if prefix.startswith(banner + " ") and len(prefix) > len(banner) + 1:
                cut = len(raw_line) - len(prefix) + len(banner) + 1
                edits.append((start, start + cut, ""))
                break
    return edits


def _is_banner_candidate(line: str) -> bool:
    return (
        4 <= len(line) <= 40
        and " | " not in line
        and line[-1] not in "。！？；;:：,，"
        and re.search(r"[\u4e00-\u9fff]", line) is not None
    )


def _has_repeated_ngram(line: str, n: int = 6, stride: int = 3) -> bool:
    """Cheap pre-check for _REPEATED_FRAGMENT: a sampled n-gram recurs twice at the same short period."""
    for i in range(0, len(line) - 3 * n + 1, stride):
        gram = line[i : i + n]
        j = line.find(gram, i + 1, i + 110)
        if j > 0 and line.startswith(gram, 2 * j - i):
            return True
    return False


def _fragment_edits(start: int, raw_line: str, recent: Sequence[str], furniture: list[str]) -> list[Edit]:
    edits: list[Edit] = []
    for m in _REPEATED_FRAGMENT.finditer(raw_line):
        frag = m.group("frag").strip()
        if not re.search(r"[\u4e00-\u9fff]", frag) or len(frag) < 6:
            continue
        furniture.append(f"repeated banner: {frag}")
        if frag in recent:  # the title line above already carries it
            edits.append((start + m.start(), start + m.end(), ""))
        else:
            keep_end = m.start() + len(m.group("frag"))
            edits.append((start + keep_end, start + m.end(), ""))
    return edits
