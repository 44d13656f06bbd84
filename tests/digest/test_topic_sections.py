"""The digest with one section per topic (issue 15 part 2), over every seeded subscriber with several topics.

The bootstrap world (sample feed, 30 demo subscribers, trending, a trained model), each subscriber given
two or three topics with their own filters, dials and votes (``tests/serving/multi_topic.py``), planned
through the real plan phase (chunks of 7, one ranking call each, one row per topic) and read back as the
send phase reads it. For every subscriber:

- no paper twice in one email, across every topic section and Trending together;
- nothing voted down under any topic, nor anything else acted on, in any section;
- each paper matches the filters of the topic it is listed under, and ``DeliveredPaper.topic`` says which;
- the email has one heading per topic section, in topic order, each paper under its own topic's heading;
- every reason is true for that topic (its categories, its votes, its include keywords);
- the digest is as long as the subscriber asked while their topics have papers to give.

A single-topic reader's email has no topic heading at all (it is what it was before topics: the digest
invariants and the plan tests over the single-topic world hold it to that).
"""

from __future__ import annotations

import re

import pytest
from django.utils.html import escape

from recommender.digest import services
from recommender.digest.context import TRENDING_PER_DIGEST, digest_build, digest_build_planned, fields_of
from recommender.digest.render import render_digest, render_digest_whole
from recommender.digest.selectors import papers_announced_after, trending_pool, watermarks
from recommender.models import DeliveredPaper, DeliveryStatus, DigestDelivery, Interaction
from tests.serving.multi_topic import MATCHES, papers_facts, topic_eligible, topic_votes, topics_add
from tests.serving.test_reasons import check_reason

from .test_plan import ranking_calls, world  # noqa: F401  (the bootstrap world, due now; the call counter)

pytestmark = [pytest.mark.django_db, pytest.mark.slow]  # the bootstrapped world: a model is trained

NEGATIVE = {"thumbs_down", "not_interested"}


@pytest.fixture
def topics_world(world):  # noqa: F811
    world.all_topics = topics_add(world.profiles)
    assert all(len(world.all_topics[p.user_id]) >= 2 for p in world.profiles)
    world.acted, world.negative = {p.user_id: set() for p in world.profiles}, {p.user_id: set() for p in world.profiles}
    for uid, pid, kind in Interaction.objects.filter(user_id__in=world.acted).values_list(
        "user_id", "paper_id", "kind"
    ):
        world.acted[uid].add(pid)
        if kind in NEGATIVE:
            world.negative[uid].add(pid)
    world.papers = papers_facts()
    # Fresh papers of each subscriber (every seeded digest is the first: nothing sent before).
    world.fresh = {}
    for profile in world.profiles:
        mark = watermarks(user_ids=[profile.user_id], profiles={profile.user_id: profile}, now=world.now)
        world.fresh[profile.user_id] = set(papers_announced_after(day=mark[profile.user_id], until=world.now.date()))
    return world


def test_every_multi_topic_digest_keeps_the_section_invariants(topics_world, ranking_calls):  # noqa: F811
    world = topics_world  # noqa: F811
    services.digest_plan(now=world.now)
    rows_per_call = [sum(len(world.all_topics[p.user_id]) for p in world.profiles[i : i + 7]) for i in range(0, 30, 7)]
    assert ranking_calls == rows_per_call, "one ranking call per chunk, one row per topic"
    deliveries = {d.user_id: d for d in DigestDelivery.objects.all()}
    known = {c for cats, _, _ in world.papers.values() for c in cats}
    sent = 0
    for profile in world.profiles:
        uid, topics = profile.user_id, world.all_topics[profile.user_id]
        by_id = {t.pk: t for t in topics}
        delivery = deliveries[uid]
        what = f"multi-topic digest of {profile.user.username}"
        rows = list(
            DeliveredPaper.objects.filter(delivery=delivery)
            .order_by("section", "rank")
            .values_list("section", "paper_id", "topic_id", "reason")
        )
        papers = [(pid, tid, reason) for section, pid, tid, reason in rows if section == "papers"]
        trending = [pid for section, pid, _, _ in rows if section == "trending"]
        eligible = {t.pk: topic_eligible(t, world.fresh[uid], papers=world.papers) - world.acted[uid] for t in topics}
        everything = set().union(*eligible.values())
        if delivery.status == DeliveryStatus.SKIPPED:
            assert not everything, f"{what}: skipped with {len(everything)} eligible papers"
            continue
        listed = [pid for pid, _, _ in papers]
        together = listed + trending
        assert len(together) == len(set(together)), f"{what}: a paper twice across sections"
        assert not set(together) & world.acted[uid], (
            f"{what}: shows papers acted on (voted down: {world.negative[uid]})"
        )
        assert len(listed) == min(profile.papers_per_email, len(everything)), what
        order = [t.pk for t in topics]
        assert [order.index(tid) for _, tid, _ in papers] == sorted(order.index(tid) for _, tid, _ in papers), what
        for pid, tid, reason in papers:
            assert tid in by_id, f"{what}: paper {pid} recorded under topic {tid}"
            assert pid in eligible[tid], f"{what}: paper {pid} does not match the filters of {by_id[tid].name!r}"
            _check_topic_reason(reason, topic=by_id[tid], known=known, what=f"{what}, {by_id[tid].name!r}")
        wanted = fields_of(topics)
        pool = {pid for pid, cats in trending_pool() if not wanted or cats & wanted}
        assert set(trending) <= pool - world.acted[uid] and len(trending) <= TRENDING_PER_DIGEST, what

        # What the reader gets: one heading per section, in order, each paper under its topic's heading.
        content = digest_build_planned(delivery=delivery)
        items = content.context["items"]
        assert [item["id"] for item in items] == listed
        headings = [(i, item["section"]) for i, item in enumerate(items) if "section" in item]
        sections = [by_id[tid].name for tid in dict.fromkeys(tid for _, tid, _ in papers)]
        assert [name for _, name in headings] == sections, f"{what}: headings {headings}"
        starts = [i for i, _ in headings] + [len(items)]
        for (start, name), end in zip(headings, starts[1:], strict=True):
            assert {by_id[tid].name for _, tid, _ in papers[start:end]} == {name}, what
        rendered = render_digest(content.context)
        assert rendered.html == render_digest_whole(content.context).html, f"{what}: fragments differ from a render"
        for name in sections:
            assert rendered.html.count(f">{escape(name)}</th>") == 1, f"{what}: {name!r} not a heading of the summary"
            assert f"-- {name} --" in rendered.text, f"{what}: {name!r} not a heading of the text part"
        sent += 1
    assert sent >= 20, f"only {sent} of 30 subscribers got a multi-topic digest"


def _check_topic_reason(reason: str, *, topic, known: set[str], what: str) -> None:
    """True for ``topic``: its include keyword (named with the topic), or its categories and its votes."""
    match = MATCHES.match(reason)
    if match:
        assert match["topic"] == topic.name, f"{what}: {reason!r} names another topic"
        assert match["term"] in (topic.include_keywords if match["what"] == "keyword" else topic.include_authors)
        return
    check_reason(
        reason, fields=set(topic.categories or []), acted=topic_votes(topic), known_categories=known, what=what
    )


def test_a_single_topic_reader_gets_no_topic_headings(world):  # noqa: F811
    """Before any reader adds a topic, no digest item carries a section heading and no email shows one."""
    shown = 0
    for profile in world.profiles:
        content = digest_build(user=profile.user, now=world.now, inert_links=True)
        if content.skip_reason:
            continue
        assert not any("section" in item for item in content.context["items"])
        rendered = render_digest(content.context)
        assert 'class="topic-row"' not in rendered.html and not re.search(r"^-- .* --$", rendered.text, re.M)
        shown += 1
    assert shown
