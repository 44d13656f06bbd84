"""Pausing the digest (issue 16, part 4): the real tick and a real SMTP server, from the pause to its end."""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from recommender.digest import services
from recommender.models import DeliveryStatus, DigestDelivery, Profile
from recommender.subscriptions.pause import SKIP_PAUSED, pause_end_for, profile_pause, profile_unpause
from tests.factories import due_now, make_paper, plan_and_send, subscriber

pytestmark = pytest.mark.django_db
UTC = dt.UTC


def _text(message) -> str:
    return next(p for p in message.iter_parts() if p.get_content_type() == "text/plain").get_content()


def _html(message) -> str:
    return next(p for p in message.iter_parts() if p.get_content_type() == "text/html").get_content()


def test_pause_skips_every_period_then_resumes_by_itself(smtp_server, papers_today):
    now = timezone.now()
    user = subscriber("pauser@example.org", send_time=dt.time(8, 0), time_zone="UTC")
    profile = Profile.objects.get(user=user)
    end = pause_end_for(profile=profile, weeks=1)
    # The pause starts after today's digest: that digest is the last one before it and says so.
    profile = profile_pause(profile=profile, start=now + dt.timedelta(minutes=1), end=end)
    assert profile.next_digest_at >= end
    due_now(user, at=now)
    assert plan_and_send(now).sent == [user.pk]
    [last] = smtp_server.wait_for(1)
    back = f"{end.day} {end:%B}"
    assert f"this is the last one until {back}" in _text(last)
    assert f"this is the last one until {back}" in _html(last)

    # Every day of the pause: even if the subscriber were due, the tick sends nothing.
    for day in range(1, 7):
        moment = now + dt.timedelta(days=day)
        make_paper(category="cs.LG", announced_on=moment.date())
        due_now(user, at=moment)
        assert plan_and_send(moment).sent == []
    assert len(smtp_server.messages) == 1
    paused = DigestDelivery.objects.filter(user=user, status=DeliveryStatus.SKIPPED)
    days = {(now + dt.timedelta(days=k)).date().isoformat() for k in range(1, 7)}
    assert set(paused.values_list("period_key", flat=True)) == days  # today's was sent (it came first)
    assert all(d.skip_reason.startswith(SKIP_PAUSED) for d in paused)

    # The pause is over: the next tick at the recomputed moment sends, without the pause line.
    Profile.objects.filter(user=user).update(next_digest_at=profile.next_digest_at)
    after = profile.next_digest_at
    make_paper(category="cs.LG", announced_on=after.date())
    assert plan_and_send(after).sent == [user.pk]
    message = smtp_server.wait_for(2)[1]
    assert "You paused your digest" not in _text(message)
    assert Profile.objects.get(user=user).next_digest_at > after


def test_unpause_gives_the_remaining_periods_back(smtp_server, papers_today):
    now = timezone.now()
    user = subscriber("back@example.org", send_time=dt.time(8, 0), time_zone="UTC")
    profile = profile_pause(profile=Profile.objects.get(user=user), end=now + dt.timedelta(weeks=2))
    now = timezone.now()
    due_now(user, at=now)
    assert plan_and_send(now).sent == []  # paused now
    profile = profile_unpause(profile=profile)
    assert profile.paused_until is None and profile.next_digest_at < now + dt.timedelta(days=2)
    # What is left in the log is only the period already skipped (today's, if its moment had passed).
    assert DigestDelivery.objects.filter(user=user, skip_reason__startswith=SKIP_PAUSED).count() <= 1
    moment = profile.next_digest_at
    make_paper(category="cs.LG", announced_on=moment.date())
    assert plan_and_send(moment).sent == [user.pk]
    smtp_server.wait_for(1)


@pytest.mark.parametrize("zone_name", ["UTC", "Pacific/Auckland", "America/Los_Angeles", "Europe/Paris"])
@pytest.mark.parametrize("frequency", ["daily", "weekly"])
def test_next_digest_is_never_inside_a_pause(zone_name, frequency):
    user = subscriber(f"z{frequency}@example.org", time_zone=zone_name, frequency=frequency, weekday=2)
    profile = Profile.objects.get(user=user)
    for weeks in (1, 2, 4):
        end = pause_end_for(profile=profile, weeks=weeks)
        profile = profile_pause(profile=profile, end=end)
        assert profile.next_digest_at >= end
        local = profile.next_digest_at.astimezone(dt.datetime.now().astimezone().tzinfo)
        assert local  # a real instant
        keys = set(DigestDelivery.objects.filter(user=user).values_list("period_key", flat=True))
        assert keys, "the paused periods are in the log"
        assert DigestDelivery.objects.filter(user=user).exclude(status=DeliveryStatus.SKIPPED).count() == 0


ZONES = ["UTC", "Europe/Paris", "America/New_York", "Pacific/Auckland", "Asia/Kolkata", "America/Nuuk", "Pacific/Apia"]


@pytest.mark.slow
@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    zone_name=st.sampled_from(ZONES),
    frequency=st.sampled_from(["daily", "weekly"]),
    weekday=st.integers(0, 6),
    send_time=st.times(),
    days=st.integers(1, 180),
)
def test_no_digest_is_ever_due_inside_a_pause(zone_name, frequency, weekday, send_time, days):
    """Generated schedules and pauses: the next digest is after the pause, every covered period is logged."""
    user = subscriber(f"h{time.monotonic_ns()}@example.org")
    profile = Profile.objects.get(user=user)
    for name, value in (("time_zone", zone_name), ("frequency", frequency), ("weekday", weekday)):
        setattr(profile, name, value)
    profile.send_time = send_time
    profile.save()
    until = timezone.now().astimezone(ZoneInfo(zone_name)).date() + dt.timedelta(days=days)
    profile = profile_pause(profile=profile, end=pause_end_for(profile=profile, until=until))
    assert profile.next_digest_at >= profile.paused_until
    assert profile.next_digest_at.astimezone(ZoneInfo(zone_name)).date() >= until
    # Even forced due, the tick at any moment of the pause opens nothing for this subscriber.
    for moment in (profile.paused_from, profile.paused_until - dt.timedelta(seconds=1)):
        due_now(user, at=moment)
        assert user.pk not in services.deliveries_open_due(now=moment)
    assert not DigestDelivery.objects.filter(user=user).exclude(status=DeliveryStatus.SKIPPED).exists()
    DigestDelivery.objects.filter(user=user).delete()
