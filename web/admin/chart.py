"""Bar charts as inline SVG, built on the server: no script, nothing fetched, nothing the CSP
blocks (presentation attributes such as fill="…", never style="…").

Each chart is an <svg> with a <title> and <desc> (named by aria-labelledby, so a screen reader
reads them), each bar a <rect> whose <title> is its tooltip with the day and the number. The
page shows the same numbers in a table beside it (`rows`).

Pure functions of the numbers: counts are ints, money is Decimal, and the geometry is Decimal
too, so no amount ever passes through a float.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Callable

from markupsafe import Markup, escape

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 72, 8, 24, 24
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
INK, GRID = "#555", "#ddd"
MAX_SLOT = 48
_PX = Decimal("0.1")


@dataclass(frozen=True)
class Series:
    name: str
    values: tuple      # one number per day (int or Decimal; None counts as 0)
    fill: str          # an SVG colour


def nice_ceiling(value) -> Decimal:
    """The axis top: the smallest 1, 2 or 5 × 10^n at or above `value` (1 for nothing)."""
    value = Decimal(value)
    if value <= 0:
        return Decimal(1)
    step = Decimal(1).scaleb(value.adjusted())       # 10^n at or below value
    return next(step * factor for factor in (1, 2, 5, 10) if step * factor >= value)


def _px(value: Decimal) -> str:
    return str(value.quantize(_PX, rounding=ROUND_HALF_UP))


def _plain(value) -> str:
    """An axis number: no exponent, no trailing zeros (2E+3 → 2000, 0.50 → 0.5)."""
    return format(Decimal(value).normalize(), "f")


def bar_chart(svg_id: str, title: str, days: list[date], series: list[Series], *,
              label: Callable[[object], str] = str, description: str = "") -> Markup:
    """One <svg>: a group of bars per day (one bar per series), a scale on the left, a few days
    named along the bottom, a legend when there are several series."""
    values = [Decimal(v or 0) for s in series for v in s.values]
    top = nice_ceiling(max(values, default=0))
    n = max(len(days), 1)
    # Narrow bars however few the days: one day is one bar, not a wall.
    slot = min(Decimal(PLOT_W) / n, Decimal(MAX_SLOT))
    bar_w = slot * Decimal("0.8") / max(len(series), 1)
    parts = [f'<svg id="{escape(svg_id)}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-labelledby="{escape(svg_id)}-title '
             f'{escape(svg_id)}-desc">',
             f'<title id="{escape(svg_id)}-title">{escape(title)}</title>',
             f'<desc id="{escape(svg_id)}-desc">{escape(description or _describe(days, series, label))}</desc>']
    for fraction in (Decimal(0), Decimal("0.5"), Decimal(1)):
        y = TOP + PLOT_H - PLOT_H * fraction
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{_px(y)}" y2="{_px(y)}" stroke="{GRID}" '
                     'stroke-width="1"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{_px(y + 4)}" text-anchor="end" font-size="11" fill="{INK}">'
                     f'{escape(_plain(top * fraction))}</text>')
    for i, day in enumerate(days):
        x0 = LEFT + slot * i + slot * Decimal("0.1")
        for k, s in enumerate(series):
            value = Decimal(s.values[i] or 0) if i < len(s.values) else Decimal(0)
            height = Decimal(PLOT_H) * value / top
            parts.append(f'<rect x="{_px(x0 + bar_w * k)}" y="{_px(TOP + PLOT_H - height)}" width="{_px(bar_w)}" '
                         f'height="{_px(height)}" fill="{escape(s.fill)}"><title>{escape(day.isoformat())} · '
                         f'{escape(s.name)}: {escape(label(s.values[i] if i < len(s.values) else 0))}</title></rect>')
        # Every 7th day back from the last, and the first unless it would crowd the next label.
        if (len(days) - 1 - i) % 7 == 0 or (i == 0 and (len(days) - 1) % 7 >= 3):
            parts.append(f'<text x="{_px(LEFT + slot * i + slot / 2)}" y="{HEIGHT - 6}" text-anchor="middle" '
                         f'font-size="11" fill="{INK}">{escape(day.strftime("%m-%d"))}</text>')
    if not days or not any(values):
        parts.append(f'<text x="{LEFT + PLOT_W // 2}" y="{TOP + PLOT_H // 2}" text-anchor="middle" font-size="13" '
                     f'fill="{INK}">nothing in these days</text>')
    if len(series) > 1:
        x = WIDTH - RIGHT - 150 * len(series)
        for k, s in enumerate(series):
            parts.append(f'<rect x="{x + 150 * k}" y="6" width="10" height="10" fill="{escape(s.fill)}"/>'
                         f'<text x="{x + 150 * k + 14}" y="15" font-size="11" fill="{INK}">{escape(s.name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _describe(days: list[date], series: list[Series], label) -> str:
    if not days:
        return "no days"
    totals = ", ".join(f"{s.name} {label(sum((Decimal(v or 0) for v in s.values), Decimal(0)))}" for s in series)
    return f"{len(days)} day{'s' if len(days) != 1 else ''}, {days[0].isoformat()} to {days[-1].isoformat()}; in all: {totals}"


def rows(days: list[date], series: list[Series]) -> list[tuple]:
    """(day, value of each series) per day: the table beside the chart."""
    return [(day, *[s.values[i] if i < len(s.values) else 0 for s in series]) for i, day in enumerate(days)]
