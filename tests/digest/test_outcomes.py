"""My digests (issue 16, part 1): each period's digest and why, end to end through the tick and a real SMTP server.

Every reason a sender can store maps to plain words (never shown raw), the reader's page and the admin's
delivery log show the same words (one function), and a sent digest opens as it was sent.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from recommender.digest import context, outcomes, planning, services
from recommender.models import DeliveryStatus, DigestDelivery, Profile, Suppression
from recommender.subscriptions.pause import SKIP_PAUSED, pause_end_for, profile_pause
from recommender.subscriptions.services import profile_suppress
from tests.factories import due_now, make_paper, plan_and_send, subscriber

pytestmark = pytest.mark.django_db
UTC = dt.UTC
SATURDAY = dt.datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
THURSDAY = dt.datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def _page(user) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(reverse("web:my_digests"))
    assert response.status_code == 200
    return response.content.decode()


def _outcome(user) -> outcomes.Outcome:
    delivery = DigestDelivery.objects.get(user=user)
    return outcomes.delivery_outcome(delivery=delivery, profile=Profile.objects.get(user=user))


def test_saturday_without_a_mailing(smtp_server):
    make_paper(category="cs.LG", announced_on=SATURDAY.date() - dt.timedelta(days=8))
    user = subscriber("sat@example.org")
    due_now(user, at=SATURDAY)
    assert plan_and_send(SATURDAY).sent == []
    assert smtp_server.messages == []
    assert "arXiv had no mailing on Saturday" in _page(user)


def test_a_holiday_at_arxiv(smtp_server, settings):
    settings.PAPERBOY = {**settings.PAPERBOY, "ARXIV_HOLIDAYS": ["2026-11-26"]}
    user = subscriber("holiday@example.org")
    due_now(user, at=THURSDAY)
    plan_and_send(THURSDAY)
    assert "a holiday at arXiv: no mailing on 26 November" in _page(user)


def test_nothing_matched_links_to_the_preferences(smtp_server):
    make_paper(category="math.AG", announced_on=timezone.now().date(), title="Sheaves on stacks")
    user = subscriber("picky@example.org", categories=["cs.LG"], include_keywords=["quantum gravity"])
    due_now(user, at=timezone.now())
    plan_and_send(timezone.now())
    delivery = DigestDelivery.objects.get(user=user)
    assert delivery.status == DeliveryStatus.SKIPPED
    page = _page(user)
    assert "nothing new matched your filters" in page
    assert f'<a href="{reverse("web:preferences")}">loosen them here</a>' in page


def test_paused_period(smtp_server, papers_today):
    user = subscriber("paused@example.org", send_time=dt.time(23, 59), time_zone="UTC")
    profile = Profile.objects.get(user=user)
    end = pause_end_for(profile=profile, weeks=2)
    profile_pause(profile=profile, end=end)
    due_now(user, at=timezone.now())
    assert plan_and_send(timezone.now()).sent == []
    page = _page(user)
    if timezone.now().time() < dt.time(23, 59):  # today's moment is still to come: its period is paused
        assert f"paused until {end.day} {end:%B}" in page


@pytest.mark.parametrize(
    ("reason", "words"),
    [(Suppression.UNSUBSCRIBED, "you unsubscribed on"), (Suppression.BOUNCED, "your address bounced on")],
)
def test_stopped_between_plan_and_send(smtp_server, papers_today, reason, words):
    user = subscriber(f"{reason}@example.org")
    now = timezone.now()
    due_now(user, at=now)
    user_ids = services.digest_plan(now=now)  # planned ...
    profile_suppress(user=user, reason=reason)  # ... then the reader unsubscribes, or the address bounces
    assert services.digest_send_batch(user_ids=user_ids, now=now).sent == []
    assert smtp_server.messages == []
    day = f"{now.day} {now:%B %Y}"
    assert _outcome(user).text == f"{words} {day}"
    page = _page(user)
    assert f"{words} {day}" in page and 'id="digest-stopped"' in page


def test_refused_by_the_mail_server(smtp_server, papers_today):
    user = subscriber("gone@example.org")
    smtp_server.reply_for = lambda env: "550 5.1.1 No such mailbox"
    due_now(user, at=timezone.now())
    plan_and_send(timezone.now())
    assert DigestDelivery.objects.get(user=user).status == DeliveryStatus.FAILED
    assert "your mail server refused it; we did not retry" in _page(user)


def test_in_doubt_says_what_the_service_did(smtp_server, settings):
    settings.PAPERBOY = {**settings.PAPERBOY, "DIGEST_LEASE_SECONDS": 60}
    user = subscriber("doubt@example.org")
    old = timezone.now() - dt.timedelta(minutes=5)
    DigestDelivery.objects.create(
        user=user, period_key=timezone.now().date().isoformat(), status="sending", claimed_at=old, message_id="<x@y>"
    )
    services.digest_plan(now=timezone.now())  # the tick reconciles it
    assert "did not confirm it took this digest; we did not send it again" in _page(user)
    delivery = DigestDelivery.objects.get(user=user)
    assert reverse("web:my_digest", args=[delivery.pk]) in _page(user)  # it may have arrived: it opens
    client = Client()
    client.force_login(user)
    assert client.get(reverse("web:my_digest", args=[delivery.pk])).status_code == 200


def test_a_sent_digest_opens_as_it_was_sent(smtp_server, papers_today, trending_old):
    user = subscriber("opener@example.org")
    due_now(user, at=timezone.now())
    assert plan_and_send(timezone.now()).sent == [user.pk]
    [message] = smtp_server.wait_for(1)
    delivery = DigestDelivery.objects.get(user=user)
    page = _page(user)
    assert reverse("web:my_digest", args=[delivery.pk]) in page
    # Newer papers arrive later: the stored digest still shows what was sent, in its order.
    make_paper(category="cs.LG", announced_on=timezone.now().date(), title="A later paper", hf_upvotes=999)
    client = Client()
    client.force_login(user)
    opened = client.get(reverse("web:my_digest", args=[delivery.pk])).content.decode()
    html = next(p for p in message.iter_parts() if p.get_content_type() == "text/html").get_content()
    for paper in papers_today:
        assert (paper.title in html) and (paper.title in opened)
    assert "A later paper" not in opened
    # Nobody else opens it.
    other = subscriber("other@example.org")
    client.force_login(other)
    assert client.get(reverse("web:my_digest", args=[delivery.pk])).status_code == 404


STORED = [
    context.SKIP_NOTHING_ANNOUNCED,
    context.SKIP_NOTHING_MATCHED,
    planning.SKIP_NOT_SENDABLE,
    planning.SKIP_NOTHING_LEFT,
    f"{SKIP_PAUSED}: until 2027-01-12",
]


@pytest.mark.parametrize("reason", STORED)
@pytest.mark.parametrize("period", ["2026-11-28", "2026-11-26", "2026-W48"])
def test_every_stored_reason_has_plain_words(reason, period):
    user = subscriber(f"r{abs(hash((reason, period)))}@example.org")
    delivery = DigestDelivery(user=user, period_key=period, status=DeliveryStatus.SKIPPED, skip_reason=reason)
    outcome = outcomes.delivery_outcome(delivery=delivery, profile=Profile.objects.get(user=user))
    assert outcome.text and outcome.text != reason and outcome.state == "skipped"


@pytest.mark.parametrize("error", ["in-doubt: x", "permanent: x", "transient: x", "build: x", "other"])
def test_every_failure_says_what_was_done(error):
    user = subscriber(f"e{abs(hash(error))}@example.org")
    outcome = outcomes.delivery_outcome(delivery=DigestDelivery(user=user, status="failed", error=error))
    assert outcome.text and error not in outcome.text


def test_the_admin_shows_the_same_words(smtp_server, staff_client_with_deliveries):
    client, user = staff_client_with_deliveries
    page = client.get(reverse("admin:recommender_digestdelivery_changelist")).content.decode()
    assert "arXiv had no mailing on Saturday" in page
    delivery = DigestDelivery.objects.get(user=user)
    detail = client.get(reverse("admin:recommender_digestdelivery_change", args=[delivery.pk])).content.decode()
    assert "arXiv had no mailing on Saturday" in detail


@pytest.fixture
def staff_client_with_deliveries(db):
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.create_superuser("root", "root@example.org", "pw")
    user = subscriber("sat2@example.org")
    due_now(user, at=SATURDAY)
    plan_and_send(SATURDAY)
    client = Client()
    client.force_login(admin)
    return client, user


# --- the "nothing new today" note (Profile.empty_day) ----------------------------------------------


def test_the_note_on_an_empty_day_goes_through_the_send_path(smtp_server):
    make_paper(category="cs.LG", announced_on=SATURDAY.date() - dt.timedelta(days=8))
    quiet = subscriber("quiet@example.org")  # the default: nothing
    noted = subscriber("noted@example.org", empty_day="note")
    for user in (quiet, noted):
        due_now(user, at=SATURDAY)
    result = plan_and_send(SATURDAY)
    assert result.sent == [noted.pk]
    [message] = smtp_server.wait_for(1)
    assert message["To"] == "noted@example.org" and message["Subject"] == "Nothing new today"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = message.get_body(("plain",)).get_content()
    assert "arXiv had no mailing on Saturday" in text
    delivery = DigestDelivery.objects.get(user=noted)
    assert delivery.status == DeliveryStatus.SENT and delivery.message_id == message["Message-ID"]
    assert "we sent you the short note you asked for" in _page(noted)
    assert DigestDelivery.objects.get(user=quiet).status == DeliveryStatus.SKIPPED
    # The note served no papers: the next digest still has everything new since the last real one.
    monday = SATURDAY + dt.timedelta(days=2)
    fresh = make_paper(category="cs.LG", announced_on=monday.date())
    due_now(noted, at=monday)
    assert noted.pk in plan_and_send(monday).sent
    messages = smtp_server.wait_for(2)
    assert any(m["To"] == "noted@example.org" and fresh.title in m["Subject"] for m in messages[1:])


def test_the_choice_is_on_the_preferences_page(db):
    from tests.web.test_account import prefs_data

    user = subscriber("chooser@example.org")
    client = Client()
    client.force_login(user)
    assert "On a day with nothing new" in client.get(reverse("web:preferences")).content.decode()
    client.post(reverse("web:preferences"), prefs_data(empty_day="note"))
    assert Profile.objects.get(user=user).empty_day == "note"
    client.post(reverse("web:preferences"), prefs_data())
    assert Profile.objects.get(user=user).empty_day == "nothing"


def test_periods_still_to_come_are_not_listed(db):
    user = subscriber("ahead@example.org")
    profile = Profile.objects.get(user=user)
    profile_pause(profile=profile, end=pause_end_for(profile=profile, weeks=1))
    today = timezone.now().date()
    page = _page(user)
    for k in range(2, 7):
        assert (today + dt.timedelta(days=k)).isoformat() not in page
