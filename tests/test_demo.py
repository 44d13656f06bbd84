"""The demo shows the scheduler at work (issue 18 item 14).

After ``bootstrap`` (what ``make run`` does first), a few demo readers are due within minutes and the
day's papers are still new to them, so the beat tick's path (plan, batches, SMTP) sends real,
personalised digests into the outbox within ~10 minutes of start. Once, every demo reader due was
skipped: the seeding had voted on every paper of the day.
"""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from recommender.demo import LATEST_DAY_RATED, demo_users_create
from recommender.ingest.services import ingest_sample
from recommender.models import TOPIC_TRENDING_WEIGHT_DEFAULT, DigestDelivery, Interaction, Paper, Profile
from recommender.subscriptions.schedule import next_send_at
from recommender.subscriptions.topics import topic_default, topics_for_users

pytestmark = pytest.mark.django_db


@pytest.mark.slow
def test_bootstrap_leaves_demo_readers_due_within_minutes_with_new_papers(mailoutbox):
    started = timezone.now()
    call_command("bootstrap", offline=True, stdout=io.StringIO())
    demo = Profile.objects.filter(user__username__startswith="demo_")
    soon = demo.filter(next_digest_at__lte=started + dt.timedelta(minutes=9))
    made_due = [p for p in soon if p.next_digest_at >= started + dt.timedelta(minutes=1)]
    assert len(made_due) >= 3, "a newcomer should see scheduled digests within ~10 minutes"
    # Due from the beat, not at once: a reader due within the first minute is only one whose own send time
    # falls there (a 09:00 reader in Los Angeles when bootstrap runs at 16:59 UTC), never one the demo moved.
    for profile in soon:
        if profile not in made_due:
            assert profile.next_digest_at == next_send_at(profile, after=started), "due from the beat, not at once"
    out = io.StringIO()
    before = len(mailoutbox)
    call_command("send_digests", now=(started + dt.timedelta(minutes=10)).isoformat(), stdout=out)
    sent = DigestDelivery.objects.filter(user__username__startswith="demo_", status="sent")
    assert sent.count() >= 3, out.getvalue()
    assert len(mailoutbox) - before >= 3
    skipped = DigestDelivery.objects.filter(user__username__startswith="demo_", status="skipped")
    assert not skipped.exists(), list(skipped.values_list("user__username", "skip_reason"))


@pytest.mark.slow
def test_seeding_leaves_most_of_the_latest_day_new():
    """Each demo reader has rated at most a third of the latest announced day's papers in their fields."""
    ingest_sample()
    demo_users_create(count=30, seed=0)
    latest = Paper.objects.order_by("-announced_on").values_list("announced_on", flat=True).first()
    day = {
        pid: set(cats.split()) | {primary}
        for pid, cats, primary in Paper.objects.filter(announced_on=latest).values_list(
            "id", "categories", "primary_category"
        )
    }
    for profile in Profile.objects.filter(user__username__startswith="demo_"):
        mine = {pid for pid, cats in day.items() if cats & set(topic_default(user=profile.user_id).categories)}
        rated = set(
            Interaction.objects.filter(user_id=profile.user_id, paper_id__in=mine).values_list("paper_id", flat=True)
        )
        assert len(rated) <= int(len(mine) * LATEST_DAY_RATED), (profile.user.username, len(rated), len(mine))


def test_every_seeded_reader_has_one_default_topic_with_their_interests():
    """A user always has a topic: the seeding's bulk inserts (no signals) create each reader's "General"."""
    ingest_sample()
    ids = demo_users_create(count=30, seed=0)
    topics = topics_for_users(user_ids=ids)
    assert sorted(topics) == sorted(ids)
    catalogue = {c for cats in Paper.objects.values_list("categories", flat=True) for c in cats.split()}
    for uid in ids:
        (topic,) = topics[uid]
        assert (topic.name, topic.slug, topic.position) == ("General", "general", 0)
        assert topic.categories and set(topic.categories) <= catalogue
        assert topic.trending_weight == TOPIC_TRENDING_WEIGHT_DEFAULT
