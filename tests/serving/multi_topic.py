"""The bootstrap world with several topics per reader (issue 15 part 2), for the serving and digest invariants.

Every seeded reader keeps their default topic (their interests) and gets a second one on another field
with an exclude keyword on every other reader and a dial from 0 to 1 in turn; two readers in three get
a third, field-free topic led by include keywords. Every other vote of each reader moves under the
second topic, and each reader votes one paper down under the third topic (or the second): a paper the
second topic would otherwise show first.
"""

from __future__ import annotations

import re

from django.db.models import Q

from recommender.models import Interaction, InteractionKind, Paper, Topic
from recommender.serving.services import VERBS
from recommender.subscriptions.topics import topic_create, topics_for_users

from .test_reasons import _short

DIALS = (0.0, 0.25, 0.5, 0.75, 1.0)
EXCLUDED_WORD = "benchmark"
INCLUDED_WORDS = ["language", "speech"]
# The reason a reader with several topics is given for a pick matching one of the topic's include rules.
MATCHES = re.compile(r"^Matches your topic “(?P<topic>[^”]+)”: (?P<what>keyword|author) “(?P<term>[^”]+)”$")


def topics_add(profiles) -> dict[int, list[Topic]]:
    """Give every reader of ``profiles`` more topics and topic votes (see the module docstring)."""
    trending = list(Paper.objects.order_by("-trending_score", "id").values_list("id", "categories"))
    for i, profile in enumerate(profiles):
        user = profile.user
        default = topics_for_users(user_ids=[user.pk])[user.pk][0]
        field = "cs.AI" if "cs.LG" in (default.categories or []) else "cs.LG"
        second = topic_create(
            user=user,
            name=f"Second line {i}",
            categories=[field],
            exclude_keywords=[EXCLUDED_WORD] if i % 2 else [],
            trending_weight=DIALS[i % len(DIALS)],
        )
        third = None
        if i % 3:
            third = topic_create(user=user, name="Language & speech", include_keywords=INCLUDED_WORDS)
        votes = list(Interaction.objects.filter(user=user).order_by("id"))
        Interaction.objects.filter(pk__in=[v.pk for v in votes[::2]]).update(topic=second)
        acted = {v.paper_id for v in votes}
        target = next(pid for pid, cats in trending if field in cats.split() and pid not in acted)
        Interaction.objects.create(user=user, paper_id=target, kind=InteractionKind.THUMBS_DOWN, topic=third or second)
    return topics_for_users(user_ids=[p.user_id for p in profiles])


def topic_eligible(topic: Topic, paper_ids, *, papers: dict[int, tuple[set[str], str, str]]) -> set[int]:
    """The papers of ``paper_ids`` that ``topic``'s filters let through: its categories (when it has some),
    none of its exclude keywords or authors. ``papers``: id -> (categories, lower-cased text, authors)."""
    out = set()
    for pid in paper_ids:
        cats, text, authors = papers[pid]
        if topic.categories and not cats & set(topic.categories):
            continue
        if any(_whole(term, text) for term in topic.exclude_keywords or ()):
            continue
        if any(_whole(term, authors) for term in topic.exclude_authors or ()):
            continue
        out.add(pid)
    return out


def papers_facts() -> dict[int, tuple[set[str], str, str]]:
    return {
        pid: (set(cats.split()) | {primary}, f"{title} {abstract}".lower(), "; ".join(authors or []).lower())
        for pid, cats, primary, title, abstract, authors in Paper.objects.values_list(
            "id", "categories", "primary_category", "title", "abstract", "authors"
        )
    }


def topic_votes(topic: Topic) -> dict[str, set[str]]:
    """What counts for ``topic`` as ``test_reasons.check_reason`` reads it: shortened title -> verbs (its own
    votes and the account-wide ones)."""
    acted: dict[str, set[str]] = {}
    votes = Interaction.objects.filter(Q(topic=topic) | Q(topic__isnull=True), user_id=topic.user_id)
    for title, kind in votes.values_list("paper__title", "kind"):
        if kind in VERBS:
            acted.setdefault(_short(title), set()).add(VERBS[kind])
    return acted


def _whole(term: str, text: str) -> bool:
    term = term.strip().lower()
    return bool(term) and re.search(rf"\b{re.escape(term)}\b", text) is not None
