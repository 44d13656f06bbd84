"""SVG charts drawn on the server, so the dashboard works offline with no JavaScript, CDN or chart library.

Hand-drawn rather than ``pygal`` (issue 20): three chart shapes do not need a
dependency, and inline SVG prints, zooms and works without scripts. Each chart
has a visible title, a labelled y axis with round-number ticks and grid lines,
x tick labels spaced so they never overlap, and a ``<title>`` tooltip on every
bar and point. The viewBox is 960 units wide and the SVG fills its container,
so at 1280 px (one chart per row) the text renders at about 13-15 px.

Every label goes through ``format_html`` (escaped); the functions return safe strings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 960, 320
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 76, 20, 44, 58
FONT = 13  # tick labels; titles and axis names are larger
TEXT = "#333"
QUIET = "#666"
GRID = "#e3e3e3"
MIN_LABEL_GAP = 64  # viewBox units between two x tick labels ("Nov 30" at 13 px is ~45)
TICKS = 5


def _fmt(value: float, percent: bool) -> str:
    if percent:
        return f"{value * 100:.0f}%" if round(value * 100, 6).is_integer() else f"{value * 100:.1f}%"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.3g}"
    return f"{int(value):,}"


def nice_ticks(y_max: float, *, integer: bool) -> list[float]:
    """0 and up to ``TICKS`` round steps (1, 2, 2.5 or 5 x 10^k) covering ``y_max``."""
    y_max = max(y_max, 1 if integer else 1e-9)
    raw = y_max / (TICKS - 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if integer:
        step = max(1, math.ceil(step))
    count = math.ceil(y_max / step - 1e-9)
    return [i * step for i in range(count + 1)]


def _label_every(n_labels: int, plot_w: float) -> int:
    """Show every k-th x label so that neighbours are at least ``MIN_LABEL_GAP`` apart."""
    step = plot_w / max(n_labels, 1)
    return max(1, math.ceil(MIN_LABEL_GAP / step))


def _frame(
    *, ticks: list[float], labels: Sequence[str], percent: bool, title: str, x_label: str, y_label: str
) -> list[SafeString]:
    """Title, axis names, y grid with tick labels, x tick labels and the baseline."""
    plot_w, plot_h = WIDTH - PAD_LEFT - PAD_RIGHT, HEIGHT - PAD_TOP - PAD_BOTTOM
    top = ticks[-1] or 1
    parts = [
        format_html(
            '<text class="chart-title" x="{}" y="22" font-size="17" font-weight="600" fill="{}">{}</text>',
            PAD_LEFT,
            TEXT,
            title,
        ),
        format_html(
            '<text class="axis-label y-label" transform="translate(18 {}) rotate(-90)" font-size="{}" '
            'text-anchor="middle" fill="{}">{}</text>',
            PAD_TOP + plot_h / 2,
            FONT + 1,
            QUIET,
            y_label,
        ),
        format_html(
            '<text class="axis-label x-label" x="{}" y="{}" font-size="{}" text-anchor="middle" fill="{}">{}</text>',
            PAD_LEFT + plot_w / 2,
            HEIGHT - 8,
            FONT + 1,
            QUIET,
            x_label,
        ),
    ]
    for tick in ticks:
        y = PAD_TOP + plot_h * (1 - tick / top)
        parts.append(
            format_html(
                '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}"/>'
                '<text class="tick y-tick" x="{}" y="{}" font-size="{}" text-anchor="end" fill="{}">{}</text>',
                PAD_LEFT,
                f"{y:.1f}",
                WIDTH - PAD_RIGHT,
                f"{y:.1f}",
                "#bbb" if tick == 0 else GRID,
                PAD_LEFT - 8,
                f"{y + FONT / 3:.1f}",
                FONT,
                QUIET,
                _fmt(tick, percent),
            )
        )
    every = _label_every(len(labels), plot_w)
    step = plot_w / max(len(labels), 1)
    for index in range(len(labels) - 1, -1, -every):  # counted from the right: the latest label always shows
        x = PAD_LEFT + (index + 0.5) * step
        parts.append(
            format_html(
                '<text class="tick x-tick" x="{}" y="{}" font-size="{}" text-anchor="middle" fill="{}">{}</text>',
                f"{x:.1f}",
                PAD_TOP + plot_h + FONT + 8,
                FONT,
                QUIET,
                labels[index],
            )
        )
    return parts


def _svg(title: str, parts: list[SafeString]) -> SafeString:
    return format_html(
        '<svg class="pb-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" width="100%" role="img" '
        'aria-label="{}" style="display:block;font-family:system-ui,sans-serif">{}</svg>',
        WIDTH,
        HEIGHT,
        title,
        mark_safe("".join(parts)),  # noqa: S308 - every part was built by format_html
    )


def legend(series: Sequence[tuple[str, str, Sequence[float]]]) -> SafeString:
    return format_html_join(
        " ",
        '<span style="white-space:nowrap;margin-right:12px"><span style="display:inline-block;width:12px;'
        'height:12px;background:{};margin-right:6px;vertical-align:-1px;border-radius:2px"></span>{}</span>',
        ((colour, name) for name, colour, _ in series),
    )


def bar_chart(
    *,
    labels: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[float]]],
    title: str,
    x_label: str = "",
    y_label: str = "",
) -> SafeString:
    """Stacked bars: one bar per label, one segment per (name, colour, values) series."""
    totals = [sum(s[2][i] for s in series) for i in range(len(labels))]
    ticks = nice_ticks(max(totals or [0]), integer=True)
    top = ticks[-1] or 1
    plot_w, plot_h = WIDTH - PAD_LEFT - PAD_RIGHT, HEIGHT - PAD_TOP - PAD_BOTTOM
    step = plot_w / max(len(labels), 1)
    bar_w = max(step * 0.7, 1)
    parts = _frame(ticks=ticks, labels=labels, percent=False, title=title, x_label=x_label, y_label=y_label)
    for i, label in enumerate(labels):
        y = PAD_TOP + plot_h
        for name, colour, values in series:
            value = values[i]
            if not value:
                continue
            h = plot_h * value / top
            y -= h
            parts.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {} {}</title></rect>',
                    f"{PAD_LEFT + i * step + (step - bar_w) / 2:.1f}",
                    f"{y:.1f}",
                    f"{bar_w:.1f}",
                    f"{h:.1f}",
                    colour,
                    label,
                    _fmt(value, False),
                    name,
                )
            )
    return _svg(title, parts)


def line_chart(
    *,
    labels: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[float | None]]],
    title: str,
    percent: bool = False,
    x_label: str = "",
    y_label: str = "",
) -> SafeString:
    """Lines with dots; ``None`` values leave a gap."""
    values = [v for _, _, vs in series for v in vs if v is not None]
    ticks = nice_ticks(max(values or [0]) or (1 if not percent else 0.01), integer=False)
    top = ticks[-1] or 1
    plot_w, plot_h = WIDTH - PAD_LEFT - PAD_RIGHT, HEIGHT - PAD_TOP - PAD_BOTTOM
    step = plot_w / max(len(labels), 1)
    parts = _frame(ticks=ticks, labels=labels, percent=percent, title=title, x_label=x_label, y_label=y_label)
    for name, colour, vs in series:
        points = [
            (PAD_LEFT + (i + 0.5) * step, PAD_TOP + plot_h * (1 - v / top), labels[i], v)
            for i, v in enumerate(vs)
            if v is not None
        ]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in points)
            parts.append(
                format_html('<polyline points="{}" fill="none" stroke="{}" stroke-width="2.5"/>', path, colour)
            )
        for x, y, label, v in points:
            parts.append(
                format_html(
                    '<circle cx="{}" cy="{}" r="4" fill="{}"><title>{}: {} {}</title></circle>',
                    f"{x:.1f}",
                    f"{y:.1f}",
                    colour,
                    label,
                    _fmt(v, percent),
                    name,
                )
            )
    return _svg(title, parts)
