"""A bar chart of matched amounts with the day's exception count, as inline SVG.

Rendered on the server from plain numbers, so the console needs no JavaScript and works
offline. Everything is integer arithmetic (no floats in payments/). The chart is an image
for sighted readers (role="img", title and desc) and carries its numbers as text labels too,
so a screen reader or a printout loses nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

WIDTH = 720
HEIGHT = 260
LEFT = 12  # plot area margins
RIGHT = 12
TOP = 44
BOTTOM = 40
BAR_COLOUR = "#0b5cad"
EXCEPTION_COLOUR = "#c62828"
MUTED = "#666"


@dataclass(frozen=True)
class DayTotals:
    day: date
    matched_amount: int | None  # None: no run that day
    exceptions: int


@dataclass(frozen=True)
class ChartTexts:
    title: str
    desc: str
    matched: str  # legend label of the bars
    exceptions: str  # legend label of the dots
    no_run: str
    largest: str  # "max" before the largest amount in the legend


def day_chart(
    days: Sequence[DayTotals],
    texts: ChartTexts,
    money: Callable[[int], str],
    *,
    chart_id: str = "chart",
) -> str:
    """The SVG document fragment (escaped: safe to insert into HTML as is)."""
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    base = TOP + plot_h
    most_money = max((d.matched_amount or 0 for d in days), default=0)
    most_exceptions = max((d.exceptions for d in days), default=0)
    slot = plot_w // max(len(days), 1)
    bar_w = max(slot * 3 // 5, 2)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'class="chart" id="{chart_id}" font-family="system-ui, sans-serif" font-size="11">',
        f'<title id="{chart_id}-title">{escape(texts.title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(texts.desc)}</desc>',
        # legend
        f'<rect x="{LEFT}" y="6" width="12" height="12" fill="{BAR_COLOUR}"/>',
        f'<text x="{LEFT + 18}" y="16">{escape(texts.matched)}'
        + (f" ({escape(texts.largest)} {escape(money(most_money))})" if most_money else "")
        + "</text>",
        f'<circle cx="{LEFT + 6 + plot_w // 2}" cy="12" r="5" fill="{EXCEPTION_COLOUR}"/>',
        f'<text x="{LEFT + 16 + plot_w // 2}" y="16">{escape(texts.exceptions)}</text>',
        f'<line x1="{LEFT}" y1="{base}" x2="{LEFT + plot_w}" y2="{base}" stroke="{MUTED}"/>',
    ]
    for index, totals in enumerate(days):
        x = LEFT + index * slot
        centre = x + slot // 2
        label = f"{totals.day:%d/%m}"
        parts.append(
            f'<text x="{centre}" y="{base + 14}" text-anchor="middle" fill="{MUTED}">'
            f"{escape(label)}</text>"
        )
        if totals.matched_amount is None:
            # A dash, not a word: fourteen words would not fit; the word is its tooltip.
            parts.append(
                f'<text class="no-run" x="{centre}" y="{base - 4}" text-anchor="middle" '
                f'fill="{MUTED}"><title>{escape(label)}: {escape(texts.no_run)}</title>–</text>'
            )
            continue
        height = totals.matched_amount * plot_h // most_money if most_money else 0
        if totals.matched_amount and height < 1:
            height = 1  # a small but real amount stays visible
        summary = f"{label}: {money(totals.matched_amount)}, {texts.exceptions} {totals.exceptions}"
        parts.append(
            f'<rect class="bar" x="{centre - bar_w // 2}" y="{base - height}" '
            f'width="{bar_w}" height="{height}" fill="{BAR_COLOUR}">'
            f"<title>{escape(summary)}</title></rect>"
        )
        dot_y = base - (totals.exceptions * plot_h // most_exceptions if most_exceptions else 0)
        # Beside the bar, not on it: the dot must stay visible on a full-height bar.
        dot_x = centre + bar_w // 2 + 6
        parts.append(
            f'<circle class="exceptions" cx="{dot_x}" cy="{dot_y - 4}" r="4" '
            f'fill="{EXCEPTION_COLOUR}"/>'
        )
        parts.append(
            f'<text x="{dot_x}" y="{max(dot_y - 12, TOP - 4)}" text-anchor="middle" '
            f'fill="{EXCEPTION_COLOUR}">{totals.exceptions}</text>'
        )
        parts.append(
            f'<text x="{centre}" y="{base + 28}" text-anchor="middle" font-size="9">'
            f"{escape(compact(totals.matched_amount))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def compact(value: int) -> str:
    """A short label under a bar: 1.250.000 -> 1,25tr; 2.000.000.000 -> 2tỷ ... kept short
    with plain integer arithmetic (tr = triệu, million; tỷ = billion; k = thousand)."""
    for unit, suffix in ((1_000_000_000, "tỷ"), (1_000_000, "tr"), (1_000, "k")):
        if value >= unit:
            whole, rest = divmod(value, unit)
            hundredths = rest * 100 // unit
            return f"{whole},{hundredths:02d}{suffix}" if hundredths else f"{whole}{suffix}"
    return str(value)
