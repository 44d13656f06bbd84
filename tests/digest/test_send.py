"""Sending through a real SMTP server: MIME structure, headers, inlined HTML, escaping, skips, SMTP errors."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from recommender.digest import services
from recommender.models import DeliveredPaper, DeliveryStatus, DigestDelivery
from tests.factories import delivered_ids, due_now, make_paper, subscriber

pytestmark = pytest.mark.django_db


def _send_due(now=None):
    now = now or timezone.now()
    user_ids = services.digest_plan(now=now)
    return services.digest_send_batch(user_ids=user_ids, now=now)


def _parts(message):
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    return parts[0].get_content(), parts[1].get_content()


def test_digest_reaches_smtp_with_headers_and_both_parts(smtp_server, papers_today, trending_old, settings):
    user = subscriber("ada@example.org")
    due_now(user, at=timezone.now())
    result = _send_due()
    assert result.sent == [user.pk]
    [message] = smtp_server.wait_for(1)
    delivery = DigestDelivery.objects.get(user=user)
    assert delivery.status == DeliveryStatus.SENT
    assert message["Message-ID"] == delivery.message_id
    assert message["To"] == "ada@example.org"
    assert message["From"] == settings.DEFAULT_FROM_EMAIL
    assert message["Date"]
    assert message["List-Id"].startswith("Paperboy digest <digest.")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsub = message["List-Unsubscribe"]
    assert re.search(rf"<{re.escape(settings.SITE_URL)}/d/unsubscribe/[^>]+/>", unsub)
    assert "<mailto:" in unsub
    top = papers_today[0]
    assert top.title in message["Subject"]
    text, html = _parts(message)
    # Same content in both alternatives: every paper, the trending section, the footer.
    for paper in papers_today:
        assert paper.title in text and paper.title in html
    assert "Trending in your fields" in html and "TRENDING IN YOUR FIELDS" in text
    assert trending_old[1].title in html and trending_old[1].title in text
    assert settings.SENDER_POSTAL_ADDRESS in html and settings.SENDER_POSTAL_ADDRESS in text
    assert "Author 1, Author 2, Author 3 et al. (7 authors)" in html
    # CSS in <style> (the size budget, docs/digest.md) plus the few inline styles the layout needs.
    assert 'class="paper-title" href=' in html or "paper-title" in html
    assert re.search(r'<a[^>]+class="paper-title"[^>]+style="[^"]*font-size:18px', html) or re.search(
        r'<a[^>]+style="[^"]*font-size:18px[^"]*"[^>]+class="paper-title"', html
    )
    [block] = re.findall(r"<style[^>]*>(.*?)</style>", html, re.S)
    assert ".summary td" in block and "@media only screen" in block and "prefers-color-scheme: dark" in block
    assert 'name="color-scheme" content="light dark"' in html
    assert "max-width:640px" in html.replace(" ", "")
    # Every link is absolute and goes through a signed token.
    hrefs = re.findall(r'href="([^"#]+)"', html)
    assert hrefs and all(h.startswith(settings.SITE_URL) for h in hrefs)
    # What was sent is the plan rows: the top paper first, with the reason shown for it.
    assert delivered_ids(delivery)[0] == top.pk
    assert set(delivered_ids(delivery, "trending")) == {p.pk for p in trending_old}
    assert DeliveredPaper.objects.get(delivery=delivery, paper=top).reason


def test_hostile_title_is_escaped(smtp_server, papers_today):
    make_paper(category="cs.LG", title="<script>alert(1)</script>", hf_upvotes=500, trending_score=50.0)
    user = subscriber("eve@example.org")
    due_now(user, at=timezone.now())
    _send_due()
    [message] = smtp_server.wait_for(1)
    _, html = _parts(message)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_skipped_when_nothing_announced(smtp_server):
    old = timezone.now().date() - dt.timedelta(days=20)
    make_paper(category="cs.LG", announced_on=old)
    user = subscriber("quiet@example.org")
    due_now(user, at=timezone.now())
    result = _send_due()
    assert result.sent == []  # skipped by the plan phase: no send task sees it
    delivery = DigestDelivery.objects.get(user=user)
    assert delivery.status == DeliveryStatus.SKIPPED
    assert "no new papers" in delivery.skip_reason
    assert smtp_server.messages == []


def test_weekend_after_a_digest_is_skipped_and_papers_never_repeat(smtp_server, papers_today):
    user = subscriber("repeat@example.org")
    due_now(user, at=timezone.now())
    _send_due()
    smtp_server.wait_for(1)
    # Next day: nothing new announced since -> skipped, no second email.
    tomorrow = timezone.now() + dt.timedelta(days=1)
    due_now(user, at=tomorrow)
    result = _send_due(tomorrow)
    assert result.sent == [] and len(smtp_server.messages) == 1
    assert DigestDelivery.objects.filter(user=user, status=DeliveryStatus.SKIPPED).count() == 1
    # A new paper two days later: only it is sent, not the ones already sent.
    fresh = make_paper(category="cs.LG", announced_on=(tomorrow + dt.timedelta(days=1)).date())
    later = tomorrow + dt.timedelta(days=1)
    due_now(user, at=later)
    _send_due(later)
    second = smtp_server.wait_for(2)[1]
    text, _ = _parts(second)
    assert fresh.title in text
    sent = DigestDelivery.objects.filter(user=user, status="sent").order_by("sent_at")
    assert delivered_ids(sent[1]) == [fresh.pk]


def test_second_tick_and_second_batch_send_nothing_more(smtp_server, papers_today):
    user = subscriber("once@example.org")
    now = timezone.now()
    due_now(user, at=now)
    _send_due(now)
    # A duplicate beat tick, then a replayed batch task for the same users.
    assert services.digest_plan(now=now) == []
    again = services.digest_send_batch(user_ids=[user.pk], now=now)
    assert again.sent == []
    assert len(smtp_server.messages) == 1
    assert DigestDelivery.objects.filter(user=user).count() == 1


def test_transient_4xx_is_retried_then_delivered(smtp_server, papers_today):
    user = subscriber("busy@example.org")
    due_now(user, at=timezone.now())
    calls = []

    def greylist(envelope):
        calls.append(1)
        return "451 4.7.1 Greylisted, try again later" if len(calls) == 1 else None

    smtp_server.reply_for = greylist
    first = _send_due()
    assert first.retry == [user.pk] and smtp_server.messages == []
    delivery = DigestDelivery.objects.get(user=user)
    assert delivery.status == DeliveryStatus.PENDING and "451" in delivery.error
    second = services.digest_send_batch(user_ids=[user.pk])
    assert second.sent == [user.pk]
    assert len(smtp_server.wait_for(1)) == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT and delivery.attempts == 2


def test_permanent_5xx_fails_that_address_only(smtp_server, papers_today):
    users = [subscriber(f"user{i}@example.org") for i in range(3)]
    for u in users:
        due_now(u, at=timezone.now())
    smtp_server.reply_for = lambda env: "550 5.1.1 No such mailbox" if "user1@" in env.rcpt_tos[0] else None
    result = _send_due()
    assert sorted(result.sent) == sorted([users[0].pk, users[2].pk])
    assert result.failed == [users[1].pk]
    assert sorted(m["To"] for m in smtp_server.wait_for(2)) == ["user0@example.org", "user2@example.org"]
    failed = DigestDelivery.objects.get(user=users[1])
    assert failed.status == DeliveryStatus.FAILED and "550" in failed.error


def test_send_now_for_one_user_never_twice_per_period(smtp_server, papers_today):
    user = subscriber("now@example.org", send_time=dt.time(23, 55))
    first, _ = services.digest_send_now(user=user)
    second, _ = services.digest_send_now(user=user)
    assert first.pk == second.pk and second.status == DeliveryStatus.SENT
    assert len(smtp_server.wait_for(1)) == 1


def test_stale_claims_are_reconciled_without_double_sending(smtp_server, papers_today, settings):
    settings.PAPERBOY = {**settings.PAPERBOY, "DIGEST_LEASE_SECONDS": 60}
    lost = subscriber("lost@example.org")  # claimed, died before reaching the server
    doubt = subscriber("doubt@example.org")  # died after handing the message to the server
    old = timezone.now() - dt.timedelta(minutes=5)
    DigestDelivery.objects.create(user=lost, period_key="2026-11-22", status="sending", claimed_at=old, attempts=1)
    DigestDelivery.objects.create(
        user=doubt, period_key="2026-11-22", status="sending", claimed_at=old, attempts=1, message_id="<x@y>"
    )
    user_ids = services.digest_plan(now=timezone.now())
    assert user_ids == [lost.pk]
    services.digest_send_batch(user_ids=user_ids + [doubt.pk])
    assert [m["To"] for m in smtp_server.wait_for(1)] == ["lost@example.org"]
    in_doubt = DigestDelivery.objects.get(user=doubt)
    assert in_doubt.status == DeliveryStatus.FAILED and in_doubt.error.startswith("in-doubt")
    assert DigestDelivery.objects.get(user=lost).status == DeliveryStatus.SENT


def test_a_fresh_claim_is_not_stolen_and_a_lost_lease_cannot_mark_sent(papers_today):
    user = subscriber("lease@example.org")
    delivery = DigestDelivery.objects.create(user=user, period_key="2026-11-22")
    first, won = services.deliveries_claim(delivery_ids=[delivery.pk])
    assert list(won) == [delivery.pk]
    assert services.deliveries_claim(delivery_ids=[delivery.pk])[1] == {}  # held by the first worker
    # Someone else took it over after the lease: the first worker's writes are fenced off.
    DigestDelivery.objects.filter(pk=delivery.pk).update(claimed_at=first - dt.timedelta(hours=1))
    second, won = services.deliveries_claim(delivery_ids=[delivery.pk])
    assert list(won) == [delivery.pk]
    assert services.delivery_mark_sent(delivery_id=delivery.pk, claimed_at=first) is False
    assert services.delivery_mark_sent(delivery_id=delivery.pk, claimed_at=second) is True
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT and delivery.attempts == 2


def test_a_batch_uses_one_smtp_connection(smtp_server, papers_today, settings):
    from tests.digest import backends

    settings.EMAIL_BACKEND = "tests.digest.backends.CountingSMTPBackend"
    backends.opened.clear()
    users = [subscriber(f"conn{i}@example.org") for i in range(5)]
    for u in users:
        due_now(u, at=timezone.now())
    result = _send_due()
    assert len(result.sent) == 5 and len(smtp_server.wait_for(5)) == 5
    assert len(backends.opened) == 1
    # After a permanent error the next message starts on a fresh session (and only then).
    backends.opened.clear()
    more = [subscriber(f"again{i}@example.org") for i in range(3)]
    for u in more:
        due_now(u, at=timezone.now())
    smtp_server.reply_for = lambda env: "550 5.1.1 No such mailbox" if "again0@" in env.rcpt_tos[0] else None
    result = _send_due()
    assert len(result.sent) == 2 and len(backends.opened) == 2


def test_the_batch_session_sends_the_dot_without_waiting_for_an_ack(smtp_server, papers_today, settings):
    """TCP_NODELAY on the SMTP socket: the dot is a 3-byte write right after the body.

    With Nagle's algorithm it waits until the server ACKs the body, which a server with nothing to say
    delays by up to 40 ms: one message per ~44 ms per send process (measured p50 hand-over to mark 43.8 ms).
    """
    from tests.digest import backends

    settings.EMAIL_BACKEND = "tests.digest.backends.NoDelayProbeBackend"
    backends.nodelay.clear()
    users = [subscriber(f"fast{i}@example.org") for i in range(3)]
    for u in users:
        due_now(u, at=timezone.now())
    result = _send_due()
    assert len(result.sent) == 3
    assert backends.nodelay and all(backends.nodelay), backends.nodelay
