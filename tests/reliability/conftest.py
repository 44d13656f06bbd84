"""Fixtures for fault-injection and hostile-input tests: bulk subscribers and fresh papers.

Everything is real (database, Redis, Celery workers, an SMTP server, a local
HTTP server); faults are injected at the edges (SIGKILL, a Redis restart,
SMTP error replies, a database that cannot be reached, a dropped HTTP body).
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.utils import timezone

_seq = itertools.count(1)


def bulk_subscribers(n: int, *, prefix: str, due_at: dt.datetime | None = None) -> list[int]:
    """``n`` confirmed daily subscribers in cs.LG, all due at ``due_at``; return their user ids.

    Bulk inserts (no signals): a thousand subscribers in well under a second.
    """
    from allauth.account.models import EmailAddress
    from django.contrib.auth import get_user_model

    from recommender.models import Profile
    from recommender.subscriptions.topics import topics_default_create

    User = get_user_model()
    run = next(_seq)
    now = timezone.now()
    due_at = due_at or now - dt.timedelta(minutes=1)
    users = User.objects.bulk_create(
        [User(username=f"{prefix}{run}-{i}", email=f"{prefix}{i}@example.org", password="!") for i in range(n)]
    )
    if users[0].pk is None:  # backends that do not return ids from bulk inserts
        users = list(User.objects.filter(username__startswith=f"{prefix}{run}-"))
    EmailAddress.objects.bulk_create([EmailAddress(user=u, email=u.email, verified=True, primary=True) for u in users])
    Profile.objects.bulk_create([Profile(user=u, confirmed_at=now, next_digest_at=due_at) for u in users])
    topics_default_create(users=[(u, {"categories": ["cs.LG"]}) for u in users])
    return [u.pk for u in users]


@pytest.fixture
def fresh_papers(db):
    """Three papers announced today in cs.LG: every subscriber has something new."""
    from tests.factories import make_paper

    today = timezone.now().date()
    return [
        make_paper(category="cs.LG", announced_on=today, hf_upvotes=10 - i, trending_score=1.0 - i / 10)
        for i in range(3)
    ]
