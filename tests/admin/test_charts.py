"""The dashboard's charts as the operator receives them: each reads on its own, runs no script, fetches nothing.

Invariants over the rendered page (test client): every chart's SVG holds its
title, both axis titles (with the unit), round y tick labels in that unit,
x labels that end on the latest day or version, and a legend naming every
series; none holds a script or a reference to another host. Checked with
data and on an empty database (a fresh install).
"""

from __future__ import annotations

import html as html_lib
import math
import re

import pytest
from defusedxml import ElementTree
from django.urls import reverse
from django.utils import timezone

from recommender.admin import charts
from recommender.interactions.services import interaction_record
from recommender.models import DigestDelivery, InteractionKind, ModelStatus, ModelVersion
from tests.factories import make_paper, subscriber

pytestmark = pytest.mark.django_db

# (title, x axis, y axis, legend, how a y tick label looks)
CHARTS = [
    ("Digests per day, last 30 days", "day (created)", "digests", ["sent", "skipped", "failed"], r"\d[\d,]*"),
    (
        "Email engagement per day: subscribers who clicked or voted, per digest sent",
        "day",
        "% of digests sent",
        ["click-through", "voted"],
        r"\d+(\.\d)?%",
    ),
    (
        "Offline metrics of each trained model version",
        "model version (oldest to newest)",
        "metric value (0-1)",
        ["ndcg@10", "recall@10", "recall@50"],
        r"0(\.\d+)?|1",
    ),
]


def _figures(page: str) -> list[str]:
    return re.findall(r'<figure class="pb-chart".*?</figure>', page, re.S)


SVG = "{http://www.w3.org/2000/svg}"


def _texts(figure: str, group: str) -> list[str]:
    """The visible text in pygal's groups of class ``group`` (``titles``, ``axis x``, ``axis y``, ``legends``)."""
    svg = ElementTree.fromstring(figure[figure.index("<svg") : figure.rindex("</svg>") + 6])
    return [
        text.text or ""
        for g in svg.iter(f"{SVG}g")
        if (g.get("class") or "").startswith(group)
        for text in g.iter(f"{SVG}text")
    ]


def _dashboard(client) -> list[str]:
    response = client.get(reverse("admin-dashboard"))
    assert response.status_code == 200
    figures = _figures(response.content.decode())
    assert len(figures) == len(CHARTS)
    return figures


def _check(figure: str, expected, last_x: str):
    title, x_title, y_title, legend, tick = expected
    assert f'aria-label="{html_lib.escape(title)}"' in figure
    assert " ".join(_texts(figure, "titles")) == f"{title} {x_title} {y_title}"  # pygal may wrap a long one
    assert set(_texts(figure, "legends")) == set(legend)
    y_ticks = _texts(figure, "axis y")
    assert len(y_ticks) >= 2 and all(re.fullmatch(tick, t) for t in y_ticks), y_ticks
    assert len(set(y_ticks)) == len(y_ticks), f"repeated y labels {y_ticks}"
    x_ticks = _texts(figure, "axis x")
    if last_x:
        assert x_ticks[-1] == last_x, x_ticks
    assert "<script" not in figure
    assert not re.search(r'(?:href|src)="(?:https?:)?//', figure), "the chart fetches something"


def test_every_chart_reads_on_its_own(staff_client):
    ada = subscriber("ada@example.org")
    now = timezone.now()
    DigestDelivery.objects.create(user=ada, period_key="p1", status="sent", sent_at=now)
    DigestDelivery.objects.create(user=ada, period_key="p2", status="failed", error="boom")
    interaction_record(user=ada, paper=make_paper(), kind=InteractionKind.CLICK, source="email")
    for ndcg in (0.11, 0.22, 0.33):
        ModelVersion.objects.create(status=ModelStatus.READY, metrics={"ndcg@10": ndcg, "recall@10": ndcg * 2})
    today = timezone.localtime(now)
    last_version = f"v{ModelVersion.objects.latest('pk').pk}"
    for figure, expected, last_x in zip(
        _dashboard(staff_client), CHARTS, [f"{today:%b} {today.day}"] * 2 + [last_version], strict=True
    ):
        _check(figure, expected, last_x)


def test_an_empty_install_shows_three_labelled_charts(staff_client):
    for figure, expected in zip(_dashboard(staff_client), CHARTS, strict=True):
        _check(figure, expected, "")


@pytest.mark.parametrize("n", [1, 2, 7, 12, 30, 31, 90])
def test_x_labels_are_spaced_and_end_on_the_latest(n):
    labels = [f"L{i}" for i in range(n)]
    shown = charts.x_labels_shown(labels)
    assert shown[0] == labels[-1]
    positions = sorted(labels.index(label) for label in shown)
    gaps = {b - a for a, b in zip(positions, positions[1:], strict=False)}
    assert len(gaps) <= 1 and min(gaps, default=n) * charts.PLOT_WIDTH / n >= charts.MIN_LABEL_GAP


@pytest.mark.parametrize("top", [0, 0.004, 0.3, 0.57, 1, 3, 7, 12, 99, 1234])
def test_y_ticks_are_round_and_cover_the_data(top):
    for integer in (True, False):
        if integer and not float(top).is_integer():
            continue
        ticks = charts.nice_ticks(top, integer=integer)
        assert ticks[0] == 0 and ticks[-1] >= top and 2 <= len(ticks) <= charts.Y_TICKS + 1
        step = ticks[1]
        assert all(abs(b - a - step) < 1e-12 for a, b in zip(ticks, ticks[1:], strict=False))
        mantissa = step / 10 ** math.floor(math.log10(step))
        assert round(mantissa, 9) in (1, 2, 2.5, 5, 10), (top, ticks)
