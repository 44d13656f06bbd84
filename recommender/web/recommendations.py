"""The signed-in user's ranking for the web (For you, the personal feed), with a fallback.

The ranking is the digest's, one topic at a time (``recommender.serving``): For you and the
feed of a topic rank with that topic's filters, dial and votes. Until a model is trained (or if
serving fails) the page still shows something useful and says why: trending papers in the
topic's categories that the reader has not rated yet.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..models import Interaction, Paper, Topic
from ..papers import selectors
from ..ranking.weights import NEGATIVE_KINDS
from ..serving import recommend_for_topics, recommend_for_users
from ..subscriptions.topics import topic_default

logger = logging.getLogger(__name__)


@dataclass
class Pick:
    paper: Paper
    reason: str


def picks_for(*, user, n: int = 20, topic: Topic | None = None, trending_weight: float | None = None) -> list[Pick]:
    """The user's top ``n`` papers under ``topic`` (None: their default topic) with the one-line reason for each.

    ``trending_weight``: rank as if the topic's dial were there (the topic page's preview of an unsaved dial).
    """
    topic = topic or topic_default(user=user)
    recs = []
    try:
        if topic is not None:  # the topic as its own profile: its votes, its filters, its dial
            dial = {topic.pk: trending_weight} if trending_weight is not None else None
            recs = recommend_for_topics(topic_ids=[topic.pk], n=n, trending_weights=dial).get(topic.pk, [])
        else:  # an account without any topic (made by a bulk insert): ranked with no rules
            recs = recommend_for_users(user_ids=[user.id], n=n).get(user.id, [])
    except Exception:  # a broken model must not take the page down; the fallback below still ranks
        logger.exception("ranking failed for user %s", user.id)
    if recs:
        papers = selectors.papers_by_ids(ids=[r.paper_id for r in recs])
        reasons = {r.paper_id: r.reason for r in recs}
        return [Pick(p, reasons.get(p.id, "")) for p in papers]
    return _fallback(user=user, topic=topic, n=n)


def hidden_ids(*, user) -> set[int]:
    """Papers ``user`` voted down or marked not interested: no list shown to them includes these."""
    if not getattr(user, "is_authenticated", False):
        return set()
    return set(Interaction.objects.filter(user=user, kind__in=NEGATIVE_KINDS).values_list("paper_id", flat=True))


def _fallback(*, user, topic: Topic | None, n: int) -> list[Pick]:
    categories = list(topic.categories or []) if topic else []
    rated = Interaction.objects.filter(user=user).values("paper_id")
    qs = Paper.objects.exclude(pk__in=rated)
    if categories:
        qs = qs.in_any_category(categories)
    papers = list(qs.only(*selectors.CARD_FIELDS).order_by("-trending_score", "-hf_upvotes", "-id")[:n])
    picks = []
    for p in papers:
        mine = next((c for c in p.category_list if c in categories), "")
        picks.append(Pick(p, f"Trending in {mine}" if mine else "Trending on Paperboy"))
    return picks
