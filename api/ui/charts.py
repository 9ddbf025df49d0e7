"""Charts as geometry: pixel positions computed here from query rows, drawn as inline SVG by the template
macro `charts.html` (no script, no chart library).

Every data point is one SVG element of class `mark` with `data-key` (the day, the run id, the node...):
a test counts them, a user hovers one for its `<title>`. A chart is an `XYChart` (values over a continuous x:
days or times; bars, dots or a line), a `BarChart` (one horizontal bar per category) or a `Timeline` (dbt
nodes as bars from their start to their end, packed into lanes the way dbt's threads ran them).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from api.ui.formatting import compact, number, seconds

WIDTH = 960  # the SVG's coordinate width; CSS scales it to the page
PLOT_HEIGHT = 220
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 64, 16, 12, 36
BAR_ROW = 22  # pixels per category of a BarChart, per lane of a Timeline
BAR_LABEL_WIDTH = 220  # pixels left of a BarChart's bars for the category names
BAR_NOTE_WIDTH = 90  # pixels right of a BarChart's longest bar for its value


@dataclass(frozen=True)
class Tick:
    """A labelled position on an axis (pixels)."""

    at: float
    label: str


@dataclass(frozen=True)
class Mark:
    """One data point as drawn: a bar (x, y, width, height) or a dot centred at (x, y); `key` identifies the
    point (data-key), `value` is what it shows (data-value), `title` is its tooltip, `css` extra classes (a
    status)."""

    x: float
    y: float
    width: float
    height: float
    key: str
    title: str
    value: float
    css: str = ""
    note: str = ""  # the value written beside a bar of a BarChart


@dataclass(frozen=True)
class Layer:
    """The points of one series, all drawn alike: `bars` and `dots` (an element per point), or a `line` (one
    polyline through the points, which says how many it has in `data-points`)."""

    name: str
    kind: Literal["bars", "dots", "line"]
    css: str
    marks: tuple[Mark, ...]

    @property
    def points(self) -> str:
        """The polyline of a `line` layer: `x,y x,y ...`."""
        return " ".join(f"{m.x:.1f},{m.y:.1f}" for m in self.marks)


@dataclass(frozen=True)
class XYChart:
    """Values over a continuous x axis."""

    chart_id: str
    title: str
    width: int
    height: int
    plot: tuple[float, float, float, float]  # left, top, right, bottom (pixels)
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    layers: tuple[Layer, ...]
    kind: Literal["xy"] = "xy"

    @property
    def size(self) -> int:
        """How many points the chart draws (every layer)."""
        return sum(len(layer.marks) for layer in self.layers)


@dataclass(frozen=True)
class BarChart:
    """One horizontal bar per category, longest first as given."""

    chart_id: str
    title: str
    width: int
    height: int
    plot: tuple[float, float, float, float]  # left, top, right, bottom of the bars (pixels)
    label_x: float  # right edge of the category names
    x_ticks: tuple[Tick, ...]
    labels: tuple[Tick, ...]  # category names at their row's centre (y)
    layers: tuple[Layer, ...]
    kind: Literal["bars"] = "bars"

    @property
    def size(self) -> int:
        """How many bars."""
        return sum(len(layer.marks) for layer in self.layers)


@dataclass(frozen=True)
class Timeline:
    """Intervals (dbt nodes) from start to end, packed into lanes."""

    chart_id: str
    title: str
    width: int
    height: int
    plot: tuple[float, float, float, float]
    x_ticks: tuple[Tick, ...]
    layers: tuple[Layer, ...]
    lanes: int
    kind: Literal["timeline"] = "timeline"

    @property
    def size(self) -> int:
        """How many intervals."""
        return sum(len(layer.marks) for layer in self.layers)


Chart = XYChart | BarChart | Timeline


@dataclass(frozen=True)
class Series:
    """Input of `xy_chart`: one value (None: a gap) per x of the chart, drawn as `kind` with class `css`."""

    name: str
    kind: Literal["bars", "dots", "line"]
    css: str
    values: Sequence[float | None]
    titles: Sequence[str] = field(default_factory=tuple)  # a tooltip per value (default: the value)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About `count` round values (steps of 1, 2 or 5 times a power of ten) spanning low..high."""
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first, last = math.floor(low / step), math.ceil(high / step)
    return [round(n * step, 12) for n in range(first, last + 1)]


def _scale(low: float, high: float, start: float, end: float) -> Callable[[float], float]:
    span = (high - low) or 1.0
    return lambda value: start + (value - low) / span * (end - start)


def as_number(x: date | datetime | float) -> float:
    """An x value as a float: a date as its day number, a datetime as epoch seconds."""
    if isinstance(x, datetime):
        return x.timestamp()
    if isinstance(x, date):
        return float(x.toordinal())
    return float(x)


def date_ticks(xs: Sequence[date], count: int = 8) -> list[tuple[float, str]]:
    """Ticks at the first day of months (or of years over long spans), about `count` of them."""
    if not xs:
        return []
    first, last = xs[0], xs[-1]
    months = (last.year - first.year) * 12 + last.month - first.month + 1
    every = max(1, math.ceil(months / count))
    ticks = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        day = date(year, month, 1)
        if day >= first and (month - 1) % every == 0:
            ticks.append((float(day.toordinal()), f"{year}-{month:02d}"))
        month += 1
        if month == 13:
            year, month = year + 1, 1
    return ticks


def time_ticks(xs: Sequence[datetime], count: int = 6) -> list[tuple[float, str]]:
    """Evenly spaced ticks over the times, labelled `MM-DD HH:MM` (UTC)."""
    if not xs:
        return []
    low, high = as_number(xs[0]), as_number(xs[-1])
    if high == low:
        return [(low, f"{xs[0]:%m-%d %H:%M}")]
    step = (high - low) / (count - 1)
    return [
        (low + i * step, f"{datetime.fromtimestamp(low + i * step, xs[0].tzinfo):%m-%d %H:%M}") for i in range(count)
    ]


def xy_chart(
    chart_id: str,
    title: str,
    xs: Sequence[date | datetime | float],
    series: Sequence[Series],
    keys: Sequence[str],
    x_ticks: Sequence[tuple[float, str]] = (),
    y_format: Callable[[float], str] = compact,
) -> XYChart:
    """Series over the x values `xs` (ascending; one `keys` entry per x). The y axis starts at 0 (or the
    lowest value if negative) and ends at a round value above the highest. Bars are as wide as the x values
    are dense (for evenly spaced x: days)."""
    left, top = MARGIN_LEFT, MARGIN_TOP
    right, bottom = WIDTH - MARGIN_RIGHT, MARGIN_TOP + PLOT_HEIGHT
    numbers = [as_number(x) for x in xs]
    values = [v for s in series for v in s.values if v is not None]
    y_ticks_values = nice_ticks(min(0.0, *values) if values else 0.0, max(values) if values else 1.0)
    y = _scale(y_ticks_values[0], y_ticks_values[-1], bottom, top)
    pad = 0.5 if len(numbers) > 1 else 1.0  # half a step each side, so the first and last bar fit
    step = (numbers[-1] - numbers[0]) / (len(numbers) - 1) if len(numbers) > 1 else 1.0
    x = _scale(
        (numbers[0] if numbers else 0.0) - pad * step, (numbers[-1] if numbers else 1.0) + pad * step, left, right
    )
    bar_width = max(0.5, (right - left) / max(1, len(numbers)) * 0.8)
    layers = []
    for s in series:
        marks = []
        for i, value in enumerate(s.values):
            if value is None:
                continue
            tip = s.titles[i] if s.titles else f"{keys[i]}: {y_format(float(value))}"
            cx, cy = x(numbers[i]), y(float(value))
            if s.kind == "bars":
                zero = y(max(0.0, y_ticks_values[0]))
                top_y, height = min(cy, zero), abs(zero - cy)
                marks.append(Mark(cx - bar_width / 2, top_y, bar_width, height, keys[i], tip, float(value)))
            else:
                marks.append(Mark(cx, cy, 0, 0, keys[i], tip, float(value)))
        layers.append(Layer(s.name, s.kind, s.css, tuple(marks)))
    return XYChart(
        chart_id=chart_id,
        title=title,
        width=WIDTH,
        height=bottom + MARGIN_BOTTOM,
        plot=(left, top, right, bottom),
        x_ticks=tuple(Tick(x(at), label) for at, label in x_ticks if left <= x(at) <= right),
        y_ticks=tuple(Tick(y(v), y_format(v)) for v in y_ticks_values),
        layers=tuple(layers),
    )


def bar_chart(
    chart_id: str,
    title: str,
    rows: Sequence[tuple[str, str, float]],
    css: str = "bar",
    value_format: Callable[[float], str] = number,
    tick_format: Callable[[float], str] = compact,
) -> BarChart:
    """One horizontal bar per (key, label, value) row, in the given order, from 0 to the value, which is
    written beside it (`value_format`); the axis is labelled with `tick_format`."""
    label_x = BAR_LABEL_WIDTH
    left, right, top = label_x + 8, WIDTH - MARGIN_RIGHT - BAR_NOTE_WIDTH, MARGIN_TOP
    values = [value for _, _, value in rows]
    ticks = nice_ticks(min(0.0, *values) if values else 0.0, max(values) if values else 1.0)
    x = _scale(ticks[0], ticks[-1], left, right)
    zero = x(max(0.0, ticks[0]))
    marks, labels = [], []
    for i, (key, label, value) in enumerate(rows):
        row_top = top + i * BAR_ROW
        end = x(value)
        shown = value_format(value)
        bar = Mark(
            min(zero, end), row_top + 3, abs(end - zero), BAR_ROW - 6, key, f"{label}: {shown}", value, note=shown
        )
        marks.append(bar)
        labels.append(Tick(row_top + BAR_ROW / 2, label))
    bottom = top + len(rows) * BAR_ROW
    return BarChart(
        chart_id=chart_id,
        title=title,
        width=WIDTH,
        height=bottom + MARGIN_BOTTOM,
        plot=(left, top, right, bottom),
        label_x=label_x,
        x_ticks=tuple(Tick(x(v), tick_format(v)) for v in ticks),
        labels=tuple(labels),
        layers=(Layer(title, "bars", css, tuple(marks)),),
    )


@dataclass(frozen=True)
class Interval:
    """Input of `timeline`: one node, `start` and `seconds` from the run's first node start."""

    key: str
    label: str
    start: float
    seconds: float
    status: str


def timeline(chart_id: str, title: str, intervals: Sequence[Interval]) -> Timeline:
    """The intervals as bars on a time axis (seconds from the first start), each in the first lane free at
    its start (the threads dbt ran them on, as far as their times tell); a bar is at least 1 px wide."""
    ordered = sorted(intervals, key=lambda i: (i.start, i.key))
    lane_ends: list[float] = []
    lane_of: list[int] = []
    for item in ordered:
        lane = next((n for n, end in enumerate(lane_ends) if end <= item.start + 1e-6), None)
        if lane is None:
            lane_ends.append(0.0)
            lane = len(lane_ends) - 1
        lane_ends[lane] = item.start + item.seconds
        lane_of.append(lane)
    left, top, right = MARGIN_LEFT, MARGIN_TOP, WIDTH - MARGIN_RIGHT
    bottom = top + max(1, len(lane_ends)) * BAR_ROW
    ticks = nice_ticks(0.0, max(lane_ends, default=1.0) or 1.0, 8)
    x = _scale(0.0, ticks[-1], left, right)
    by_status: dict[str, list[Mark]] = {}
    for item, lane in zip(ordered, lane_of, strict=True):
        start, end = x(item.start), x(item.start + item.seconds)
        tip = f"{item.label}: {item.status}, {seconds(item.seconds)}"
        width = max(1.0, end - start)
        mark = Mark(start, top + lane * BAR_ROW + 2, width, BAR_ROW - 4, item.key, tip, item.seconds, item.status)
        by_status.setdefault(item.status, []).append(mark)
    return Timeline(
        chart_id=chart_id,
        title=title,
        width=WIDTH,
        height=bottom + MARGIN_BOTTOM,
        plot=(left, top, right, bottom),
        x_ticks=tuple(Tick(x(v), f"{v:g} s") for v in ticks),
        layers=tuple(Layer(status, "bars", f"node {status}", tuple(marks)) for status, marks in by_status.items()),
        lanes=len(lane_ends),
    )
