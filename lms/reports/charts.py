"""Chart geometry from plain figures: no database, no Flask.

The dashboard and the monthly PDF draw the same two charts as inline SVG (templates/reports/
_charts.html): a horizontal bar per sub-unit (% of assigned training completed) and the
weekly line of the total's completion. These functions only place things in the SVG's
coordinate space and format the numbers in the reader's language; the numbers are also in
the page's table, the chart is the picture of them.

Both charts are narrow (400 units wide) with each bar's label above it, so that on a phone
the whole chart is still readable without scrolling.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Sequence

from babel.dates import format_date
from babel.numbers import format_decimal, format_percent

WIDTH = 400


# ---------------------------------------------------------------- numbers

def format_number(value: float | int | None, locale: str = "vi") -> str:
    """12.345 in Vietnamese, 12,345 in English; "–" for no value."""
    if value is None:
        return "–"
    return format_decimal(value, "#,##0.#", locale=locale)


def format_pct(value: float | None, locale: str = "vi") -> str:
    """A percentage given in points (45.5 -> "45,5%" in Vietnamese); "–" for no value."""
    if value is None:
        return "–"
    return format_percent(value / 100, "#,##0.#%", locale=locale)


def format_delta(value: float | None, locale: str = "vi") -> str:
    """A change in percentage points with its sign: "+2,5", "−1", "0"."""
    if value is None:
        return "–"
    if abs(value) < 0.05:
        return format_decimal(0, "0", locale=locale)
    sign = "+" if value > 0 else "−"
    return sign + format_decimal(abs(value), "#,##0.#", locale=locale)


def format_day(day: date, locale: str = "vi") -> str:
    """30/06/2025 in Vietnamese, "30 Jun 2025" in English."""
    return format_date(day, "dd/MM/y" if locale == "vi" else "d MMM y", locale=locale)


def format_short_day(day: date, locale: str = "vi") -> str:
    """30/06 in Vietnamese, "30 Jun" in English (chart axes)."""
    return format_date(day, "dd/MM" if locale == "vi" else "d MMM", locale=locale)


def shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


# ---------------------------------------------------------------- bars

@dataclass(frozen=True)
class Bar:
    label: str          # as drawn (shortened)
    full_label: str     # in the bar's <title>
    value: float | None
    value_text: str
    label_y: float      # baseline of the label line (the value is at its right end)
    y: float            # top of the bar
    width: float        # the bar's length (0 when there is no value)


@dataclass(frozen=True)
class BarChart:
    title: str
    width: int
    height: int
    track: float        # the length of 100 %
    bar_height: float
    bars: tuple[Bar, ...]
    marks: tuple[float, ...]    # x of 25 %, 50 %, 75 %: thin separators across each bar


def bar_chart(items: Sequence[tuple[str, float | None]], title: str,
              locale: str = "vi", width: int = WIDTH, label_chars: int = 52) -> BarChart:
    """One bar per (label, % completed or None), 0–100 % left to right.

    Each row is a line with the label and, at its right end, the value; the bar is under it."""
    track = float(width)
    label_line, bar_height, gap = 16.0, 12.0, 9.0
    row = label_line + bar_height + gap
    bars = []
    for index, (label, value) in enumerate(items):
        top = 2 + index * row
        clipped = None if value is None else max(0.0, min(100.0, value))
        bars.append(Bar(label=shorten(label, label_chars), full_label=label, value=value,
                        value_text=format_pct(value, locale), label_y=top + 12,
                        y=top + label_line, width=0.0 if clipped is None else
                        round(track * clipped / 100, 2)))
    height = int(2 + len(bars) * row - gap + 2) if bars else 20
    marks = tuple(round(track * p / 100, 2) for p in (25, 50, 75))
    return BarChart(title=title, width=width, height=height, track=track, bar_height=bar_height,
                    bars=tuple(bars), marks=marks)


# ---------------------------------------------------------------- line

@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str          # the week's date, as printed
    value_text: str


@dataclass(frozen=True)
class LineChart:
    title: str
    width: int
    height: int
    left: float
    top: float
    plot_width: float
    plot_height: float
    segments: tuple[str, ...]                   # SVG polyline "x,y x,y …" runs (gaps: no data)
    points: tuple[Point, ...]
    y_ticks: tuple[tuple[float, str], ...]      # (y, "50%")
    x_labels: tuple[tuple[float, str], ...]     # (x, "30/06")

    @property
    def bottom(self) -> float:
        return self.top + self.plot_height

    @property
    def right(self) -> float:
        return self.left + self.plot_width

    @property
    def last(self) -> Point | None:
        return self.points[-1] if self.points else None


def line_chart(series: Sequence[tuple[str, float | None]], title: str, locale: str = "vi",
               width: int = WIDTH, height: int = 190, max_labels: int = 6) -> LineChart:
    """The % completed at each week's end (label, value or None), on a 0–100 % scale.

    A week with nothing assigned yet has no point; the line breaks there."""
    left, top, right_pad, bottom_pad = 40.0, 10.0, 24.0, 26.0
    plot_width = width - left - right_pad
    plot_height = height - top - bottom_pad
    count = len(series)
    step = plot_width / (count - 1) if count > 1 else 0.0

    def x_of(index: int) -> float:
        return round(left + (index * step if count > 1 else plot_width / 2), 2)

    def y_of(value: float) -> float:
        return round(top + plot_height * (1 - max(0.0, min(100.0, value)) / 100), 2)

    points: list[Point] = []
    segments: list[str] = []
    run: list[str] = []
    for index, (label, value) in enumerate(series):
        if value is None:
            if run:
                segments.append(" ".join(run))
            run = []
            continue
        point = Point(x=x_of(index), y=y_of(value), label=label,
                      value_text=format_pct(value, locale))
        points.append(point)
        run.append(f"{point.x},{point.y}")
    if run:
        segments.append(" ".join(run))
    every = max(1, -(-count // max_labels))
    # Label the last week always, and every n-th one counting back from it.
    x_labels = tuple((x_of(i), label) for i, (label, _) in enumerate(series)
                     if (count - 1 - i) % every == 0)
    y_ticks = tuple((y_of(p), format_pct(p, locale)) for p in (0, 25, 50, 75, 100))
    return LineChart(title=title, width=width, height=height, left=left, top=top,
                     plot_width=plot_width, plot_height=plot_height,
                     segments=tuple(s for s in segments if s), points=tuple(points),
                     y_ticks=y_ticks, x_labels=x_labels)
