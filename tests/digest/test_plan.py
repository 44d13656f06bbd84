"""The plan phase (issue 14 item 1): every due digest ranked in bulk and stored as ``DeliveredPaper`` rows.

Over the bootstrap world (sample feed, 30 demo subscribers, trending, a trained model): each chunk of
subscribers is ranked in one call, every stored selection keeps the digest invariants (no paper twice,
nothing acted on, as long as asked), planning again changes nothing, a planner that dies mid-way is resumed
by the next tick, and the send phase reads the rows back without ranking or loading the model.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.html import escape

from recommender import serving
from recommender.demo import demo_users_create
from recommender.digest import services
from recommender.digest.context import digest_build_planned
from recommender.ingest.services import ingest_sample
from recommender.models import DeliveredPaper, DeliveryStatus, DigestDelivery, Interaction, Paper, Profile
from recommender.papers import search
from recommender.papers.trending import trending_refresh
from recommender.subscriptions.topics import topics_default_for_users
from recommender.training.services import model_train
from tests.factories import make_delivery
from tests.serving.test_invariants import check_digest

pytestmark = pytest.mark.django_db

CHUNK = 7  # 30 subscribers: 5 chunks, 5 ranking calls


@pytest.fixture
def world(settings):
    settings.PAPERBOY = {**settings.PAPERBOY, "DIGEST_PLAN_CHUNK": CHUNK}
    ingest_sample()
    demo_users_create(count=30, seed=0)
    trending_refresh()
    assert model_train(activate="always").is_active
    serving.reset_cache()
    search.semantic_index_reset()
    profiles = list(Profile.objects.filter(user__username__startswith="demo_").select_related("user").order_by("pk"))
    acted: dict[int, set[int]] = {p.user_id: set() for p in profiles}
    for uid, pid in Interaction.objects.filter(user_id__in=acted).values_list("user_id", "paper_id"):
        acted[uid].add(pid)
    categories = {
        pid: set(cats.split()) | {primary}
        for pid, cats, primary in Paper.objects.values_list("id", "categories", "primary_category")
    }
    now = timezone.now()
    Profile.objects.filter(pk__in=[p.pk for p in profiles]).update(next_digest_at=now - dt.timedelta(minutes=1))
    topics = topics_default_for_users(user_ids=[p.user_id for p in profiles])
    yield SimpleNamespace(mode="model", profiles=profiles, topics=topics, acted=acted, categories=categories, now=now)
    serving.reset_cache()
    search.semantic_index_reset()


@pytest.fixture
def ranking_calls(monkeypatch):
    """Counts ``recommend_for_topics`` calls, with their rows (the plan phase imports it from ``recommender.serving``
    per batch; a seeded subscriber has one topic, so rows = subscribers)."""
    calls = []
    real = serving.recommend_for_topics

    def counted(**kwargs):
        calls.append(len(kwargs["topic_ids"]))
        return real(**kwargs)

    monkeypatch.setattr(serving, "recommend_for_topics", counted)
    return calls


def _snapshot() -> tuple[list, list]:
    rows = list(
        DeliveredPaper.objects.order_by("delivery_id", "section", "rank").values_list(
            "delivery_id", "user_id", "paper_id", "section", "rank", "reason"
        )
    )
    deliveries = list(
        DigestDelivery.objects.order_by("pk").values_list("pk", "user_id", "status", "skip_reason", "planned_at")
    )
    return rows, deliveries


def test_every_due_digest_is_ranked_in_bulk_and_stored_as_rows(world, ranking_calls):
    planned = services.digest_plan(now=world.now)
    assert ranking_calls == [CHUNK] * 4 + [30 - 4 * CHUNK]  # one call per chunk, not one per subscriber
    deliveries = {d.user_id: d for d in DigestDelivery.objects.all()}
    assert len(deliveries) == 30 and all(d.planned_at is not None for d in deliveries.values())
    assert sorted(planned) == sorted(uid for uid, d in deliveries.items() if d.status == DeliveryStatus.PENDING)
    assert planned, "nobody has a digest in the bootstrap world"
    for profile in world.profiles:
        delivery = deliveries[profile.user_id]
        what = f"planned digest of {profile.user.username}"
        ranks: dict[str, list[int]] = {"papers": [], "trending": []}
        for section, rank in DeliveredPaper.objects.filter(delivery=delivery).values_list("section", "rank"):
            ranks[section].append(rank)
        assert all(sorted(r) == list(range(1, len(r) + 1)) for r in ranks.values()), what
        if delivery.status == DeliveryStatus.SKIPPED:
            assert delivery.skip_reason and not any(ranks.values()), what
            continue
        content = digest_build_planned(delivery=delivery)
        # Read back from the rows: the digest invariants (no paper twice, nothing acted on, as long as asked).
        check_digest(world, profile, content, what)


def test_planning_a_period_again_changes_nothing(world, ranking_calls):
    services.digest_plan(now=world.now)
    before = _snapshot()
    calls = len(ranking_calls)
    # A duplicate tick, a later tick of the same period, and a replanning of everyone made due again.
    services.digest_plan(now=world.now)
    services.digest_plan(now=world.now + dt.timedelta(minutes=5))
    Profile.objects.filter(pk__in=[p.pk for p in world.profiles]).update(next_digest_at=world.now)
    services.digest_plan(now=world.now + dt.timedelta(minutes=10))
    assert _snapshot() == before
    assert len(ranking_calls) == calls  # nothing left to rank


def test_a_planner_killed_mid_way_is_resumed_by_the_next_tick(world, ranking_calls, monkeypatch):
    real = serving.recommend_for_topics

    def dies_on_the_third_chunk(**kwargs):
        if len(ranking_calls) == 2:  # two chunks ranked and stored
            raise SystemExit("planner killed")
        return real(**kwargs)

    monkeypatch.setattr(serving, "recommend_for_topics", dies_on_the_third_chunk)
    with pytest.raises(SystemExit):
        services.digest_plan(now=world.now)
    # Two chunks are stored; the rest are open, unplanned, and nobody is due any more (rescheduled).
    assert DigestDelivery.objects.filter(planned_at__isnull=False).count() == 2 * CHUNK
    assert DigestDelivery.objects.filter(planned_at__isnull=True, status=DeliveryStatus.PENDING).count() == 30 - 14
    assert not services.deliveries_open_due(now=world.now)
    first = _snapshot()
    monkeypatch.setattr(serving, "recommend_for_topics", real)
    services.digest_plan(now=world.now + dt.timedelta(minutes=5))
    assert DigestDelivery.objects.filter(planned_at__isnull=True).count() == 0
    rows, deliveries = _snapshot()
    kept = {pk for pk, *_, planned_at in first[1] if planned_at is not None}
    assert [r for r in rows if r[0] in kept] == [r for r in first[0] if r[0] in kept]  # the first chunks untouched
    assert [d for d in deliveries if d[0] in kept] == [d for d in first[1] if d[0] in kept]


def test_the_tick_fans_the_plan_out_in_chunks_and_a_lost_chunk_is_planned_by_the_next_tick(world, ranking_calls):
    from recommender.digest import planning

    chunks, stranded = services.digest_open(now=world.now)
    assert [len(c) for c in chunks] == [CHUNK] * 4 + [30 - 4 * CHUNK] and stranded == []
    assert sorted(pk for c in chunks for pk in c) == sorted(DigestDelivery.objects.values_list("pk", flat=True))
    # Two chunk tasks ran (one twice: a redelivered task); the other three were lost with their worker.
    for chunk in (chunks[0], chunks[1], chunks[0]):
        planning.deliveries_plan(now=world.now, delivery_ids=chunk)
    assert ranking_calls == [CHUNK, CHUNK]  # the repeat finds nothing unplanned: no ranking, no write
    once = _snapshot()
    planning.deliveries_plan(now=world.now, delivery_ids=chunks[0])
    assert _snapshot() == once
    # The next tick opens nobody new (rescheduled) and hands out exactly the deliveries still unplanned.
    later, _ = services.digest_open(now=world.now + dt.timedelta(minutes=5))
    assert sorted(pk for c in later for pk in c) == sorted(pk for c in chunks[2:] for pk in c)
    for chunk in later:
        planning.deliveries_plan(now=world.now, delivery_ids=chunk)
    assert not DigestDelivery.objects.filter(planned_at__isnull=True).exists()
    assert DigestDelivery.objects.count() == 30


def test_unplanned_deliveries_are_never_sent(world, smtp_server):
    services.deliveries_open_due(now=world.now)  # the tick died right after opening the deliveries
    result = services.digest_send_batch(user_ids=[p.user_id for p in world.profiles], now=world.now)
    assert result.sent == [] and smtp_server.messages == []
    assert not DigestDelivery.objects.exclude(status=DeliveryStatus.PENDING).exists()


def test_the_send_phase_never_ranks_nor_loads_the_model(world, smtp_server, monkeypatch):
    planned = services.digest_plan(now=world.now)
    serving.reset_cache()  # a fresh send worker: nothing loaded

    def no_ranking(**kwargs):
        raise AssertionError("the send phase ranked")

    monkeypatch.setattr(serving, "recommend_for_users", no_ranking)
    monkeypatch.setattr(serving, "recommend_for_topics", no_ranking)
    with CaptureQueriesContext(connection) as queries:
        result = services.digest_send_batch(user_ids=planned, now=world.now)
    assert sorted(result.sent) == sorted(planned)
    assert len(smtp_server.wait_for(len(planned))) == len(planned)
    # Loading the active model reads ModelVersion; ranking reads every subscriber's interactions.
    touched = [q["sql"] for q in queries.captured_queries if "recommender_modelversion" in q["sql"]]
    assert not touched, touched[:1]
    assert not [q["sql"] for q in queries.captured_queries if "recommender_interaction" in q["sql"]]
    # The email is the stored selection: every planned paper, in order.
    for message, delivery in zip(
        sorted(smtp_server.messages, key=lambda m: m["To"]),
        sorted(DigestDelivery.objects.filter(status="sent").select_related("user"), key=lambda d: d.user.email),
        strict=True,
    ):
        html = message.get_body(("html",)).get_content()
        titles = [
            " ".join(Paper.objects.get(pk=pid).title.split())
            for pid in DeliveredPaper.objects.filter(delivery=delivery, section="papers")
            .order_by("rank")
            .values_list("paper_id", flat=True)
        ]
        assert titles
        positions = [html.find(escape(t)) for t in titles]
        assert all(p >= 0 for p in positions) and positions == sorted(positions), delivery.user.email


def test_already_sent_is_read_from_the_rows(world, ranking_calls):
    """A paper in an earlier sent digest (rows) is never planned again, in either section."""
    profile = world.profiles[0]
    everything = list(Paper.objects.values_list("pk", flat=True))
    half = everything[: len(everything) // 2]
    make_delivery(
        profile.user,
        period_key="2000-01-01",
        status=DeliveryStatus.SENT,
        sent_at=world.now - dt.timedelta(days=30),
        trending=half,  # trending rows leave the watermark alone: today's papers are still new
    )
    services.digest_plan(now=world.now)
    delivery = DigestDelivery.objects.exclude(period_key="2000-01-01").get(user=profile.user)
    assert delivery.status == DeliveryStatus.PENDING
    listed = set(DeliveredPaper.objects.filter(delivery=delivery).values_list("paper_id", flat=True))
    assert listed and not listed & set(half)


def test_previews_show_the_planned_digest(world, client):
    services.digest_plan(now=world.now)
    delivery = DigestDelivery.objects.filter(status=DeliveryStatus.PENDING).select_related("user").first()
    DeliveredPaper.objects.filter(delivery=delivery, section="papers", rank=1).update(reason="Chosen by the plan")
    client.force_login(delivery.user)
    response = client.get("/d/preview/")
    assert response.status_code == 200
    assert "Chosen by the plan" in response.content.decode()


def test_opening_the_due_reschedules_each_subscriber_in_one_update_per_next_moment(db):
    """Readers sharing a zone and hour share their next moment: one UPDATE per moment, not a row-by-row CASE,
    and every reader's next moment is what rescheduling that reader alone gives."""
    from recommender.subscriptions.services import profile_reschedule
    from tests.factories import due_now, subscriber

    now = timezone.now().replace(microsecond=0)
    zones = ["Europe/Paris", "America/New_York", "Asia/Tokyo"]
    users = [subscriber(f"r{i}@example.org", time_zone=zones[i % 3]) for i in range(12)]
    for user in users:
        due_now(user, at=now - dt.timedelta(minutes=1))
    with CaptureQueriesContext(connection) as queries:
        opened = services.deliveries_open_due(now=now)
    assert sorted(opened) == sorted(u.pk for u in users)
    updates = [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith("UPDATE")]
    assert len(updates) == len(zones) and not any("CASE" in sql for sql in updates)
    for profile in Profile.objects.filter(user__in=users):
        expected = profile_reschedule(profile=Profile.objects.get(pk=profile.pk), after=now, save=False)
        assert profile.next_digest_at == expected.next_digest_at > now
