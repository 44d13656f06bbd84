"""Every admin page an operator reads, at 1280 px in Debian's Chromium: readable charts, columns and paper lists.

The data is the bundled sample feed (real titles), demo subscribers with
ratings (``demo_users_create``) and 30 days of synthetic delivery, engagement,
model and ingest history, the way ``make run`` plus a month of use would look.
With ``PAPERBOY_SCREENSHOTS=1`` the screenshots are written to
``docs/screenshots/admin-*.png``.
"""

from __future__ import annotations

import datetime as dt
import os
import random

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from recommender.demo import demo_users_create
from recommender.ingest.services import SOURCES, ingest_sample
from recommender.models import (
    DeliveredPaper,
    DeliveredSection,
    DeliveryStatus,
    DigestDelivery,
    IngestRun,
    Interaction,
    InteractionKind,
    InteractionSource,
    ModelStatus,
    ModelVersion,
    Paper,
    Profile,
    RunStatus,
)

from .conftest import SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "operator-pass-42"
DAYS = 30
REASONS = ("Similar to papers you liked", "In cs.LG, which you follow", "Matches your keyword “retrieval”")


def _deliveries(users, paper_ids, now, rng):
    """One digest per subscriber and day: mostly sent, some skipped, a few failed."""
    titles = dict(Paper.objects.values_list("id", "title"))
    rows = []
    for back in range(DAYS):
        moment = now - dt.timedelta(days=back, hours=rng.randint(0, 3))
        for user in users:
            status = rng.choices(
                [DeliveryStatus.SENT, DeliveryStatus.SKIPPED, DeliveryStatus.FAILED], weights=[16, 3, 1]
            )[0]
            picked = rng.sample(paper_ids, 8) if status != DeliveryStatus.SKIPPED else []
            plan = {
                DeliveredSection.PAPERS: picked[:6],
                DeliveredSection.TRENDING: picked[6:],
                "reasons": {pid: rng.choice(REASONS) for pid in picked[:6]},
            }
            delivery = DigestDelivery(
                user=user,
                period_key=moment.date().isoformat(),
                status=status,
                subject=(
                    f"{moment:%A %-d %B}: {titles[picked[0]]} (+5 more)" if picked else f"{moment:%A %-d %B}: digest"
                ),
                sent_at=moment if status == DeliveryStatus.SENT else None,
                attempts=1 if status != DeliveryStatus.SKIPPED else 0,
                error="SMTP 451 4.3.0 temporary failure, greylisted; retried 3 times" if status == "failed" else "",
                skip_reason="nothing new matched the subscriber's interests" if status == "skipped" else "",
            )
            rows.append((delivery, moment, plan))
    DigestDelivery.objects.bulk_create([d for d, _, _ in rows])
    planned = []
    for delivery, moment, plan in rows:  # created_at is auto_now_add: date the history afterwards
        delivery = DigestDelivery.objects.get(user=delivery.user, period_key=delivery.period_key)
        DigestDelivery.objects.filter(pk=delivery.pk).update(created_at=moment)
        # What each digest listed: its plan rows (DeliveredPaper), as the plan phase stores them.
        for section in (DeliveredSection.PAPERS, DeliveredSection.TRENDING):
            planned += [
                DeliveredPaper(
                    delivery=delivery,
                    user_id=delivery.user_id,
                    paper_id=pid,
                    section=section,
                    rank=rank,
                    reason=plan["reasons"].get(pid, "") if section == DeliveredSection.PAPERS else "",
                )
                for rank, pid in enumerate(plan[section], start=1)
            ]
    DeliveredPaper.objects.bulk_create(planned)


def _engagement(users, paper_ids, now, rng):
    for user in users:
        for pid in rng.sample(paper_ids, 12):
            kind = rng.choice([InteractionKind.CLICK, InteractionKind.CLICK, InteractionKind.THUMBS_UP])
            if Interaction.objects.filter(user=user, paper_id=pid, kind=kind).exists():
                continue
            Interaction.objects.create(
                user=user,
                paper_id=pid,
                kind=kind,
                source=InteractionSource.EMAIL,
                created_at=now - dt.timedelta(days=rng.randrange(DAYS), hours=rng.randint(0, 5)),
            )


def _history(now, rng):
    for i in range(12):
        created = now - dt.timedelta(days=2 * (12 - i))
        version = ModelVersion.objects.create(
            status=ModelStatus.READY if i != 7 else ModelStatus.REJECTED,
            metrics={
                "ndcg@10": round(0.18 + 0.01 * i + rng.uniform(-0.01, 0.01), 4),
                "recall@10": round(0.22 + 0.012 * i + rng.uniform(-0.01, 0.01), 4),
                "recall@50": round(0.41 + 0.01 * i + rng.uniform(-0.01, 0.01), 4),
            },
            n_users=40 + i,
            n_items=41,
            n_interactions=600 + 25 * i,
            train_seconds=3.0 + i / 4,
            artifact_size=2_900_000 + 20_000 * i,
            is_active=i == 11,
            activated_at=created if i == 11 else None,
        )
        ModelVersion.objects.filter(pk=version.pk).update(created_at=created)
    for back in range(DAYS):
        for source in SOURCES:
            started = now - dt.timedelta(days=back, hours=1)
            failed = rng.random() < 0.08
            IngestRun.objects.create(
                source=source,
                status=RunStatus.FAILED if failed else RunStatus.SUCCEEDED,
                entries=0 if failed else rng.randint(20, 400),
                created=0 if failed else rng.randint(5, 120),
                updated=0 if failed else rng.randint(0, 40),
                error="network unreachable: cannot connect to export.arxiv.org:443 (timed out)" if failed else "",
                started_at=started,
                finished_at=started + dt.timedelta(seconds=rng.randint(2, 90)),
            )


@pytest.fixture
def operations(transactional_db):
    """A month of operating the service, and an operator account."""
    rng = random.Random(18)
    now = timezone.now()
    ingest_sample()
    user_ids = demo_users_create(count=12, seed=1)
    User = get_user_model()
    users = list(User.objects.filter(pk__in=user_ids).order_by("pk"))
    Profile.objects.filter(user=users[0]).update(suppression="bounced", suppressed_at=now)
    Profile.objects.filter(user=users[1]).update(suppression="unsubscribed", suppressed_at=now)
    paper_ids = list(Paper.objects.values_list("id", flat=True))
    _deliveries(users, paper_ids, now, rng)
    _engagement(users, paper_ids, now, rng)
    _history(now, rng)
    User.objects.create_superuser(username="operator", email="operator@lab.example", password=PASSWORD)
    delivery = DigestDelivery.objects.filter(status=DeliveryStatus.SENT).order_by("-created_at").first()
    rows = list(DeliveredPaper.objects.filter(delivery=delivery).order_by("section", "rank"))
    return {
        "delivery": delivery,
        "papers": [r.paper_id for r in rows if r.section == DeliveredSection.PAPERS],
        "trending": [r.paper_id for r in rows if r.section == DeliveredSection.TRENDING],
        "reasons": {str(r.paper_id): r.reason for r in rows if r.reason},
    }


def _log_in(page, live_server):
    page.goto(live_server.url + reverse("admin:login"))
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")


def _shoot(page, name: str, *, full_page: bool = False):
    """The first screen (lists run to 100 rows), or the whole page."""
    if os.environ.get("PAPERBOY_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"admin-{name}.png"), full_page=full_page)


def _box(page, selector: str) -> dict:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not rendered"
    return box


def _no_horizontal_scroll(page, where: str):
    """Neither the page nor the admin's result table (which scrolls inside its own box) is wider than the screen."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1280, f"{where} is {width} px wide at 1280 px"
    overflow = page.evaluate(
        "Array.from(document.querySelectorAll('.results, #content-main, #content'))"
        ".map(e => e.scrollWidth - e.clientWidth)"
    )
    assert max(overflow or [0]) <= 1, f"{where}: content scrolls sideways by {max(overflow)} px"


def test_dashboard_charts_are_readable_at_1280(page, live_server, operations):
    """Each pygal chart: 600 px or wider, a title and two axis titles, 3+ y ticks, 12 px x ticks that never overlap."""
    _log_in(page, live_server)
    page.goto(live_server.url + reverse("admin-dashboard"))
    charts = page.locator("figure.pb-chart > svg")
    assert charts.count() == 3
    for i in range(3):
        chart = charts.nth(i)
        assert chart.bounding_box()["width"] >= 600, f"chart {i} is narrower than 600 px"
        titles = chart.locator("g.titles text")
        assert titles.count() >= 3 and all(t.strip() for t in titles.all_text_contents()), f"chart {i}: titles"
        assert min(titles.nth(j).bounding_box()["height"] for j in range(titles.count())) >= 13
        assert chart.locator("g.axis.y text").count() >= 3
        assert chart.locator("g.legends text").count() >= 2, f"chart {i} has no legend"
        x_ticks = chart.locator("g.axis.x text")
        assert x_ticks.count() >= 3
        boxes = sorted((x_ticks.nth(j).bounding_box() for j in range(x_ticks.count())), key=lambda b: b["x"])
        assert min(b["height"] for b in boxes) >= 12, "tick labels smaller than 12 px"
        for left, right in zip(boxes, boxes[1:], strict=False):
            assert left["x"] + left["width"] < right["x"], f"chart {i}: x tick labels overlap"
    _no_horizontal_scroll(page, "the dashboard")
    _shoot(page, "dashboard", full_page=True)


def test_deliveries_list_gives_the_subject_room(page, live_server, operations):
    _log_in(page, live_server)
    page.goto(live_server.url + reverse("admin:recommender_digestdelivery_changelist"))
    assert _box(page, "th.column-short_subject")["width"] > 200
    assert _box(page, "td.field-short_subject")["width"] > 200
    _shoot(page, "deliveries")
    _no_horizontal_scroll(page, "the deliveries list")


def test_delivery_detail_lists_titles_linked_per_section(page, live_server, operations):
    delivery = operations["delivery"]
    _log_in(page, live_server)
    page.goto(live_server.url + reverse("admin:recommender_digestdelivery_change", args=[delivery.pk]))
    text = page.inner_text("#content")
    assert "Papers (in the order sent)" in text and "Trending" in text
    listed = operations["papers"] + operations["trending"]
    titles = dict(Paper.objects.filter(pk__in=listed).values_list("id", "title"))
    links = page.locator("ol.pb-papers li > a")
    assert links.count() == len(listed)
    for i, pid in enumerate(listed):
        link = links.nth(i)
        assert link.inner_text() == titles[pid]
        assert link.get_attribute("href") == reverse("admin:recommender_paper_change", args=[pid])
    assert str(operations["papers"])[:-1] not in text, "raw JSON of paper ids"
    assert operations["reasons"][str(operations["papers"][0])] in text
    _no_horizontal_scroll(page, "the delivery page")
    _shoot(page, "delivery", full_page=True)
    page.goto(live_server.url + reverse("admin:recommender_digestdelivery_email", args=[delivery.pk]))
    page.wait_for_selector("iframe")
    _shoot(page, "delivery-email")


@pytest.mark.parametrize(
    ("name", "url", "query"),
    [
        ("subscribers", "admin:recommender_profile_changelist", ""),
        ("subscribers-suppressed", "admin:recommender_profile_changelist", "?state=suppressed"),
        ("papers", "admin:recommender_paper_changelist", ""),
        ("ingest-runs", "admin:recommender_ingestrun_changelist", ""),
        ("model-versions", "admin:recommender_modelversion_changelist", ""),
    ],
)
def test_every_list_fits_1280_with_readable_columns(page, live_server, operations, name, url, query):
    _log_in(page, live_server)
    page.goto(live_server.url + reverse(url) + query)
    _shoot(page, name)
    _no_horizontal_scroll(page, name)
    widths = page.eval_on_selector_all(
        "#result_list thead th",
        "ths => ths.map(th => [th.innerText.trim(), th.getBoundingClientRect().width])",
    )
    assert widths, f"{name}: no result table"
    for header, width in widths:
        if header:  # the checkbox column and button columns have no heading
            assert width >= 40, f"{name}: column {header!r} is {width:.0f} px wide"
