"""Demo and benchmark data: confirmed subscribers with varied preferences and ratings.

Used by ``manage.py seed_demo``, ``manage.py bootstrap`` and the benchmarks.
Users get interests drawn from the categories present in the database and
rate papers with Zipf-like popularity inside those interests, so the
recommender has real structure to learn. Bulk inserts keep 100k users fast.

Ratings fall mostly on earlier papers: of the latest announced day's papers in a
reader's fields at most ``LATEST_DAY_RATED`` are rated, so the day's papers are
still new to them and their next digest has something to send (a reader who had
rated all of them would be skipped by every tick). ``demo_readers_due_soon``
makes a few of them due within minutes, so a newcomer sees the scheduler at work.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from .models import Frequency, Interaction, InteractionKind, InteractionSource, Paper, Profile
from .subscriptions.schedule import next_send_at
from .subscriptions.topics import topics_default_create, topics_default_for_users

User = get_user_model()

TIME_ZONES = [
    "UTC",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Asia/Shanghai",
    "Asia/Kolkata",
    "Australia/Sydney",
    "America/Sao_Paulo",
]
KINDS = [
    (InteractionKind.UPVOTE, 0.35),
    (InteractionKind.SAVE, 0.15),
    (InteractionKind.THUMBS_UP, 0.2),
    (InteractionKind.CLICK, 0.2),
    (InteractionKind.THUMBS_DOWN, 0.05),
    (InteractionKind.NOT_INTERESTED, 0.05),
]
LATEST_DAY_RATED = 1 / 3
"""Share of the latest announced day's papers in a reader's fields that the seeding may rate."""


@transaction.atomic
def demo_users_create(
    *, count: int, seed: int = 0, prefix: str = "demo", min_ratings: int = 5, max_ratings: int = 30
) -> list[int]:
    """Create ``count`` confirmed subscribers with ratings; return their user ids."""
    rng = random.Random(seed)
    papers = list(Paper.objects.values_list("id", "categories", "announced_on"))
    latest_day = max((day for _, _, day in papers if day is not None), default=None)
    latest = {pid for pid, _, day in papers if day is not None and day == latest_day}
    by_category: dict[str, list[int]] = {}
    for pid, cats, _ in papers:
        for c in cats.split():
            by_category.setdefault(c, []).append(pid)
    categories = sorted(by_category, key=lambda c: -len(by_category[c]))[:20] or ["cs.LG"]
    start = User.objects.filter(username__startswith=f"{prefix}_").count()
    now = timezone.now()
    users = [
        User(
            username=f"{prefix}_{start + i}",
            email=f"{prefix}{start + i}@paperboy.localhost",
            password=make_password(None),
        )
        for i in range(count)
    ]
    User.objects.bulk_create(users, batch_size=2000)
    users = list(User.objects.filter(username__in=[u.username for u in users]).order_by("id"))
    EmailAddress.objects.bulk_create(
        [EmailAddress(user=u, email=u.email, verified=True, primary=True) for u in users], batch_size=2000
    )
    profiles, topics, interactions = [], [], []
    for u in users:
        interests = rng.sample(categories, k=min(len(categories), rng.choice([1, 1, 2, 3])))
        profile = Profile(
            user=u,
            confirmed_at=now,
            onboarded_at=now,
            frequency=rng.choices([Frequency.DAILY, Frequency.WEEKLY], weights=[0.85, 0.15])[0],
            weekday=rng.randrange(7),
            send_time=dt.time(rng.choice([6, 7, 8, 9]), rng.choice([0, 15, 30, 45])),
            time_zone=rng.choice(TIME_ZONES),
            papers_per_email=rng.choice([5, 10, 10, 15]),
        )
        profile.next_digest_at = next_send_at(profile, after=now)
        profiles.append(profile)
        topics.append((u, {"categories": interests}))  # the default topic holds the reader's interests
        pool = [pid for c in interests for pid in by_category.get(c, [])]
        if not pool:
            continue
        for pid in _ratings_drawn(rng, sorted(set(pool)), latest, rng.randint(min_ratings, max_ratings)):
            kind = rng.choices([k for k, _ in KINDS], weights=[w for _, w in KINDS])[0]
            interactions.append(
                Interaction(
                    user=u,
                    paper_id=pid,
                    kind=kind,
                    source=InteractionSource.WEB,
                    created_at=now - dt.timedelta(minutes=rng.randrange(60 * 24 * 30)),
                )
            )
    Profile.objects.bulk_create(profiles, batch_size=2000)
    topics_default_create(users=topics)
    Interaction.objects.bulk_create(interactions, batch_size=5000, ignore_conflicts=True)
    _recount_local_upvotes()
    return [u.pk for u in users]


def _ratings_drawn(rng: random.Random, pool: list[int], latest: set[int], wanted: int) -> set[int]:
    """Up to ``wanted`` papers of ``pool``, Zipf-like (a few papers in each field attract most ratings),
    of which at most ``LATEST_DAY_RATED`` of the pool's latest-day papers (the rest stay new)."""
    cum = list(itertools.accumulate(1.0 / (rank + 1) ** 0.8 for rank in range(len(pool))))
    rng.shuffle(pool)
    on_latest = sum(pid in latest for pid in pool)
    latest_cap = int(on_latest * LATEST_DAY_RATED)
    n = min(wanted, len(pool) - on_latest + latest_cap)
    chosen: set[int] = set()
    taken_latest = 0
    while len(chosen) < n:
        pid = rng.choices(pool, cum_weights=cum)[0]
        if pid in chosen or (pid in latest and taken_latest >= latest_cap):
            continue
        chosen.add(pid)
        taken_latest += pid in latest
    return chosen


def demo_readers_due_soon(
    *, now: dt.datetime | None = None, count: int = 4, prefix: str = "demo", minutes: tuple[int, int] = (2, 8)
) -> list[int]:
    """Make ``count`` daily demo readers due between ``minutes`` from ``now`` (evenly spread); return their ids.

    Used by ``bootstrap`` so that the beat tick, the worker and SMTP deliver personalised digests
    into the outbox a few minutes after ``make run``. Readers with the most papers new to them go first.
    """
    now = now or timezone.now()
    profiles = list(
        Profile.objects.filter(user__username__startswith=f"{prefix}_", frequency=Frequency.DAILY).order_by("pk")
    )
    latest_day = Paper.objects.order_by("-announced_on").values_list("announced_on", flat=True).first()
    fresh = Paper.objects.filter(announced_on=latest_day).values_list("id", "categories")
    rated = set(Interaction.objects.filter(user__in=[p.user_id for p in profiles]).values_list("user_id", "paper_id"))
    topics = topics_default_for_users(user_ids=[p.user_id for p in profiles])

    def new_to(profile) -> int:
        wanted = set(topics[profile.user_id].categories) if profile.user_id in topics else set()
        return sum(1 for pid, cats in fresh if set(cats.split()) & wanted and (profile.user_id, pid) not in rated)

    chosen = sorted(profiles, key=lambda p: (-new_to(p), p.pk))[:count]
    low, high = minutes
    for i, profile in enumerate(chosen):
        step = (high - low) * i / max(len(chosen) - 1, 1)
        profile.next_digest_at = now + dt.timedelta(minutes=low + step)
    Profile.objects.bulk_update(chosen, ["next_digest_at"])
    return [p.user_id for p in chosen]


def _recount_local_upvotes() -> None:
    from django.db.models import Count, OuterRef, Subquery, Value
    from django.db.models.functions import Coalesce

    votes = (
        Interaction.objects.filter(paper=OuterRef("pk"), kind=InteractionKind.UPVOTE)
        .order_by()
        .values("paper")
        .annotate(c=Count("*"))
        .values("c")
    )
    Paper.objects.update(local_upvotes=Coalesce(Subquery(votes), Value(0)))
