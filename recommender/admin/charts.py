"""The dashboard's charts: SVG rendered on the server by pygal, in one house style.

pygal (issue 20: a library instead of hand-drawn SVG) lays out the axes, round
y ticks with grid lines, the legend and the titles; this module only fixes
what makes the three charts read alike at a glance at 1280 px: a visible
title, axis titles that carry the unit, 13 px tick labels, x labels thinned
so neighbours never overlap (counted from the right, so the latest always
shows), the legend under the plot, the colours chosen by the dashboard and
the admin's own text colours (CSS variables, so its dark theme works too).

No script: pygal loads its tooltip script from a CDN by default (``js=()``
leaves it out) and always writes its configuration as an inline script (an
XML filter, pygal's hook for editing the tree, takes it out), so the SVG is
static, prints, zooms and works offline. The styles pygal embeds are scoped
to each chart's own id.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pygal
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from pygal.style import Style

WIDTH, HEIGHT = 960, 340
PLOT_WIDTH = WIDTH - 110  # roughly: the y labels and the y title take the rest
MIN_LABEL_GAP = 64  # viewBox units between two x labels ("Nov 30" at 13 px is ~45)
Y_TICKS = 5
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"

Series = Sequence[tuple[str, str, Sequence[float | None]]]  # (name, colour, one value per label)


def _style(colours: Sequence[str]) -> Style:
    return Style(
        font_family=FONT,
        background="transparent",
        plot_background="transparent",
        # The admin's own text colours, so the charts follow its light and dark themes.
        foreground="var(--body-fg, #333)",
        foreground_strong="var(--body-fg, #333)",
        foreground_subtle="var(--body-quiet-color, #666)",
        guide_stroke_color="#e3e3e3",
        major_guide_stroke_color="#bbb",
        opacity="1",
        opacity_hover=".8",
        stroke_opacity="1",
        stroke_width="2.5",
        stroke_width_hover="3.5",
        colors=tuple(colours),
        title_font_size=16,
        label_font_size=13,
        major_label_font_size=13,
        legend_font_size=14,
        no_data_font_size=18,
    )


def nice_ticks(y_max: float, *, integer: bool) -> list[float]:
    """0 and up to ``Y_TICKS - 1`` round steps (1, 2, 2.5 or 5 x 10^k) covering ``y_max``.

    pygal's own ticks are not round at this size (0, 20%, 50%, 70%, 100%) and go
    fractional on small counts, so the y labels are given to it.
    """
    y_max = max(y_max, 1 if integer else 1e-9)
    raw = y_max / (Y_TICKS - 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if integer:
        step = max(1, math.ceil(step))
    count = math.ceil(y_max / step - 1e-9)
    return [i * step for i in range(count + 1)]


def percent_label(value: float) -> str:
    """A share as a percentage: "20%", "2.5%"."""
    return f"{value:.0%}" if round(value * 100, 6).is_integer() else f"{value:.1%}"


def x_labels_shown(labels: Sequence[str]) -> list[str]:
    """Every k-th label, counted from the right, so that neighbours are ``MIN_LABEL_GAP`` apart or more."""
    every = max(1, math.ceil(MIN_LABEL_GAP / (PLOT_WIDTH / max(len(labels), 1))))
    return list(labels[::-1][::every])


def _without_scripts(root):
    """Drop every ``<script>`` (pygal's inline configuration for the tooltip script that is not loaded)."""
    for parent in list(root.iter()):
        for child in list(parent):
            if isinstance(child.tag, str) and child.tag.rsplit("}", 1)[-1] == "script":
                parent.remove(child)
    return root


def _chart(kind, *, labels: Sequence[str], series: Series, title: str, x_label: str, y_label: str, **config):
    chart = kind(
        style=_style([colour for _, colour, _ in series]),
        width=WIDTH,
        height=HEIGHT,
        js=(),
        title=title,
        x_title=x_label,
        y_title=y_label,
        x_labels=list(labels),
        x_labels_major=x_labels_shown(labels),
        show_minor_x_labels=False,
        truncate_label=-1,
        truncate_legend=-1,
        legend_at_bottom=True,
        legend_at_bottom_columns=max(len(series), 1),
        include_x_axis=True,
        margin=12,
        no_data_text="No data yet",
        **config,
    )
    chart.add_xml_filter(_without_scripts)
    for name, _, values in series:
        chart.add(name, list(values))
    # pygal builds the SVG as an XML tree (lxml or ElementTree), which escapes every title and label.
    svg = mark_safe(chart.render(is_unicode=True, disable_xml_declaration=True))  # noqa: S308
    return format_html('<figure class="pb-chart" role="img" aria-label="{}">{}</figure>', title, svg)


def bar_chart(*, labels: Sequence[str], series: Series, title: str, x_label: str = "", y_label: str = "") -> SafeString:
    """Stacked bars: one bar per label, one segment per (name, colour, values) series; counts on the y axis."""
    totals = [sum(values[i] or 0 for _, _, values in series) for i in range(len(labels))]
    return _chart(
        pygal.StackedBar,
        labels=labels,
        series=series,
        title=title,
        x_label=x_label,
        y_label=y_label,
        y_labels=nice_ticks(max(totals, default=0), integer=True),
        value_formatter=lambda v: f"{v:,.0f}",
    )


def line_chart(
    *,
    labels: Sequence[str],
    series: Series,
    title: str,
    percent: bool = False,
    x_label: str = "",
    y_label: str = "",
) -> SafeString:
    """Lines with dots; ``None`` values leave a gap (a day with no digest sent has no rate)."""
    top = max((v for _, _, values in series for v in values if v is not None), default=0)
    return _chart(
        pygal.Line,
        labels=labels,
        series=series,
        title=title,
        x_label=x_label,
        y_label=y_label,
        y_labels=nice_ticks(top or 1, integer=False),
        value_formatter=percent_label if percent else (lambda v: f"{v:.3g}"),
        allow_interruptions=True,
        dots_size=4,
    )
