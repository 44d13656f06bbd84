"""The whole pipeline once, on real components.

Ingest a real recorded arXiv RSS feed -> papers in the database -> a
subscriber with ratings -> train on a real Celery worker over real Redis ->
the beat tick fans out the digest -> the message arrives at a real SMTP
server, and we read it.
"""

import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import timezone

from recommender.interactions.services import interaction_record
from recommender.models import DeliveryStatus, DigestDelivery, ModelVersion, Paper
from tests.conftest import wait_until
from tests.factories import delivered_ids, make_subscriber


@pytest.mark.django_db(transaction=True)
def test_feed_to_inbox(shared_data, smtp_server, celery_worker):
    from digest_site.celery import app

    feed = shared_data / "feeds" / "arxiv-rss" / "arxiv_cs_ai.xml"
    call_command("ingest", "arxiv-rss", "--file", str(feed))
    papers = list(Paper.objects.order_by("id"))
    assert len(papers) == 3
    announced = papers[0].announced_on
    assert announced is not None

    reader = make_subscriber("reader@example.org", categories=[], time_zone="Europe/Paris")
    others = [make_subscriber(f"other{i}@example.org") for i in range(3)]
    interaction_record(user=reader, paper=papers[0], kind="upvote")
    for i, other in enumerate(others):
        interaction_record(user=other, paper=papers[0], kind="save")
        interaction_record(user=other, paper=papers[1 + i % 2], kind="upvote")

    app.send_task("recommender.training.tasks.train_model", kwargs={"activate": "always"})
    wait_until(lambda: ModelVersion.objects.filter(is_active=True).exists(), timeout=60, what="an active model")

    # The subscriber is due now in their zone; the tick fans out and the worker sends.
    now = dt.datetime.combine(announced, dt.time(9, 0), tzinfo=dt.UTC)
    reader.profile.next_digest_at = now - dt.timedelta(minutes=1)
    reader.profile.save(update_fields=["next_digest_at"])
    app.send_task("recommender.digest.tasks.digest_tick", kwargs={"now": now.isoformat()})
    wait_until(
        lambda: DigestDelivery.objects.filter(user=reader, status=DeliveryStatus.SENT).exists(),
        timeout=60,
        what="the digest to be sent",
    )
    messages = smtp_server.wait_for(1)
    msg = next(m for m in messages if m["To"] and "reader@example.org" in m["To"])
    html = msg.get_body(preferencelist=("html",)).get_content()
    text = msg.get_body(preferencelist=("plain",)).get_content()
    delivery = DigestDelivery.objects.get(user=reader)
    assert delivery.message_id and delivery.message_id.strip("<>") in msg["Message-ID"]
    sent_titles = [Paper.objects.get(pk=pid).title for pid in delivered_ids(delivery)]
    assert sent_titles, "the digest lists papers"
    assert papers[0].pk not in delivered_ids(delivery)  # already upvoted: never re-sent
    first_words = " ".join(sent_titles[0].split()[:4])
    assert first_words in " ".join(text.split())
    assert msg["List-Unsubscribe"] and msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "style=" in html
    assert timezone.now() - delivery.sent_at < dt.timedelta(minutes=5)
