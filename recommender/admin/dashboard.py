"""The operator dashboard: subscribers, digests, email engagement, model quality and ingestion at a glance.

A staff-only page in the admin (``/admin/dashboard/``, linked from the admin
index). Every figure is an aggregate query (a dozen queries in all,
whatever the table sizes) and the charts are SVG rendered on the server by
pygal (``charts.py``), so the page needs no script and works offline.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.contrib import admin
from django.db import connection
from django.db.models import Count, DateField, F, Func, Max, Q
from django.db.models.functions import TruncDate
from django.template.response import TemplateResponse
from django.utils import timezone

from ..digest.selectors import deliveries_held_by_breaker
from ..models import (
    DeliveryStatus,
    DigestDelivery,
    IngestRun,
    Interaction,
    InteractionKind,
    InteractionSource,
    ModelStatus,
    ModelVersion,
    Profile,
    RunStatus,
)
from . import charts
from .ingest_runs import ingest_sources
from .links import admin_change_url, admin_changelist_url
from .subscribers import subscribers_with_state

DAYS = 30
MODEL_VERSIONS_SHOWN = 30
VOTE_KINDS = (InteractionKind.THUMBS_UP, InteractionKind.THUMBS_DOWN, InteractionKind.NOT_INTERESTED)
COLOURS = {"sent": "#2e7d32", "skipped": "#9e9e9e", "failed": "#c62828", "click": "#1565c0", "vote": "#ef6c00"}


def _day_start(now: dt.datetime) -> dt.datetime:
    local = timezone.localtime(now)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def day_of(field: str):
    """The calendar day of a datetime column, grouped in SQL.

    ``TruncDate`` is a Python function called per row on SQLite (seconds on
    the interaction table); when the site's time zone is UTC the stored
    values are UTC, so SQLite's own ``DATE()`` gives the same day in C.
    """
    if connection.vendor == "sqlite" and timezone.get_current_timezone_name() == "UTC":
        return Func(F(field), function="DATE", output_field=DateField())
    return TruncDate(field)


def deliveries_by_day(*, since: dt.datetime) -> dict[dt.date, dict[str, int]]:
    rows = (
        DigestDelivery.objects.filter(created_at__gte=since)
        .annotate(day=day_of("created_at"))
        .values("day", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    out: dict[dt.date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        out[row["day"]][row["status"]] += row["n"]
    return out


def email_engagement_by_day(*, since: dt.datetime) -> dict[dt.date, dict[str, int]]:
    """Per day: how many subscribers clicked at least once, and voted at least once, from an email."""
    rows = (
        # Listing the kinds lets the (kind, source, created_at) index do the filtering.
        Interaction.objects.filter(
            kind__in=[InteractionKind.CLICK, *VOTE_KINDS], source=InteractionSource.EMAIL, created_at__gte=since
        )
        .annotate(day=day_of("created_at"))
        .values("day")
        .annotate(
            click=Count("user_id", distinct=True, filter=Q(kind=InteractionKind.CLICK)),
            vote=Count("user_id", distinct=True, filter=Q(kind__in=VOTE_KINDS)),
        )
        .order_by()
    )
    return {row["day"]: {"click": row["click"], "vote": row["vote"]} for row in rows}


def last_ingests() -> list[dict]:
    """For each source: its latest run and its latest successful run."""
    rows = []
    for source in ingest_sources():
        runs = IngestRun.objects.filter(source=source).order_by("-started_at")
        last = runs.first()
        last_ok = (
            last
            if last is not None and last.status == RunStatus.SUCCEEDED
            else runs.filter(status=RunStatus.SUCCEEDED).first()
        )
        rows.append(
            {
                "source": source,
                "last": last,
                "last_url": admin_change_url(last) if last else "",
                "last_ok": last_ok,
                "runs_url": admin_changelist_url(IngestRun, source__exact=source),
            }
        )
    return rows


def breaker_held() -> dict:
    """Deliveries held back by the circuit breaker right now: how many, when the last batch stopped, and why.

    They are pending and retried by themselves (the send task's backoff, the next tick); a count that stays
    up says the mail server is still unwell.
    """
    held = deliveries_held_by_breaker()
    figures = held.aggregate(count=Count("pk"), last=Max("modified_at"))
    reason = held.order_by("-modified_at").values_list("error", flat=True).first() if figures["count"] else ""
    return {**figures, "reason": reason}


def dashboard_context(*, now: dt.datetime) -> dict:
    today = _day_start(now)
    since = today - dt.timedelta(days=DAYS - 1)
    days = [(since + dt.timedelta(days=i)).date() for i in range(DAYS)]
    labels = [f"{d:%b} {d.day}" for d in days]

    by_day = deliveries_by_day(since=since)
    today_counts = dict(by_day.get(today.date(), {}))
    month_counts: dict[str, int] = defaultdict(int)
    for counts in by_day.values():
        for status, n in counts.items():
            month_counts[status] += n
    statuses = [DeliveryStatus.SENT, DeliveryStatus.SKIPPED, DeliveryStatus.FAILED]
    delivery_chart = charts.bar_chart(
        labels=labels,
        series=[
            (s.label.lower(), COLOURS[s.value], [by_day.get(d, {}).get(s.value, 0) for d in days]) for s in statuses
        ],
        title=f"Digests per day, last {DAYS} days",
        x_label="day (created)",
        y_label="digests",
    )

    engagement = email_engagement_by_day(since=since)
    sent_per_day = [by_day.get(d, {}).get(DeliveryStatus.SENT, 0) for d in days]

    def rate(kind: str, d: dt.date, sent: int) -> float | None:
        return engagement.get(d, {}).get(kind, 0) / sent if sent else None

    click_rates = [rate("click", d, s) for d, s in zip(days, sent_per_day, strict=True)]
    vote_rates = [rate("vote", d, s) for d, s in zip(days, sent_per_day, strict=True)]
    sent_total = sum(sent_per_day)
    clickers = sum(v.get("click", 0) for v in engagement.values())
    voters = sum(v.get("vote", 0) for v in engagement.values())
    engagement_series = [("click-through", COLOURS["click"], click_rates), ("voted", COLOURS["vote"], vote_rates)]
    engagement_chart = charts.line_chart(
        labels=labels,
        series=engagement_series,
        title="Email engagement per day: subscribers who clicked or voted, per digest sent",
        percent=True,
        x_label="day",
        y_label="% of digests sent",
    )

    versions = list(
        ModelVersion.objects.filter(status__in=[ModelStatus.READY, ModelStatus.REJECTED])
        .order_by("-created_at")
        .values("pk", "created_at", "metrics", "is_active", "status", "n_interactions", "train_seconds")[
            :MODEL_VERSIONS_SHOWN
        ]
    )[::-1]
    version_labels = [f"v{v['pk']}" for v in versions]
    model_series = [
        (key, colour, [(v["metrics"] or {}).get(key) for v in versions])
        for key, colour in (("ndcg@10", "#6a1b9a"), ("recall@10", "#00838f"), ("recall@50", "#9e9d24"))
    ]
    model_chart = charts.line_chart(
        labels=version_labels,
        series=model_series,
        title="Offline metrics of each trained model version",
        x_label="model version (oldest to newest)",
        y_label="metric value (0-1)",
    )
    active = ModelVersion.objects.defer("artifact").filter(is_active=True).first()

    return {
        "subscribers": subscribers_with_state(),
        "today": {s.value: today_counts.get(s.value, 0) for s in DeliveryStatus},
        "month": {s.value: month_counts.get(s.value, 0) for s in DeliveryStatus},
        "days": DAYS,
        "delivery_chart": delivery_chart,
        "engagement_chart": engagement_chart,
        "click_rate": clickers / sent_total if sent_total else None,
        "vote_rate": voters / sent_total if sent_total else None,
        "sent_total": sent_total,
        "model_chart": model_chart,
        "model_versions": versions[::-1][:5],
        "active_model": active,
        "ingests": last_ingests(),
        "breaker": breaker_held(),
        "links": {
            "breaker": admin_changelist_url(DigestDelivery, held="breaker"),
            "failed_today": admin_changelist_url(
                DigestDelivery, status__exact="failed", created_at__gte=today.date().isoformat()
            ),
            "subscribers": admin_changelist_url(Profile),
            "suppressed": admin_changelist_url(Profile, state="suppressed"),
            "versions": admin_changelist_url(ModelVersion),
            "schedules": _schedules_url(),
        },
    }


def _schedules_url() -> str:
    from django_celery_beat.models import PeriodicTask

    return admin_changelist_url(PeriodicTask)


def dashboard_view(request):
    context = {
        **admin.site.each_context(request),
        "title": "Paperboy dashboard",
        "subtitle": None,
        **dashboard_context(now=timezone.now()),
    }
    request.current_app = admin.site.name
    return TemplateResponse(request, "admin/paperboy/dashboard.html", context)


# Staff only, with the admin's login redirect and CSRF/cache handling.
admin_dashboard = admin.site.admin_view(dashboard_view)
