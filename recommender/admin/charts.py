"""Small SVG charts drawn on the server, so the dashboard works offline with no JavaScript or CDN.

Every label goes through ``format_html`` (escaped); the functions return
safe strings of inline ``<svg>`` sized by the viewBox, so they scale with
the page.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 44, 8, 10, 22


def _fmt(value: float, percent: bool) -> str:
    if percent:
        return f"{value * 100:.1f}%"
    return f"{value:.3g}" if isinstance(value, float) and not value.is_integer() else f"{int(value)}"


def _frame(width: int, height: int, y_max: float, labels: Sequence[str], percent: bool, title: str) -> list[SafeString]:
    plot_h = height - PAD_TOP - PAD_BOTTOM
    parts = [
        format_html(
            '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#ccc"/>',
            PAD_LEFT,
            height - PAD_BOTTOM,
            width - PAD_RIGHT,
            height - PAD_BOTTOM,
        ),
        format_html(
            '<text x="{}" y="{}" font-size="10" text-anchor="end" fill="#666">{}</text>',
            PAD_LEFT - 4,
            PAD_TOP + 8,
            _fmt(y_max, percent),
        ),
        format_html(
            '<text x="{}" y="{}" font-size="10" text-anchor="end" fill="#666">0</text>', PAD_LEFT - 4, PAD_TOP + plot_h
        ),
    ]
    if labels:
        for index in sorted({0, len(labels) // 2, len(labels) - 1}):
            x = PAD_LEFT + (index + 0.5) * (width - PAD_LEFT - PAD_RIGHT) / len(labels)
            parts.append(
                format_html(
                    '<text x="{}" y="{}" font-size="10" text-anchor="middle" fill="#666">{}</text>',
                    f"{x:.1f}",
                    height - 6,
                    labels[index],
                )
            )
    return parts


def _svg(width: int, height: int, title: str, parts: list[SafeString]) -> SafeString:
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" width="100%" role="img" aria-label="{}" '
        'style="max-width:{}px;display:block">{}</svg>',
        width,
        height,
        title,
        width,
        mark_safe("".join(parts)),  # noqa: S308 - every part was built by format_html
    )


def legend(series: Sequence[tuple[str, str, Sequence[float]]]) -> SafeString:
    return format_html_join(
        " ",
        '<span style="white-space:nowrap"><span style="display:inline-block;width:10px;height:10px;'
        'background:{};margin-right:4px"></span>{}</span>',
        ((colour, name) for name, colour, _ in series),
    )


def bar_chart(
    *,
    labels: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[float]]],
    title: str,
    width: int = 640,
    height: int = 160,
) -> SafeString:
    """Stacked bars: one bar per label, one segment per (name, colour, values) series."""
    totals = [sum(s[2][i] for s in series) for i in range(len(labels))]
    y_max = max(totals or [0]) or 1
    plot_w, plot_h = width - PAD_LEFT - PAD_RIGHT, height - PAD_TOP - PAD_BOTTOM
    step = plot_w / max(len(labels), 1)
    bar_w = max(step * 0.7, 1)
    parts = _frame(width, height, y_max, labels, False, title)
    for i, label in enumerate(labels):
        y = PAD_TOP + plot_h
        for name, colour, values in series:
            value = values[i]
            if not value:
                continue
            h = plot_h * value / y_max
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
    return _svg(width, height, title, parts)


def line_chart(
    *,
    labels: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[float | None]]],
    title: str,
    percent: bool = False,
    width: int = 640,
    height: int = 160,
) -> SafeString:
    """Lines with dots; ``None`` values leave a gap."""
    values = [v for _, _, vs in series for v in vs if v is not None]
    y_max = max(values or [0]) or 1
    plot_w, plot_h = width - PAD_LEFT - PAD_RIGHT, height - PAD_TOP - PAD_BOTTOM
    step = plot_w / max(len(labels), 1)
    parts = _frame(width, height, y_max, labels, percent, title)
    for name, colour, vs in series:
        points = [
            (PAD_LEFT + (i + 0.5) * step, PAD_TOP + plot_h * (1 - v / y_max), labels[i], v)
            for i, v in enumerate(vs)
            if v is not None
        ]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in points)
            parts.append(format_html('<polyline points="{}" fill="none" stroke="{}" stroke-width="2"/>', path, colour))
        for x, y, label, v in points:
            parts.append(
                format_html(
                    '<circle cx="{}" cy="{}" r="2.5" fill="{}"><title>{}: {} {}</title></circle>',
                    f"{x:.1f}",
                    f"{y:.1f}",
                    colour,
                    label,
                    _fmt(v, percent),
                    name,
                )
            )
    return _svg(width, height, title, parts)
