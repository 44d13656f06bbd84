"""Serving invariants over every seeded subscriber and every serving path (issue 17 item 1, issue 14 item 5).

The world is what ``make run`` bootstraps: the bundled sample feed, the demo
subscribers of ``seed_demo``, trending scores and a trained model (and, as a
second world, the same without a model: the content-only fallback). For every
subscriber and every list they can be shown (For you on the web, the personal
Atom feed, the digest's For you and Trending sections, the admin preview,
similar papers):

(a) no paper twice in one list (in the digest: across all sections together);
(b) nothing the subscriber voted down or marked not interested, and nothing
    else already acted on (For you and the digest exclude every interaction,
    the Trending section included);
(c) lists are as long as asked while eligible candidates last.

After bootstrap, demo0's For you once showed one paper on 19 of 20 cards.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from recommender import serving
from recommender.demo import demo_users_create
from recommender.digest.context import TRENDING_PER_DIGEST, digest_batch_build, digest_build
from recommender.digest.selectors import papers_already_sent, papers_announced_after, trending_pool, watermarks
from recommender.digest.services import digest_preview
from recommender.ingest.services import ingest_sample
from recommender.models import Interaction, Paper, Profile
from recommender.papers import search
from recommender.papers.trending import trending_refresh
from recommender.subscriptions.topics import topics_default_for_users
from recommender.training.services import model_train

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

NEGATIVE = {"thumbs_down", "not_interested"}
SIMILAR_N = 5
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture(params=["model", "content-only"])
def world(request):
    """The bootstrap world: sample feed, 30 demo subscribers, trending, and (first param) a trained model."""
    ingest_sample()
    demo_users_create(count=30, seed=0)
    trending_refresh()
    if request.param == "model":
        assert model_train(activate="always").is_active
    serving.reset_cache()
    search.semantic_index_reset()
    # The sample feed is announced today: every paper is a candidate of For you and new to every digest.
    today = timezone.now().date()
    assert set(Paper.objects.values_list("announced_on", flat=True)) <= {today, today - dt.timedelta(days=1), None}
    profiles = list(Profile.objects.filter(user__username__startswith="demo_").select_related("user").order_by("pk"))
    assert len(profiles) == 30
    # Each reader ranks by their default topic (the seeding gives each one topic holding their interests).
    topics = topics_default_for_users(user_ids=[p.user_id for p in profiles])
    assert set(topics) == {p.user_id for p in profiles}
    # The eligibility below models category rules only: seeded subscribers have no keyword/author rules.
    rules = [t.include_keywords + t.exclude_keywords + t.include_authors + t.exclude_authors for t in topics.values()]
    assert not any(rules)
    acted: dict[int, set[int]] = {p.user_id: set() for p in profiles}
    negative: dict[int, set[int]] = {p.user_id: set() for p in profiles}
    for uid, pid, kind in Interaction.objects.filter(user_id__in=acted).values_list("user_id", "paper_id", "kind"):
        acted[uid].add(pid)
        if kind in NEGATIVE:
            negative[uid].add(pid)
    categories = {
        pid: set(cats.split()) | {primary}
        for pid, cats, primary in Paper.objects.values_list("id", "categories", "primary_category")
    }
    yield SimpleNamespace(
        mode=request.param, profiles=profiles, topics=topics, acted=acted, negative=negative, categories=categories
    )
    serving.reset_cache()
    search.semantic_index_reset()


def in_fields(world, profile, paper_ids) -> set[int]:
    wanted = set(world.topics[profile.user_id].categories or [])
    return {pid for pid in paper_ids if not wanted or world.categories[pid] & wanted}


def check_list(ids: list[int], *, acted: set[int], eligible: set[int], asked: int, what: str) -> None:
    assert len(ids) == len(set(ids)), f"{what}: a paper twice: {ids}"
    assert not set(ids) & acted, f"{what}: shows papers the subscriber already acted on: {set(ids) & acted}"
    assert set(ids) <= eligible, f"{what}: not eligible: {set(ids) - eligible}"
    assert len(ids) == min(asked, len(eligible)), f"{what}: {len(ids)} papers, asked {asked}, {len(eligible)} eligible"


def for_you_eligible(world, profile) -> set[int]:
    return in_fields(world, profile, serving.candidate_ids_default()) - world.acted[profile.user_id]


def test_for_you_page(world, client):
    for profile in world.profiles:
        client.force_login(profile.user)
        response = client.get(reverse("web:for_you"))
        assert response.status_code == 200
        ids = [pick.paper.id for pick in response.context["picks"]]
        asked = max(20, profile.papers_per_email)
        check_list(
            ids,
            acted=world.acted[profile.user_id],
            eligible=for_you_eligible(world, profile),
            asked=asked,
            what=f"{world.mode} For you of {profile.user.username}",
        )


def test_personal_feed(world, client):
    arxiv_to_id = dict(Paper.objects.values_list("arxiv_id", "id"))
    for profile in world.profiles:
        response = client.get(reverse("web:feed", args=[profile.feed_token]))
        assert response.status_code == 200
        entries = ET.fromstring(response.content).findall(f"{ATOM}entry")
        ids = [arxiv_to_id[e.findtext(f"{ATOM}id").removeprefix("arxiv:")] for e in entries]
        check_list(
            ids,
            acted=world.acted[profile.user_id],
            eligible=for_you_eligible(world, profile),
            asked=profile.papers_per_email or 10,
            what=f"{world.mode} feed of {profile.user.username}",
        )


def digest_expectations(world, profile, now) -> tuple[set[int], set[int]]:
    """(eligible For you papers, eligible Trending papers) of one subscriber's digest at ``now``."""
    uid = profile.user_id
    mark = watermarks(user_ids=[uid], profiles={uid: profile}, now=now)[uid]
    new = set(papers_announced_after(day=mark, until=now.date()))
    sent = papers_already_sent(user_ids=[uid]).get(uid, set())
    fresh = in_fields(world, profile, new) - world.acted[uid] - sent
    trending = in_fields(world, profile, [pid for pid, _ in trending_pool()]) - world.acted[uid] - sent
    return fresh, trending


def check_digest(world, profile, content, what: str) -> None:
    uid = profile.user_id
    now = timezone.now()
    fresh, trending = digest_expectations(world, profile, now)
    listed, shown_trending = content.paper_ids, content.trending_ids
    if content.skip_reason:
        assert not fresh, f"{what}: skipped ({content.skip_reason}) with {len(fresh)} eligible papers"
        return
    if content.context:
        assert [item["id"] for item in content.context["items"]] == listed
        assert [item["id"] for item in content.context["trending"]] == shown_trending
    together = listed + shown_trending
    assert len(together) == len(set(together)), f"{what}: a paper twice across sections: {listed} + {shown_trending}"
    check_list(listed, acted=world.acted[uid], eligible=fresh, asked=profile.papers_per_email, what=f"{what} For you")
    check_list(
        shown_trending,
        acted=world.acted[uid],
        eligible=trending - set(listed),
        asked=TRENDING_PER_DIGEST,
        what=f"{what} Trending",
    )


def test_digest_sections_one_by_one(world):
    """The preview path: each subscriber's digest built on its own."""
    now = timezone.now()
    for profile in world.profiles:
        content = digest_build(user=profile.user, now=now)
        check_digest(world, profile, content, f"{world.mode} digest of {profile.user.username}")


def test_digest_sections_in_one_batch(world):
    """The send path: one ranking call for the whole batch, then one digest per subscriber."""
    now = timezone.now()
    users = [p.user for p in world.profiles]
    batch = digest_batch_build(user_ids=[u.pk for u in users], now=now)
    for profile in world.profiles:
        content = digest_build(user=profile.user, now=now, batch=batch, delivery_id=1)
        check_digest(world, profile, content, f"{world.mode} batch digest of {profile.user.username}")


def test_admin_preview(world, client):
    admin = get_user_model().objects.create_superuser(username="root", email="root@example.org", password="x")
    client.force_login(admin)
    titles = dict(Paper.objects.values_list("id", "title"))
    for profile in world.profiles:
        response = client.get(reverse("admin:recommender_profile_digest_preview", args=[profile.pk]))
        assert response.status_code == 200
        fresh, _ = digest_expectations(world, profile, timezone.now())
        what = f"{world.mode} admin preview of {profile.user.username}"
        assert response.context["paper_count"] == min(profile.papers_per_email, len(fresh)), what
        html = response.context["rendered"].html if response.context["rendered"] else ""
        # "Similar to “<a liked title>” you upvoted" names acted-on papers on purpose: leave the reasons out.
        content, _ = digest_preview(user=profile.user, now=timezone.now(), inert_links=True)
        for reason in content.reasons.values():
            html = html.replace(escape(reason), "")
        shown = [pid for pid in world.acted[profile.user_id] if escape(" ".join(titles[pid].split())) in html]
        assert not shown, f"{what}: shows papers the subscriber already acted on: {shown}"


def test_similar_papers(world):
    papers = list(Paper.objects.values_list("id", flat=True))
    for pid in papers:
        ids = serving.similar_papers(paper_id=pid, n=SIMILAR_N)
        assert pid not in ids
        check_list(ids, acted=set(), eligible=set(papers) - {pid}, asked=SIMILAR_N, what=f"{world.mode} similar {pid}")
    for profile in world.profiles:
        hidden = world.negative[profile.user_id]
        for pid in papers[:10]:
            ids = serving.similar_papers(paper_id=pid, n=SIMILAR_N, exclude_ids=hidden)
            check_list(
                ids,
                acted=hidden,
                eligible=set(papers) - {pid} - hidden,
                asked=SIMILAR_N,
                what=f"{world.mode} similar {pid} for {profile.user.username}",
            )


def test_similar_papers_page(world, client):
    """The paper page's similar list: unique, not the paper itself, full (for anonymous visitors)."""
    papers = list(Paper.objects.values_list("id", "arxiv_id"))
    for pid, arxiv_id in papers:
        response = client.get(reverse("web:paper", args=[arxiv_id]))
        assert response.status_code == 200
        ids = [p.id for p in response.context["similar"]]
        check_list(
            ids, acted={pid}, eligible={p for p, _ in papers} - {pid}, asked=SIMILAR_N, what=f"{world.mode} page {pid}"
        )


def test_similar_papers_page_signed_in(world, client):
    """Signed in, the paper page's similar list leaves out what the reader hid or voted down, and stays full."""
    papers = list(Paper.objects.values_list("id", "arxiv_id"))
    for profile in world.profiles:
        hidden = world.negative[profile.user_id]
        if not hidden:
            continue
        client.force_login(profile.user)
        for pid, arxiv_id in papers[:4]:
            ids = [p.id for p in client.get(reverse("web:paper", args=[arxiv_id])).context["similar"]]
            check_list(
                ids,
                acted=hidden | {pid},
                eligible={p for p, _ in papers} - {pid} - hidden,
                asked=SIMILAR_N,
                what=f"{world.mode} page {pid} for {profile.user.username}",
            )


@pytest.mark.parametrize("world", ["model"], indirect=True)  # the memo lives on a trained model
def test_candidate_memo_never_serves_another_candidate_set(world):
    """The per-process memo of candidate work (tf-idf, neighbour graphs) is keyed by identity: more candidate
    sets than it holds, revisited in another order after garbage collection, rank exactly like a fresh model."""
    import gc
    import random

    rng = random.Random(7)
    papers = list(Paper.objects.values_list("id", flat=True))
    sets = [rng.sample(papers, rng.randint(5, len(papers))) for _ in range(serving.CANDIDATE_MEMO_SIZE + 4)]
    users = [p.user_id for p in world.profiles]

    def rank(candidates):
        recs = serving.recommend_for_users(user_ids=users, candidate_ids=candidates, n=10)
        return {u: [(r.paper_id, round(r.score, 4)) for r in rs] for u, rs in recs.items()}

    fresh = []
    for candidates in sets:
        serving.reset_cache()
        fresh.append(rank(candidates))
    for _ in range(2):
        order = list(range(len(sets)))
        rng.shuffle(order)
        for i in order:
            gc.collect()
            assert rank(sets[i]) == fresh[i], f"candidate set {i} ranked differently through the memo"
