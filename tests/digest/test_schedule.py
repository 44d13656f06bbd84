"""The tick across DST changes (New York, 2026) and weekly schedules: one digest per period, at local time."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from recommender.digest import services
from recommender.digest.schedule import next_send_at
from recommender.digest.selectors import subscribers_due
from recommender.models import DigestDelivery, Profile

from .conftest import subscriber

pytestmark = pytest.mark.django_db
UTC = dt.UTC
NY = ZoneInfo("America/New_York")


def _start_at(user, moment: dt.datetime) -> None:
    profile = Profile.objects.get(user=user)
    Profile.objects.filter(pk=profile.pk).update(next_digest_at=next_send_at(profile, after=moment))


def _tick_every_5_minutes(start: dt.datetime, end: dt.datetime) -> dict[int, list[tuple[str, dt.datetime]]]:
    """Run the planning phase at every beat tick; return user -> [(period, tick moment)]."""
    planned: dict[int, list[tuple[str, dt.datetime]]] = {}
    moment = start
    while moment < end:
        before = set(DigestDelivery.objects.values_list("pk", flat=True))
        services.digest_plan(now=moment)
        for d in DigestDelivery.objects.exclude(pk__in=before):
            planned.setdefault(d.user_id, []).append((d.period_key, moment))
        moment += dt.timedelta(minutes=5)
    return planned


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        # Spring forward on Sun 8 Mar 2026: 08:00 EST is 13:00 UTC, 08:00 EDT is 12:00 UTC.
        (
            dt.datetime(2026, 3, 7, 0, 0, tzinfo=UTC),
            [("2026-03-07", 13), ("2026-03-08", 12), ("2026-03-09", 12)],
        ),
        # Fall back on Sun 1 Nov 2026.
        (
            dt.datetime(2026, 10, 31, 0, 0, tzinfo=UTC),
            [("2026-10-31", 12), ("2026-11-01", 13), ("2026-11-02", 13)],
        ),
    ],
)
def test_new_york_daily_digest_across_dst(start, expected):
    user = subscriber("ny@example.org", time_zone="America/New_York", send_time=dt.time(8, 0))
    _start_at(user, start)
    planned = _tick_every_5_minutes(start, start + dt.timedelta(days=3))
    got = [(key, moment.hour) for key, moment in planned[user.pk]]
    assert got == expected
    for _, moment in planned[user.pk]:
        assert moment.astimezone(NY).time() == dt.time(8, 0)


def test_send_times_that_do_not_exist_or_repeat_give_one_digest():
    # 02:30 does not exist on 8 Mar in New York; 01:30 happens twice on 1 Nov.
    skipped = subscriber("gap@example.org", time_zone="America/New_York", send_time=dt.time(2, 30))
    twice = subscriber("fold@example.org", time_zone="America/New_York", send_time=dt.time(1, 30))
    _start_at(skipped, dt.datetime(2026, 3, 7, 12, tzinfo=UTC))
    _start_at(twice, dt.datetime(2026, 10, 31, 12, tzinfo=UTC))
    spring = _tick_every_5_minutes(dt.datetime(2026, 3, 7, 12, tzinfo=UTC), dt.datetime(2026, 3, 9, 12, tzinfo=UTC))
    autumn = _tick_every_5_minutes(dt.datetime(2026, 10, 31, 12, tzinfo=UTC), dt.datetime(2026, 11, 2, 12, tzinfo=UTC))
    assert [k for k, _ in spring[skipped.pk]] == ["2026-03-08", "2026-03-09"]
    assert [k for k, _ in autumn[twice.pk]] == ["2026-11-01", "2026-11-02"]


def test_weekly_digest_on_its_weekday_across_european_dst():
    # Mondays 09:00 in Paris; Europe moves its clocks on Sun 29 Mar 2026.
    user = subscriber("weekly@example.org", time_zone="Europe/Paris", frequency="weekly", weekday=0)
    Profile.objects.filter(user=user).update(send_time=dt.time(9, 0))
    profile = Profile.objects.get(user=user)
    moment = dt.datetime(2026, 3, 18, tzinfo=UTC)
    Profile.objects.filter(pk=profile.pk).update(next_digest_at=next_send_at(profile, after=moment))
    sends = []
    for _ in range(3):
        due_at = Profile.objects.get(pk=profile.pk).next_digest_at
        assert list(subscribers_due(now=due_at - dt.timedelta(minutes=5))) == []
        services.digest_plan(now=due_at)
        services.digest_plan(now=due_at + dt.timedelta(minutes=5))  # a second tick changes nothing
        sends.append(due_at)
    keys = list(DigestDelivery.objects.filter(user=user).order_by("pk").values_list("period_key", flat=True))
    assert keys == ["2026-W13", "2026-W14", "2026-W15"]
    assert [s.isoformat() for s in sends] == [
        "2026-03-23T08:00:00+00:00",
        "2026-03-30T07:00:00+00:00",
        "2026-04-06T07:00:00+00:00",
    ]


def test_unsubscribed_and_unconfirmed_are_never_due():
    user = subscriber("gone@example.org")
    now = dt.datetime(2026, 5, 1, 12, tzinfo=UTC)
    Profile.objects.filter(user=user).update(next_digest_at=now, suppression="unsubscribed")
    assert services.digest_plan(now=now) == []
    Profile.objects.filter(user=user).update(suppression="", confirmed_at=None)
    assert services.digest_plan(now=now) == []
    assert not DigestDelivery.objects.exists()
