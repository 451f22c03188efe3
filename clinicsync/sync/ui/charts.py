"""Charts as server-side SVG: no JavaScript, no CDN, nothing for the CSP to forbid.
Colours come from classes in ui.css (series-0, series-1, …); every bar has a <title>
so hovering shows the exact number. Text is escaped by Markup.format."""

from __future__ import annotations

import math
from typing import Any

from markupsafe import Markup

WIDTH, BAR_AREA, ROW = 640, 200, 26
CHAR = 7  # an axis label's character, in viewBox units (ui.css's .axis font size)
# On a phone the 640-unit chart is drawn ~350 px wide: ui.css sets its text to 20 units there
# (~11 px on screen, not 6), each character then ~12 units; labels that only fit on a wide screen
# carry the class ``dense`` and are hidden on a phone.
CHAR_PHONE = 12


def _m(template: str, **values: Any) -> Markup:
    return Markup(template).format(**values)  # noqa: S704 - constant templates; values are escaped


def _short(label: str, room: int = 14) -> str:
    """A bar's label cut to fit under it, keeping its start ('Dr. Amelia H…', not 'melia Hart')."""
    return label if len(label) <= room else label[:room - 1] + "…"


def _labels(categories: list[str], room: int = 14) -> list[str]:
    """Every category's label cut to fit, told apart: two doctors whose names share their first
    letters ('Dr. Amelia Hart', 'Dr. Amelia Hughes') would both read 'Dr. Amelia H…', so a cut
    label that another shares keeps the name's end instead ('Dr. Am…Hughes')."""
    cut = [_short(c, room) for c in categories]
    shared = {label for label in cut if cut.count(label) > 1}
    tail = room // 2
    return [f"{c[:room - tail - 1]}…{c[-tail:]}" if label in shared and label != c else label
            for c, label in zip(categories, cut, strict=True)]


def _svg(height: int, label: str, body: list[Markup]) -> Markup:
    return (_m('<svg class="chart" viewBox="0 0 {w} {h}" width="100%" role="img" aria-label="{label}" '
               'xmlns="http://www.w3.org/2000/svg">', w=WIDTH, h=height, label=label)
            + Markup("").join(body) + Markup("</svg>"))


def funnel_chart(steps: list[tuple[str, int]], label: str = "delivery funnel") -> Markup:
    """Horizontal bars, widths relative to the largest step, with count and share of the first."""
    top = max((v for _, v in steps), default=0) or 1
    first = steps[0][1] if steps else 0
    body = []
    left, width = 130, WIDTH - 130 - 150  # room for the phone's larger text on both sides
    for i, (name, value) in enumerate(steps):
        y = 8 + i * (ROW + 8)
        w = round(width * value / top, 1)
        share = f" ({100 * value / first:.0f}%)" if first else ""
        body.append(_m('<text class="axis" x="{lx}" y="{ty}" text-anchor="end">{name}</text>'
                       '<rect class="bar series-{i}" x="{left}" y="{y}" width="{w}" height="{row}">'
                       "<title>{name}: {value}{share}</title></rect>"
                       '<text class="value" x="{vx}" y="{ty}">{value}{share}</text>',
                       lx=left - 6, ty=round(y + ROW * 0.68), name=name, i=i, left=left, y=y, w=w, row=ROW,
                       value=value, share=share, vx=left + w + 6))
    return _svg(16 + len(steps) * (ROW + 8), label, body)


def grouped_bar_chart(categories: list[str], series: dict[str, list[float]], label: str,
                      unit: str = "", max_value: float | None = None) -> Markup:
    """Vertical bars: one group per category, one bar per series, a legend and a y-axis top value."""
    top = max_value or max((v for values in series.values() for v in values), default=0) or 1
    left, bottom = 60, 24 + BAR_AREA  # room for '100%' in the phone's text
    legend = _legend(list(series))
    height = bottom + 44 + 28 * (legend[-1][2] + 1 if legend else 1)
    group = (WIDTH - left - 10) / max(len(categories), 1)
    bar = max(group * 0.8 / max(len(series), 1), 1.0)
    body = [_m('<line class="axis-line" x1="{l}" y1="{b}" x2="{r}" y2="{b}"/>'
               '<text class="axis" x="{lx}" y="28" text-anchor="end">{top}{unit}</text>'
               '<text class="axis" x="{lx}" y="{b}" text-anchor="end">0</text>',
               l=left, b=bottom, r=WIDTH - 10, lx=left - 4, top=f"{top:g}", unit=unit)]
    # Every label when they fit under their group, else every second (third, …) one: at about
    # CHAR units a character, 'Nov 10' under each of 15 days would run into its neighbours.
    labels = _labels(categories)
    longest = max((len(label) for label in labels), default=0)
    step = max(len(categories) // 8 if len(categories) > 16 else 1, math.ceil((longest * CHAR + 6) / group))
    step_phone = max(step, math.ceil((longest * CHAR_PHONE + 8) / group))
    for c, category in enumerate(categories):
        x0 = left + c * group + group * 0.1
        for s, (name, values) in enumerate(series.items()):
            h = round(BAR_AREA * values[c] / top, 1)
            body.append(_m('<rect class="bar series-{s}" x="{x}" y="{y}" width="{w}" height="{h}">'
                           "<title>{category} · {name}: {value}{unit}</title></rect>",
                           s=s, x=f"{x0 + s * bar:.1f}", y=f"{bottom - h:.1f}", w=f"{bar:.1f}", h=h,
                           category=category, name=name, value=f"{values[c]:g}", unit=unit))
        if c % step == 0:  # a cut label carries the whole name for hovering
            body.append(_m('<text class="{cls}" x="{x}" y="{y}" text-anchor="middle">{title}{text}</text>',
                           cls="axis" if c % step_phone == 0 else "axis dense",
                           x=f"{left + c * group + group / 2:.1f}", y=bottom + 20, text=labels[c],
                           title=_m("<title>{name}</title>", name=category) if labels[c] != category else ""))
    for s, (name, x, row) in enumerate(legend):
        y = bottom + 44 + 28 * row
        body.append(_m('<rect class="bar series-{s}" x="{x}" y="{y}" width="14" height="14"/>'
                       '<text class="axis" x="{tx}" y="{ty}">{name}</text>',
                       s=s, x=x, y=y - 12, tx=x + 20, ty=y, name=name))
    return _svg(height, label, body)


def _legend(names: list[str]) -> list[tuple[str, int, int]]:
    """Each series' legend entry (name, x, row), wide enough for the phone's text, wrapping to
    another row rather than running off the chart."""
    out: list[tuple[str, int, int]] = []
    x, row = 10, 0
    for name in names:
        width = 20 + len(name) * CHAR_PHONE + 24
        if x > 10 and x + width > WIDTH:
            x, row = 10, row + 1
        out.append((name, x, row))
        x += width
    return out
