"""Small helpers to create realistic rows in tests (no mocks: real database rows)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.utils import timezone

from recommender.digest import services as digest
from recommender.interactions.services import interaction_record
from recommender.models import DeliveredPaper, DigestDelivery, Paper, Profile
from recommender.subscriptions.services import profile_confirm, profile_update
from recommender.subscriptions.topics import TOPIC_FILTERS, topic_default, topic_update

_ids = itertools.count(1)

TOPICS = {
    "cs.LG": "graph neural network message passing node classification over large graphs with spectral convolution",
    "cs.CL": "language model tokenization translation of multilingual text corpora with transformer decoders",
    "cs.CV": "image segmentation convolutional detection of objects in pixels from camera video frames",
}


def make_paper(
    *,
    category: str = "cs.LG",
    title: str | None = None,
    abstract: str | None = None,
    announced_on: dt.date | None = None,
    **fields,
) -> Paper:
    n = next(_ids)
    topic = TOPICS.get(category, "general science")
    return Paper.objects.create(
        arxiv_id=fields.pop("arxiv_id", f"2611.{n:05d}"),
        title=title or f"On {topic.split()[0]} {topic.split()[1]} study number {n}",
        abstract=abstract or f"We study {topic}. Our method improves {topic.split()[-1]} results. Case {n}.",
        authors=fields.pop("authors", [f"Author {n}", "Second Author"]),
        primary_category=category,
        categories=fields.pop("categories", category),
        announced_on=announced_on or timezone.now().date(),
        announce_type="new",
        sources=["arxiv-rss"],
        **fields,
    )


FIELDS = ("cs.LG", "cs.CL", "cs.CV")


def make_community(*, papers_per_field: int = 12, readers_per_field: int = 6, days_ago: int = 3):
    """Three fields and readers who each stick to one; return ``({field: papers}, {field: readers})``.

    Reader ``r`` of a field upvotes its papers ``r`` to ``r + readers_per_field - 1`` (announced ``days_ago`` days
    ago), so neighbours overlap within a field and never across fields.
    """
    old = timezone.now().date() - dt.timedelta(days=days_ago)
    papers = {c: [make_paper(category=c, announced_on=old) for _ in range(papers_per_field)] for c in FIELDS}
    readers: dict[str, list] = {}
    for c, ps in papers.items():
        for r in range(readers_per_field):
            user = make_subscriber(f"{c.replace('.', '')}-{r}@example.org")
            for p in ps[r : r + readers_per_field]:
                interaction_record(user=user, paper=p, kind="upvote")
            readers.setdefault(c, []).append(user)
    return papers, readers


def make_subscriber(email: str, *, password: str | None = None, confirmed: bool = True, **prefs):
    User = get_user_model()
    user = User.objects.create_user(username=email.split("@")[0] + str(next(_ids)), email=email, password=password)
    EmailAddress.objects.create(user=user, email=email, verified=confirmed, primary=True)
    if confirmed:
        profile_confirm(user=user)
    # Re-read: the profile cached on ``user`` by the creation signal predates confirmation.
    user.profile = Profile.objects.get(user=user)
    topic_update(topic=topic_default(user=user), **{k: prefs.pop(k) for k in TOPIC_FILTERS if k in prefs})
    if prefs:
        for k, v in prefs.items():
            setattr(user.profile, k, v)
        user.profile.save()
    return user


def preferences_set(user, **prefs):
    """Set a subscriber's preferences through the services: profile fields on the profile (rescheduled), the
    five filters (categories, keywords, authors) on their default topic."""
    topic_update(topic=topic_default(user=user), **{k: prefs.pop(k) for k in TOPIC_FILTERS if k in prefs})
    return profile_update(profile=Profile.objects.get(user=user), **prefs)


def subscriber(email: str, **prefs):
    """A confirmed subscriber (cs.LG unless told) whose preferences are set through the services.

    Unlike ``make_subscriber``, which sets fields as given, this reschedules: ``next_digest_at`` is what the
    preferences make it.
    """
    user = make_subscriber(email)
    prefs.setdefault("categories", ["cs.LG"])
    preferences_set(user, **prefs)
    user.refresh_from_db()
    return user


def profile_of(user) -> Profile:
    """The subscriber's profile, fresh from the database (``user.profile`` may be cached from before a change)."""
    return Profile.objects.get(user=user)


def due_now(user, *, at: dt.datetime) -> None:
    """Make ``user`` due at ``at`` (as if their send time had come)."""
    Profile.objects.filter(user=user).update(next_digest_at=at)


def delivered_ids(delivery, section: str = "papers") -> list[int]:
    """The paper ids a delivery lists in ``section`` ("papers" or "trending"), in order: its plan rows."""
    rows = DeliveredPaper.objects.filter(delivery=delivery, section=section).order_by("rank")
    return list(rows.values_list("paper_id", flat=True))


def plan_and_send(now: dt.datetime):
    """Do what one beat tick does at ``now``: plan whoever is due, then send that batch; return its outcome."""
    return digest.digest_send_batch(user_ids=digest.digest_plan(now=now), now=now)


def make_delivery(
    user, *, period_key: str, papers=(), trending=(), reasons: dict | None = None, **fields
) -> DigestDelivery:
    """A delivery with its plan rows (``DeliveredPaper``), as the plan phase stores them; ``planned_at`` set."""
    reasons = defaultdict(str, {int(k): v for k, v in (reasons or {}).items()})
    fields.setdefault("planned_at", timezone.now())
    delivery = DigestDelivery.objects.create(user=user, period_key=period_key, **fields)
    rows = [
        DeliveredPaper(delivery=delivery, user=user, paper_id=pid, section="papers", rank=i, reason=reasons[pid])
        for i, pid in enumerate(papers, start=1)
    ] + [
        DeliveredPaper(delivery=delivery, user=user, paper_id=pid, section="trending", rank=i)
        for i, pid in enumerate(trending, start=1)
    ]
    DeliveredPaper.objects.bulk_create(rows)
    return delivery
