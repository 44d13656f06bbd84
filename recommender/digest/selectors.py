"""Read side of the digest: who is due, what is stranded, what each user already got.

Nothing here writes; claiming and marking live in ``services``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.conf import settings
from django.db.models import Q, QuerySet
from django.db.models.functions import Coalesce

from ..models import DeliveryStatus, DigestDelivery, Frequency, Paper, Profile, Suppression

# How far back a first digest looks for papers (no previous digest to start from).
FIRST_LOOKBACK_DAYS = {Frequency.DAILY: 2, Frequency.WEEKLY: 7}
TRENDING_POOL = 300


def lease_seconds() -> int:
    """How long a claimed delivery may stay "sending" before the tick reconciles it."""
    return int(getattr(settings, "PAPERBOY", {}).get("DIGEST_LEASE_SECONDS", 300))


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


def deliveries_open(*, user_ids: list[int]) -> QuerySet[DigestDelivery]:
    """Deliveries of these users that a send task may still claim."""
    return DigestDelivery.objects.filter(
        user_id__in=user_ids, status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING]
    ).order_by("pk")


def papers_already_sent(*, user_ids: list[int]) -> dict[int, set[int]]:
    """Paper ids each user got in earlier digests (For you and Trending)."""
    sent: dict[int, set[int]] = defaultdict(set)
    rows = DigestDelivery.objects.filter(user_id__in=user_ids, status=DeliveryStatus.SENT).values_list(
        "user_id", "papers", "trending"
    )
    for uid, papers, trending in rows:
        sent[uid].update(int(p) for p in papers or [])
        sent[uid].update(int(p) for p in trending or [])
    return sent


def watermarks(*, user_ids: list[int], profiles: dict[int, Profile], now: dt.datetime) -> dict[int, dt.date]:
    """The announcement day up to which each user has been served.

    It is the newest announcement day among the papers of their last sent
    digest: papers announced later are "new". Deriving it from what was sent
    (not from the send time) means papers ingested after an early-morning
    digest are still new the next day.
    """
    last: dict[int, list[int]] = {}
    rows = (
        DigestDelivery.objects.filter(user_id__in=user_ids, status=DeliveryStatus.SENT)
        .order_by("user_id", "-sent_at")
        .values_list("user_id", "papers", "sent_at")
    )
    sent_day: dict[int, dt.date] = {}
    for uid, papers, sent_at in rows:
        if uid not in last:
            last[uid] = [int(p) for p in papers or []]
            sent_day[uid] = (sent_at or now).date()
    days = dict(
        Paper.objects.filter(pk__in={p for ps in last.values() for p in ps})
        .annotate(day=Coalesce("announced_on", "hf_published_on"))
        .values_list("pk", "day")
    )
    result = {}
    for uid in user_ids:
        if uid in last:
            known = [days[p] for p in last[uid] if days.get(p)]
            result[uid] = max(known) if known else sent_day[uid] - dt.timedelta(days=1)
        else:
            profile = profiles.get(uid)
            lookback = FIRST_LOOKBACK_DAYS.get(profile.frequency if profile else Frequency.DAILY, 2)
            result[uid] = now.date() - dt.timedelta(days=lookback + 1)
    return result


def papers_announced_after(*, day: dt.date, until: dt.date) -> dict[int, dt.date]:
    """Paper id -> announcement day for papers announced in ``(day, until]``."""
    return dict(
        Paper.objects.annotate(day=Coalesce("announced_on", "hf_published_on"))
        .filter(day__gt=day, day__lte=until)
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
