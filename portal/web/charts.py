"""Charts drawn on the server: the geometry of SVG bar charts, which `templates/macros/charts.html` renders.

No script and no inline style (the CSP allows neither): bars carry classes (`series-N`) that
`static/css/postern.css` colours from the brand's CSS variables. The SVG scales with its viewBox; every chart
has a title, a description and, on the page, a table of the same numbers beside it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

WIDTH = 720  # viewBox units; the SVG is as wide as its container
HEIGHT = 240
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 10, 28
ROW = 22  # height of one horizontal bar's row
LABEL = 260  # room for the labels of horizontal bars
SERIES = 9  # distinct series classes (the reasons of the data-plane contract, and one more)


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: int
    value: int
    label: str  # what a pointer over the bar says (its <title>)


@dataclass(frozen=True)
class Text:
    x: float
    y: float
    text: str
    anchor: str = "middle"


@dataclass
class Chart:
    width: int
    height: int
    bars: list[Bar] = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)
    grid: list[float] = field(default_factory=list)  # y of the horizontal grid lines
    legend: list[tuple[int, str]] = field(default_factory=list)  # (series, name)
    total: int = 0


def nice_max(value: int) -> int:
    """The top of the axis: 1, 2 or 5 times a power of ten, at least `value` (and at least 1)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return max(1, step * factor)
        step *= 10


def stacked_days(days: list[date], series: list[str], values: dict[date, dict[str, int]],
                 names: dict[str, str] | None = None) -> Chart:
    """A bar per day, stacked by series (the reasons), with a y axis of four steps."""
    names = names or {}
    chart = Chart(WIDTH, HEIGHT, legend=[(i % SERIES, names.get(s, s)) for i, s in enumerate(series)])
    top = nice_max(max((sum(values.get(d, {}).values()) for d in days), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(days))
    bar_w = max(1.0, slot * 0.8)
    for step in range(5):
        y = TOP + plot_h - plot_h * step / 4
        chart.grid.append(round(y, 2))
        chart.texts.append(Text(LEFT - 4, round(y + 4, 2), f"{top * step // 4:,}", "end"))
    label_every = max(1, -(-len(days) // 8))
    for i, day in enumerate(days):
        x = LEFT + slot * i + (slot - bar_w) / 2
        base = TOP + plot_h
        for n, name in enumerate(series):
            value = values.get(day, {}).get(name, 0)
            if not value:
                continue
            h = plot_h * value / top
            base -= h
            chart.bars.append(Bar(round(x, 2), round(base, 2), round(bar_w, 2), round(h, 2), n % SERIES, value,
                                  f"{day.isoformat()} {names.get(name, name)}: {value:,}"))
            chart.total += value
        if i % label_every == 0:
            chart.texts.append(Text(round(LEFT + slot * i + slot / 2, 2), HEIGHT - 8, day.strftime("%m-%d")))
    return chart


def horizontal(rows: list[tuple[str, int]]) -> Chart:
    """A horizontal bar per row (top senders, top domains), longest first as given."""
    height = TOP + ROW * max(1, len(rows)) + 4
    chart = Chart(WIDTH, height)
    top = max((n for _, n in rows), default=0) or 1
    plot_w = WIDTH - LABEL - RIGHT - 60
    for i, (label, value) in enumerate(rows):
        y = TOP + ROW * i
        w = plot_w * value / top
        shown = label if len(label) <= 36 else label[:35] + "…"
        chart.texts.append(Text(LABEL - 6, y + 15, shown, "end"))
        chart.bars.append(Bar(LABEL, y + 3, round(max(w, 1.0), 2), ROW - 6, 0, value, f"{label}: {value:,}"))
        chart.texts.append(Text(round(LABEL + w + 6, 2), y + 15, f"{value:,}", "start"))
        chart.total += value
    return chart
