"""Trending: community votes decayed by age, with a boost so brand-new papers are not buried.

    score = (votes + NEW_BOOST * is_new) / (age_hours + 2) ** GRAVITY

``votes`` counts Hugging Face upvotes plus Paperboy upvotes (each local upvote
weighs ``LOCAL_WEIGHT``: our users are the audience we rank for). ``age`` runs
from the announcement (or Hugging Face publication) date at 00:00 UTC. A paper
announced in the last ``NEW_HOURS`` hours gets ``NEW_BOOST`` phantom votes, so
on announcement day it can sit beside week-old papers with a few real votes
instead of starting at zero. ``GRAVITY`` 1.5 halves a paper's score roughly
every two days in its first week (the Hacker News shape, slower clock).

The score is stored on ``Paper.trending_score`` and refreshed after ingestion
and hourly, so the trending page is one indexed ``ORDER BY``.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from ..models import Paper

GRAVITY = 1.5
NEW_BOOST = 3.0
NEW_HOURS = 36
LOCAL_WEIGHT = 2.0
WINDOW_DAYS = 30


def trending_score(*, hf_upvotes: int, local_upvotes: int, age_hours: float) -> float:
    """Return the trending score of one paper (pure, documented above)."""
    age_hours = max(age_hours, 0.0)
    votes = hf_upvotes + LOCAL_WEIGHT * local_upvotes
    if age_hours < NEW_HOURS:
        votes += NEW_BOOST
    return votes / (age_hours + 2.0) ** GRAVITY


def _published(paper) -> dt.date | None:
    return paper.announced_on or paper.hf_published_on or (paper.submitted_at.date() if paper.submitted_at else None)


@transaction.atomic
def trending_refresh(*, now: dt.datetime | None = None) -> int:
    """Recompute ``trending_score`` for papers of the last ``WINDOW_DAYS``; zero older ones."""
    now = now or timezone.now()
    since = (now - dt.timedelta(days=WINDOW_DAYS)).date()
    recent = Paper.objects.filter(announced_on__gte=since) | Paper.objects.filter(hf_published_on__gte=since)
    papers = list(recent.only("id", "announced_on", "hf_published_on", "submitted_at", "hf_upvotes", "local_upvotes"))
    for p in papers:
        day = _published(p)
        start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC) if day else now
        p.trending_score = trending_score(
            hf_upvotes=p.hf_upvotes,
            local_upvotes=p.local_upvotes,
            age_hours=(now - start).total_seconds() / 3600.0,
        )
    Paper.objects.bulk_update(papers, ["trending_score"], batch_size=1000)
    Paper.objects.exclude(pk__in=recent.values("pk")).exclude(trending_score=0).update(trending_score=0.0)
    return len(papers)
