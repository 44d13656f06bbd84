"""Every "Why" line is true for the reader it is shown to (issue 18 item 6).

Over every seeded subscriber of the bootstrap world, with a trained model and with the content-only
fallback, and over every place a reason is shown (For you on the web, the digest's For you section):
a category a reason names is one the reader follows, and "Similar to “X” you saved / upvoted / liked /
opened" names a paper the reader acted on in exactly that way. "Why: Trending in cs.CV" was once shown
to a reader who follows only cs.LG.
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from recommender.digest.context import digest_build
from recommender.models import Interaction, Paper
from recommender.serving.services import VERBS
from recommender.subscriptions.topics import topic_default

from .test_invariants import world  # noqa: F401  (the bootstrap world fixture, both modes)

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

SIMILAR = re.compile(r"^Similar to “(?P<title>.+)” you (?P<verb>\w+)$")
CODE = re.compile(r"\b[a-z]+(?:-[a-z]+)?\.[A-Za-z]{2}\b|\b[a-z]+-[a-z]+\b")


def _short(title: str) -> str:
    title = " ".join(title.split())
    return title if len(title) <= 70 else title[:69].rstrip() + "…"


def check_reason(reason: str, *, fields: set[str], acted: dict[str, set[str]], known_categories: set[str], what: str):
    """``acted``: shortened title -> the verbs that are true of it for this reader."""
    assert reason.strip(), f"{what}: an empty reason"
    similar = SIMILAR.match(reason)
    if similar:
        title, verb = similar["title"], similar["verb"]
        assert title in acted, f"{what}: {reason!r} names a paper the reader never acted on"
        assert verb in acted[title], f"{what}: {reason!r}, but the reader {sorted(acted[title])} it"
        return
    named = {c for c in CODE.findall(reason) if c in known_categories}
    assert named <= fields, f"{what}: {reason!r} names {sorted(named - fields)}, not one of {sorted(fields)}"
    if not fields:
        assert not named, f"{what}: {reason!r} names a category to a reader who picked none"


def reader_facts(profile):
    titles = dict(Paper.objects.values_list("id", "title"))
    acted: dict[str, set[str]] = {}
    for pid, kind in Interaction.objects.filter(user_id=profile.user_id).values_list("paper_id", "kind"):
        if kind in VERBS:
            acted.setdefault(_short(titles[pid]), set()).add(VERBS[kind])
    return set(topic_default(user=profile.user_id).categories or []), acted


def test_every_reason_is_true_for_its_reader(world, client):  # noqa: F811
    known = {c for cats, primary in Paper.objects.values_list("categories", "primary_category") for c in cats.split()}
    known |= set(Paper.objects.values_list("primary_category", flat=True))
    shown = 0
    for profile in world.profiles:
        fields, acted = reader_facts(profile)
        client.force_login(profile.user)
        for pick in client.get(reverse("web:for_you")).context["picks"]:
            what = f"{world.mode} For you of {profile.user.username}"
            check_reason(pick.reason, fields=fields, acted=acted, known_categories=known, what=what)
            shown += 1
        content = digest_build(user=profile.user, now=timezone.now())
        for item in (content.context or {}).get("items", []):
            what = f"{world.mode} digest of {profile.user.username}"
            check_reason(item["reason"], fields=fields, acted=acted, known_categories=known, what=what)
            shown += 1
    assert shown > 100
