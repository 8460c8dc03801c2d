"""Server-rendered SVG charts for the admin's delivery report: no JavaScript, no CDN.

Each function takes rows from :func:`django_smsc_status.stats.stats` and returns safe SVG
markup. Every text is escaped; each bar carries a ``<title>`` (the browser's tooltip) with the
exact figures, and the chart an ``aria-label``. Colours match the admin's status badges.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

from django.utils import formats
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

COLOURS = {
    "delivered": "#2e7d32",
    "failed": "#c62828",
    "pending": "#ef8f00",
    "rate": "#1565c0",
    "cost": "#6a1b9a",
}
PARTS = ("delivered", "failed", "pending")
FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif" font-size="11"'


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 × 10ⁿ at or above ``value`` (axis maximum)."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def number(value: Any, decimals: int = 0) -> str:
    return formats.number_format(value, decimals, use_l10n=True, force_grouping=True)


def _day(row: dict) -> str:
    """The day as the report's table shows it (the active language's short date)."""
    return formats.date_format(row["key"], "SHORT_DATE_FORMAT") if row["key"] else "?"


def _labels(days: Sequence[dict]) -> list[str]:
    return [_day(row) for row in days]


def _tooltip(row: dict, name: str | None = None) -> str:
    rate = "—" if row["delivery_rate"] is None else f"{number(row['delivery_rate'] * 100, 1)} %"
    return (
        f"{row['label'] if name is None else name}: {_('total')} {number(row['total'])}, {_('delivered')} "
        f"{number(row['delivered'])}, {_('failed')} {number(row['failed'])}, {_('pending')} "
        f"{number(row['pending'])}; {_('delivery rate')} {rate}; {_('cost')} "
        f"{number(row['cost'], 2)}"
    )


def _frame(width: int, height: int, label: str, body: list[str]) -> SafeString:
    return mark_safe(  # noqa: S308 - every text that goes in was escaped
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-label="{escape(label)}" class="smsc-chart" {FONT}>'
        f"<title>{escape(label)}</title>{''.join(body)}</svg>"
    )


def _x_axis(labels: list[str], left: float, step: float, y: float) -> list[str]:
    every = max(1, math.ceil(len(labels) / 8))  # at most 8 dates (a short date is ~10 characters)
    return [
        f'<text x="{left + step * (i + 0.5):.1f}" y="{y + 14:.1f}" text-anchor="middle" '
        f'fill="#555">{escape(text)}</text>'
        for i, text in enumerate(labels)
        if i % every == 0
    ]


def _y_axis(
    top: float, bottom: float, left: float, right: float, maximum: float, decimals: int = 0
) -> list[str]:
    out = []
    for fraction in (0, 0.5, 1):
        y = bottom - (bottom - top) * fraction
        out.append(
            f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#555">'
            f"{escape(number(maximum * fraction, decimals))}</text>"
        )
    return out


def _stack(
    row: dict, maximum: float, span: float, *, start: float, sign: int
) -> Iterator[tuple[str, float, float]]:
    """``(part, where it starts, its length)`` of each non-empty part of ``row``'s stacked bar,
    ``span`` long for ``maximum``, the parts following each other from ``start`` (up the page:
    ``sign`` -1). One stacking for the day columns and the group rows."""
    for part in PARTS:
        length = span * row[part] / maximum
        if length > 0:
            yield part, start, length
            start += sign * length


def daily_volume(days: Sequence[dict], title: str, width: int = 760, height: int = 260) -> SafeString:
    """Stacked bars (delivered / failed / pending) per day, and the delivery rate as a line."""
    left, right, top, bottom = 56, width - 48, 12, height - 28
    step = (right - left) / max(len(days), 1)
    maximum = nice_ceiling(max((row["total"] for row in days), default=0))
    body = _y_axis(top, bottom, left, right, maximum)
    for fraction in (0, 0.5, 1):  # the rate's axis, on the right
        y = bottom - (bottom - top) * fraction
        body.append(
            f'<text x="{right + 6}" y="{y + 4:.1f}" fill="{COLOURS["rate"]}">{int(fraction * 100)} %</text>'
        )
    points = []
    for i, row in enumerate(days):
        x = left + step * i + step * 0.1
        bars = [
            f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{step * 0.8:.1f}" '
            f'height="{h:.1f}" fill="{COLOURS[part]}"/>'
            for part, base, h in _stack(row, maximum, bottom - top, start=bottom, sign=-1)
        ]
        body.append(f"<g><title>{escape(_tooltip(row, _day(row)))}</title>{''.join(bars)}</g>")
        if row["delivery_rate"] is not None:
            points.append(
                f"{left + step * (i + 0.5):.1f},{bottom - (bottom - top) * row['delivery_rate']:.1f}"
            )
    if points:
        body.append(
            f'<polyline points="{" ".join(points)}" fill="none" stroke="{COLOURS["rate"]}" stroke-width="2"/>'
        )
        body.extend(
            f'<circle cx="{p.split(",")[0]}" cy="{p.split(",")[1]}" r="2.5" fill="{COLOURS["rate"]}"/>'
            for p in points
        )
    body.extend(_x_axis(_labels(days), left, step, bottom))
    return _frame(width, height, title, body)


def daily_cost(days: Sequence[dict], title: str, width: int = 760, height: int = 200) -> SafeString:
    """Cost per day as bars."""
    left, right, top, bottom = 56, width - 48, 12, height - 28
    step = (right - left) / max(len(days), 1)
    maximum = nice_ceiling(float(max((row["cost"] for row in days), default=Decimal(0))))
    body = _y_axis(top, bottom, left, right, maximum, decimals=0 if maximum >= 10 else 2)
    for i, row in enumerate(days):
        h = (bottom - top) * float(row["cost"]) / maximum
        body.append(
            f'<rect x="{left + step * i + step * 0.1:.1f}" y="{bottom - h:.1f}" '
            f'width="{step * 0.8:.1f}" height="{h:.1f}" fill="{COLOURS["cost"]}">'
            f"<title>{escape(row['label'])}: {escape(number(row['cost'], 2))}</title></rect>"
        )
    body.extend(_x_axis(_labels(days), left, step, bottom))
    return _frame(width, height, title, body)


def _short(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def top_bars(rows: Sequence[dict], title: str, width: int = 760) -> SafeString:
    """Horizontal stacked bars, one per group (largest first), the total at the end."""
    label_width, row_height = 230, 24
    height = row_height * max(len(rows), 1) + 8
    left, right = label_width, width - 70
    maximum = max((row["total"] for row in rows), default=0) or 1
    body = []
    for i, row in enumerate(rows):
        y = 4 + i * row_height
        segments = list(_stack(row, maximum, right - left, start=left, sign=1))
        bars = [
            f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_height - 8}" '
            f'fill="{COLOURS[part]}"/>'
            for part, x, w in segments
        ]
        end = segments[-1][1] + segments[-1][2] if segments else left
        body.append(
            f"<g><title>{escape(_tooltip(row))}</title>"
            f'<text x="{label_width - 8}" y="{y + row_height / 2 + 4:.1f}" text-anchor="end" '
            f'fill="#333">{escape(_short(row["label"]))}</text>{"".join(bars)}'
            f'<text x="{end + 6:.1f}" y="{y + row_height / 2 + 4:.1f}" fill="#333">'
            f"{escape(number(row['total']))}</text></g>"
        )
    return _frame(width, height, title, body)
