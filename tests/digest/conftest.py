"""Helpers for digest tests: subscribers with real schedules, papers announced on given days."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.factories import make_paper, make_subscriber, preferences_set

UTC = dt.UTC


def subscriber(email: str, **prefs):
    """A confirmed subscriber whose preferences (and so ``next_digest_at``) are set through the service."""

    user = make_subscriber(email)
    prefs.setdefault("categories", ["cs.LG"])
    # Fresh from the database: ``user.profile`` may be cached from before the confirmation.
    preferences_set(user, **prefs)
    user.refresh_from_db()
    return user


def due_now(user, *, at: dt.datetime) -> None:
    """Make ``user`` due at ``at`` (as if their send time had come)."""
    from recommender.models import Profile

    Profile.objects.filter(user=user).update(next_digest_at=at)


@pytest.fixture
def papers_today():
    today = dt.datetime.now(UTC).date()
    papers = [
        make_paper(
            category="cs.LG",
            announced_on=today,
            hf_upvotes=10 - i,
            trending_score=1.0 - i / 10,
            authors=[f"Author {j}" for j in range(1, 8)] if i == 0 else ["Ada Lovelace", "Alan Turing"],
            github_repo="https://github.com/example/repo" if i == 0 else "",
        )
        for i in range(5)
    ]
    # The first one is also on Hugging Face (so it has an HF link).
    papers[0].sources = ["arxiv-rss", "hf-daily"]
    papers[0].save(update_fields=["sources"])
    return papers


@pytest.fixture
def trending_old():
    """Community favourites announced a week ago (not new, but trending)."""
    day = dt.datetime.now(UTC).date() - dt.timedelta(days=6)
    return [make_paper(category="cs.LG", announced_on=day, hf_upvotes=90, trending_score=5.0 + i) for i in range(2)]
