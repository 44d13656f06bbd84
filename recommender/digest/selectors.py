"""Read side of the digest: who is due, what is stranded, what each user already got.

Nothing here writes; claiming and marking live in ``services``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.conf import settings
from django.db.models import Max, Q, QuerySet
from django.db.models.functions import Coalesce

from ..models import (
    DeliveredPaper,
    DeliveredSection,
    DeliveryStatus,
    DigestDelivery,
    Frequency,
    Paper,
    Profile,
    Suppression,
)
from .sections import period_of

# The error prefixes the send phase writes (``services``) and the readers match: a message handed to the
# server with no answer (failed, never resent), and the untried rows of a batch the circuit breaker stopped
# (pending, retried later).
IN_DOUBT = "in-doubt"
BREAKER = "circuit breaker"

# How far back a first digest looks for papers (no previous digest to start from).
FIRST_LOOKBACK_DAYS = {Frequency.DAILY: 2, Frequency.WEEKLY: 7}
TRENDING_POOL = 300


def lease_seconds() -> int:
    """How long a claimed delivery may stay "sending" before the tick reconciles it."""
    return int(settings.PAPERBOY["DIGEST_LEASE_SECONDS"])  # its one default: digest_site/settings.py


def sendable_profiles() -> QuerySet[Profile]:
    return Profile.objects.filter(
        confirmed_at__isnull=False,
        user__is_active=True,
        suppression=Suppression.NONE,
    ).exclude(frequency=Frequency.OFF)


def subscribers_due(*, now: dt.datetime) -> QuerySet[Profile]:
    """Profiles whose precomputed ``next_digest_at`` has come (one indexed query), except those paused now."""
    return (
        sendable_profiles()
        .filter(next_digest_at__lte=now)
        .exclude(paused_from__lte=now, paused_until__gt=now)
        .order_by("next_digest_at", "pk")
    )


def deliveries_stranded(*, now: dt.datetime) -> QuerySet[DigestDelivery]:
    """Deliveries a lost task left behind: pending for longer than a lease, or claimed and never handed to SMTP.

    A "sending" row whose ``message_id`` is set was handed to the mail server
    and is in doubt; it is not here (see ``services.deliveries_reconcile``).
    """
    stale = now - dt.timedelta(seconds=lease_seconds())
    return DigestDelivery.objects.filter(
        Q(status=DeliveryStatus.PENDING, created_at__lte=stale)
        | Q(status=DeliveryStatus.SENDING, claimed_at__lte=stale, message_id="")
    )


def deliveries_in_doubt(*, now: dt.datetime) -> QuerySet[DigestDelivery]:
    stale = now - dt.timedelta(seconds=lease_seconds())
    return DigestDelivery.objects.filter(status=DeliveryStatus.SENDING, claimed_at__lte=stale).exclude(message_id="")


def deliveries_held_by_breaker() -> QuerySet[DigestDelivery]:
    """Deliveries a batch stopped by the circuit breaker left untried: pending, their error says why."""
    return DigestDelivery.objects.filter(status=DeliveryStatus.PENDING, error__startswith=BREAKER)


def deliveries_open(*, user_ids: list[int]) -> QuerySet[DigestDelivery]:
    """Planned deliveries of these users that a send task may still claim (an unplanned one waits for the plan)."""
    return DigestDelivery.objects.filter(
        user_id__in=user_ids, status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING], planned_at__isnull=False
    ).order_by("pk")


def deliveries_unplanned(*, now: dt.datetime) -> QuerySet[DigestDelivery]:
    """Open deliveries whose selection is not stored yet: the plan phase's work, resumed after a crash.

    Pending ones, and "sending" ones never handed to the mail server whose lease ran out (claimed by a
    worker of the previous release, which ranked in the send task, and lost).
    """
    stale = now - dt.timedelta(seconds=lease_seconds())
    return DigestDelivery.objects.filter(
        Q(status=DeliveryStatus.PENDING) | Q(status=DeliveryStatus.SENDING, claimed_at__lte=stale, message_id=""),
        planned_at__isnull=True,
    ).order_by("pk")


def papers_already_sent(*, user_ids: list[int], among: list[int] | None = None) -> dict[int, set[int]]:
    """Paper ids each user got in earlier sent digests (For you and Trending), from the plan rows.

    ``among`` limits the answer to those papers (the candidates and the trending pool): the (user, paper)
    index answers it without reading everything a user was ever sent.
    """
    sent: dict[int, set[int]] = defaultdict(set)
    rows = DeliveredPaper.objects.filter(user_id__in=user_ids, delivery__status=DeliveryStatus.SENT)
    if among is not None:
        rows = rows.filter(paper_id__in=sorted(set(among)))
    for uid, pid in rows.values_list("user_id", "paper_id"):
        sent[uid].add(pid)
    return sent


def watermarks(*, user_ids: list[int], profiles: dict[int, Profile], now: dt.datetime) -> dict[int, dt.date]:
    """The announcement day up to which each user has been served.

    It is the newest announcement day among the papers of their last sent
    digest: papers announced later are "new". Deriving it from what was sent
    (not from the send time) means papers ingested after an early-morning
    digest are still new the next day. A reader with one email per topic got
    several digests that period: the newest day among all of them.
    """
    last: dict[int, list[int]] = {}  # user id -> the sent deliveries of their last period
    period: dict[int, str] = {}
    sent_day: dict[int, dt.date] = {}
    rows = (
        # A "nothing new" note (sent, its skip reason kept) served no papers: it does not move the watermark.
        DigestDelivery.objects.filter(user_id__in=user_ids, status=DeliveryStatus.SENT, skip_reason="")
        .order_by("user_id", "-sent_at")
        .values_list("user_id", "pk", "sent_at", "period_key")
    )
    for uid, pk, sent_at, key in rows:
        if uid not in last:
            last[uid], period[uid] = [], period_of(key)
            sent_day[uid] = (sent_at or now).date()
        if period_of(key) == period[uid]:
            last[uid].append(pk)
    days = dict(
        DeliveredPaper.objects.filter(
            delivery_id__in=[pk for pks in last.values() for pk in pks], section=DeliveredSection.PAPERS
        )
        .values("delivery_id")
        .annotate(day=Max(Coalesce("paper__announced_on", "paper__hf_published_on")))
        .values_list("delivery_id", "day")
    )
    result = {}
    for uid in user_ids:
        if uid in last:
            known = max((days[pk] for pk in last[uid] if days.get(pk)), default=None)
            result[uid] = known if known else sent_day[uid] - dt.timedelta(days=1)
        else:
            profile = profiles.get(uid)
            lookback = FIRST_LOOKBACK_DAYS.get(profile.frequency if profile else Frequency.DAILY, 2)
            result[uid] = now.date() - dt.timedelta(days=lookback + 1)
    return result


def papers_announced_after(*, day: dt.date, until: dt.date) -> dict[int, dt.date]:
    """Paper id -> announcement day for papers announced in ``(day, until]``.

    The day is ``announced_on``, else (a paper only Hugging Face listed) ``hf_published_on``. Written as two
    ranges, not a filter on ``COALESCE(...)``, so that each is an index range scan: the COALESCE read every
    paper of the archive (120 ms a call at 100k papers, once per digest preview and plan chunk).
    """
    window = Q(announced_on__gt=day, announced_on__lte=until) | Q(
        announced_on__isnull=True, hf_published_on__gt=day, hf_published_on__lte=until
    )
    return dict(
        Paper.objects.filter(window)
        .order_by()
        .annotate(day=Coalesce("announced_on", "hf_published_on"))
        .values_list("pk", "day")
    )


def trending_pool(*, limit: int = TRENDING_POOL) -> list[tuple[int, set[str]]]:
    """The community's favourites right now: (paper id, categories), best first."""
    rows = (
        Paper.objects.filter(trending_score__gt=0)
        .order_by("-trending_score", "-id")
        .values_list("pk", "categories", "primary_category")[:limit]
    )
    return [(pk, set(cats.split()) | ({primary} if primary else set())) for pk, cats, primary in rows]
