"""The tick across DST changes (New York, 2026) and weekly schedules: one digest per period, at local time."""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo, available_timezones

import pytest

from recommender.digest import services
from recommender.digest.selectors import subscribers_due
from recommender.models import DigestDelivery, Profile
from recommender.subscriptions.schedule import next_send_at, period_key
from tests.factories import subscriber

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


@pytest.mark.slow
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


@pytest.mark.slow
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


# --- the invariant: one digest per local day, in every zone -------------------------------------------

YEAR = 2026
QUARTER_HOURS = [dt.time(h, m) for h in range(24) for m in (0, 15, 30, 45)]


class _Prefs:
    """A profile-like object: the schedule functions read only these four attributes."""

    def __init__(self, zone_name: str, send_time: dt.time, frequency: str = "daily", weekday: int = 0):
        self.time_zone, self.send_time, self.frequency, self.weekday = zone_name, send_time, frequency, weekday


def _noon_offsets(tz: ZoneInfo, first: dt.date, last: dt.date) -> list[dt.timedelta]:
    days = (last - first).days + 1
    return [
        dt.datetime.combine(first + dt.timedelta(days=i), dt.time(12), tzinfo=UTC).astimezone(tz).utcoffset()
        for i in range(days)
    ]


def _transition_days(tz: ZoneInfo) -> set[dt.date]:
    """Local days of ``YEAR`` whose schedule a clock change could touch (see the test's docstring)."""
    first, last = dt.date(YEAR, 1, 1), dt.date(YEAR, 12, 31)
    start = first - dt.timedelta(days=2)
    offsets = _noon_offsets(tz, start, last + dt.timedelta(days=2))
    near = set()
    for i in range(2, len(offsets) - 2):
        if len(set(offsets[i - 2 : i + 3])) > 1:
            near.add(start + dt.timedelta(days=i))
    return near


def _sample_days(zone_name: str) -> set[dt.date]:
    rng = random.Random(zone_name)  # seeded per zone: reproducible, different days per zone
    return {dt.date(YEAR, 1, 1) + dt.timedelta(days=rng.randrange(365))}


def _runs(days: set[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """Group days into runs of consecutive days [(first, last), ...]."""
    runs: list[tuple[dt.date, dt.date]] = []
    for day in sorted(days):
        if runs and day - runs[-1][1] <= dt.timedelta(days=1):
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def _wall_time_exists(day: dt.date, t: dt.time, tz: ZoneInfo) -> bool:
    moment = dt.datetime.combine(day, t, tzinfo=tz)
    return moment.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == moment.replace(tzinfo=None)


def _check_run(zone_name: str, t: dt.time, first: dt.date, last: dt.date) -> list[str]:
    """Follow the schedule as the tick does over [first, last]; return what breaks the invariant."""
    tz = ZoneInfo(zone_name)
    prefs = _Prefs(zone_name, t)
    # Start one local day early so the chain is already running when ``first`` begins.
    moment = dt.datetime.combine(first - dt.timedelta(days=1), dt.time(0), tzinfo=tz).astimezone(UTC)
    moment -= dt.timedelta(microseconds=1)
    expected = first - dt.timedelta(days=1)
    problems = []
    while expected <= last:
        moment = next_send_at(prefs, after=moment)
        key = period_key(prefs, at=moment)
        local = moment.astimezone(tz)
        if key != expected.isoformat() or local.date() != expected:
            problems.append(f"{zone_name} {t} expected {expected}, got {key} at {local.isoformat()}")
            break
        if local.time() != t and _wall_time_exists(expected, t, tz):  # moved although the wall time exists
            problems.append(f"{zone_name} {t} on {expected}: sent at {local.isoformat()}")
        expected += dt.timedelta(days=1)
    return problems


@pytest.mark.slow
def test_every_zone_every_quarter_hour_gets_one_digest_per_local_day_keyed_by_it():
    """For every IANA zone and quarter-hour send time: one daily digest per local day, keyed by that day.

    Exhaustive over 599 zones x 365 days x 96 times is 21 million schedule calls (minutes), so the
    test covers the days where the answer can differ from the trivial one instead. The send moment of
    local day D depends only on the zone's UTC offsets during D (the moment is D's wall time, resolved
    within D). A local day spans at most the UTC interval [D-1 10:00, D+1 12:00] (offsets run from
    -12 to +14 hours), which lies inside [D-2 12:00, D+2 12:00]; if the offset at UTC noon is the same
    on D-2 ... D+2, no change falls on D (two changes cancelling inside 24 hours do not exist in modern
    tzdata), the offset is constant over D and every wall time of D exists once: the moment is
    ``combine(D, t) - offset`` and trivially in D. So every day near a change is checked for all 96
    times, as consecutive runs followed the way the tick follows them (each send computed from the
    previous one), plus one seeded random ordinary day per zone to check the trivial case holds.
    """
    problems: list[str] = []
    for zone_name in sorted(available_timezones()):
        days = _transition_days(ZoneInfo(zone_name)) | _sample_days(zone_name)
        for first, last in _runs(days):
            for t in QUARTER_HOURS:
                problems.extend(_check_run(zone_name, t, first, last))
    assert problems == [], f"{len(problems)} broken schedules, e.g. {problems[:10]}"


@pytest.mark.parametrize("zone_name", ["America/Nuuk", "America/Godthab", "America/Scoresbysund"])
@pytest.mark.parametrize("send_time", [dt.time(23, 30), dt.time(23, 45)])
def test_greenland_late_evening_reader_gets_a_digest_on_28_march(zone_name, send_time):
    # Greenland springs forward at 23:00 on Saturday 28 March 2026: 23:00-23:59 that evening does not exist.
    assert not _wall_time_exists(dt.date(2026, 3, 28), send_time, ZoneInfo(zone_name))
    assert _check_run(zone_name, send_time, dt.date(2026, 3, 26), dt.date(2026, 3, 31)) == []


@pytest.mark.slow
def test_nuuk_tick_plans_one_digest_per_day_across_the_late_evening_gap():
    user = subscriber("nuuk@example.org", time_zone="America/Nuuk", send_time=dt.time(23, 30))
    # From 23:00 on the 27th (01:00 UTC) to 23:00 on the 29th (00:00 UTC on the 30th).
    start = dt.datetime(2026, 3, 28, 1, tzinfo=UTC)
    _start_at(user, start)
    planned = _tick_every_5_minutes(start, dt.datetime(2026, 3, 30, 1, tzinfo=UTC))
    assert [k for k, _ in planned[user.pk]] == ["2026-03-27", "2026-03-28", "2026-03-29"]


def test_a_local_day_that_does_not_exist_gets_no_digest_and_its_neighbours_one_each():
    # Samoa moved across the date line in 2011: Friday 30 December never happened in Apia.
    prefs = _Prefs("Pacific/Apia", dt.time(9, 0))
    moment = dt.datetime(2011, 12, 29, 0, tzinfo=UTC)  # 14:00 on the 28th in Apia
    keys = []
    for _ in range(3):
        moment = next_send_at(prefs, after=moment)
        keys.append(period_key(prefs, at=moment))
    assert keys == ["2011-12-29", "2011-12-31", "2012-01-01"]


def test_the_invariant_finds_the_clock_changes_it_must_cover():
    # Guards the harness above: a detection that found nothing would make the invariant vacuous.
    assert {dt.date(2026, 3, 8), dt.date(2026, 11, 1)} <= _transition_days(NY)
    assert dt.date(2026, 3, 28) in _transition_days(ZoneInfo("America/Nuuk"))
    assert _transition_days(ZoneInfo("Asia/Tokyo")) == set()
    assert len(_transition_days(ZoneInfo("Australia/Lord_Howe"))) == 8  # two half-hour changes, 4 days each
