"""The report's charts as geometry (bars, histogram columns); eval/templates/charts.html.j2 draws them as SVG."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_ROW, _TOP, _LABEL_W = 24, 28, 150


@dataclass(frozen=True)
class Bar:
    """One labelled bar; ``length`` is None for a value without data (drawn as n/a)."""

    label: str
    y: int
    length: float | None
    value_text: str


@dataclass(frozen=True)
class BarChart:
    """A horizontal bar chart: labels left of a plot ``plot_w`` wide, values right of it."""

    title: str
    width: int
    height: int
    label_w: int
    plot_w: int
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class Column:
    """One bin of a histogram: its box and how many values fell into it."""

    x: float
    y: float
    width: float
    height: float
    count: int


@dataclass(frozen=True)
class Histogram:
    """A histogram with its axis (``base`` is the y of the x axis); no columns when there are no values."""

    title: str
    width: int
    height: int
    left: int
    top: int
    plot_w: int
    base: int
    lo: float
    hi: float
    peak: int
    columns: tuple[Column, ...]


def bar_chart(
    title: str, bars: Sequence[tuple[str, float | None]], *, percent: bool = True, width: int = 420
) -> BarChart:
    """Bars scaled to 100% (``percent``) or to the largest value."""
    height = _TOP + _ROW * max(len(bars), 1) + 8
    plot_w = width - _LABEL_W - 60
    top_value = 1.0 if percent else max([v for _, v in bars if v is not None] or [1.0]) or 1.0
    drawn = []
    for i, (label, value) in enumerate(bars):
        y = _TOP + i * _ROW
        if value is None:
            drawn.append(Bar(label, y, None, "n/a"))
            continue
        length = max(0.0, min(1.0, value / top_value)) * plot_w
        drawn.append(Bar(label, y, length, f"{100 * value:.0f}%" if percent else f"{value:.0f}"))
    return BarChart(title, width, height, _LABEL_W, plot_w, tuple(drawn))


def histogram(title: str, values: Sequence[float], *, bins: int = 12, width: int = 420) -> Histogram:
    """Values counted into ``bins`` equal bins between their minimum and maximum."""
    height, left, bottom, top = 200, 36, 30, 28
    plot_w, plot_h = width - left - 10, height - top - bottom
    base = top + plot_h
    if not values:
        return Histogram(title, width, height, left, top, plot_w, base, 0.0, 0.0, 0, ())
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - lo) / span * bins))] += 1
    peak = max(counts)
    bar_w = plot_w / bins
    columns = []
    for i, c in enumerate(counts):
        h = plot_h * c / peak
        columns.append(Column(left + i * bar_w + 1, top + plot_h - h, bar_w - 2, h, c))
    return Histogram(title, width, height, left, top, plot_w, base, lo, hi, peak, tuple(columns))


def accuracy_bars(groups: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, float | None]]:
    """Answer accuracy per group; groups with only unanswerable questions show their rejection rate."""
    bars: list[tuple[str, float | None]] = []
    for name, summary in groups.items():
        if summary.get("answerable") == 0 and summary.get("unanswerable"):
            bars.append((f"{name} (rej.)", summary.get("rejection_rate")))
        else:
            bars.append((name, summary.get("answer_accuracy")))
    return bars
