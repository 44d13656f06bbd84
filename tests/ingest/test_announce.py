"""The announcement day derived from a first version's submission time (``recommender.ingest.announce``).

No paper of the recorded feeds is in both the RSS feeds and the API/OAI/HF files, so the agreement
with the RSS day is checked from what the RSS items carry: their ids, versions, announce types and
pubDate, and the channel's skipDays (``test_recorded_rss_days_follow_the_schedule``), and on ingestion
by giving an API entry of an RSS paper a submission time inside the window the schedule assigns to
that RSS day (``tests/ingest/test_announce_ingest.py``).
"""

from __future__ import annotations

import datetime as dt
import re
from email.utils import parsedate_to_datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.ingest import arxiv_rss
from recommender.ingest.announce import (
    EASTERN,
    announcement_day,
    cutoff_after,
    holidays_parse,
    mailing_at,
    submission_window,
)

UTC = dt.UTC


def eastern(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=EASTERN)


@pytest.mark.parametrize(
    ("submitted", "announced"),
    [
        # The week of Monday 20 April 2026 (EDT).
        (eastern(2026, 4, 20, 13, 59), dt.date(2026, 4, 21)),  # Mon before the cutoff: mailed Mon 20:00, listed Tue
        (eastern(2026, 4, 20, 14, 0), dt.date(2026, 4, 22)),  # at the cutoff: the next batch
        (eastern(2026, 4, 21, 9, 0), dt.date(2026, 4, 22)),
        (eastern(2026, 4, 22, 9, 0), dt.date(2026, 4, 23)),
        (eastern(2026, 4, 23, 13, 59, 59), dt.date(2026, 4, 24)),  # Thu batch: mailed Thu, listed Fri
        (eastern(2026, 4, 23, 14, 0), dt.date(2026, 4, 27)),  # Thu-to-Fri batch: mailed Sun, listed Mon
        (eastern(2026, 4, 24, 13, 59), dt.date(2026, 4, 27)),
        (eastern(2026, 4, 24, 14, 0), dt.date(2026, 4, 28)),  # Fri-to-Mon batch: mailed Mon, listed Tue
        (eastern(2026, 4, 25, 12, 0), dt.date(2026, 4, 28)),  # Saturday
        (eastern(2026, 4, 26, 23, 59), dt.date(2026, 4, 28)),  # Sunday, after that evening's mailing
        (eastern(2026, 4, 27, 13, 59), dt.date(2026, 4, 28)),
    ],
)
def test_weekdays_and_weekends(submitted, announced):
    assert announcement_day(submitted) == announced
    assert announcement_day(submitted.astimezone(UTC)) == announced
    assert announcement_day(submitted.astimezone(UTC).replace(tzinfo=None)) == announced  # naive is UTC


@pytest.mark.parametrize(
    ("submitted_utc", "announced"),
    [
        # Spring forward on Sunday 8 March 2026: the cutoff is 19:00 UTC before, 18:00 UTC after.
        (dt.datetime(2026, 3, 6, 18, 59), dt.date(2026, 3, 9)),  # Fri 13:59 EST
        (dt.datetime(2026, 3, 6, 19, 0), dt.date(2026, 3, 10)),  # Fri 14:00 EST
        (dt.datetime(2026, 3, 8, 6, 30), dt.date(2026, 3, 10)),  # inside the skipped hour's morning
        (dt.datetime(2026, 3, 9, 17, 59), dt.date(2026, 3, 10)),  # Mon 13:59 EDT
        (dt.datetime(2026, 3, 9, 18, 30), dt.date(2026, 3, 11)),  # Mon 14:30 EDT (13:30 had it stayed EST)
        # Fall back on Sunday 1 November 2026: 18:00 UTC before, 19:00 UTC after.
        (dt.datetime(2026, 10, 30, 18, 30), dt.date(2026, 11, 3)),  # Fri 14:30 EDT
        (dt.datetime(2026, 11, 1, 5, 30), dt.date(2026, 11, 3)),  # the repeated 01:30
        (dt.datetime(2026, 11, 2, 18, 30), dt.date(2026, 11, 3)),  # Mon 13:30 EST (14:30 had it stayed EDT)
        (dt.datetime(2026, 11, 2, 19, 0), dt.date(2026, 11, 4)),  # Mon 14:00 EST
    ],
)
def test_both_daylight_saving_changes(submitted_utc, announced):
    assert announcement_day(submitted_utc.replace(tzinfo=UTC)) == announced


def test_holidays_roll_to_the_next_announcement():
    holidays = holidays_parse("2026-12-25, 2027-01-01,2026-11-26,2026-11-27")
    assert holidays == {dt.date(2026, 12, 25), dt.date(2027, 1, 1), dt.date(2026, 11, 26), dt.date(2026, 11, 27)}
    # Due on Friday 25 December: listed with the next batch on Monday 28 December.
    assert announcement_day(eastern(2026, 12, 23, 15, 0)) == dt.date(2026, 12, 25)
    assert announcement_day(eastern(2026, 12, 23, 15, 0), holidays=holidays) == dt.date(2026, 12, 28)
    assert announcement_day(eastern(2026, 12, 24, 15, 0), holidays=holidays) == dt.date(2026, 12, 28)
    assert announcement_day(eastern(2026, 12, 22, 15, 0), holidays=holidays) == dt.date(2026, 12, 24)
    assert announcement_day(eastern(2026, 12, 30, 15, 0), holidays=holidays) == dt.date(2027, 1, 4)
    # Two holidays in a row (Thursday and Friday): Wednesday's and Thursday's batches go out on Monday.
    assert announcement_day(eastern(2026, 11, 24, 15, 0), holidays=holidays) == dt.date(2026, 11, 30)
    assert announcement_day(eastern(2026, 11, 25, 15, 0), holidays=holidays) == dt.date(2026, 11, 30)
    assert submission_window(dt.date(2026, 12, 25), holidays=holidays) is None
    assert submission_window(dt.date(2026, 12, 28), holidays=holidays) == (
        eastern(2026, 12, 23, 14, 0),
        eastern(2026, 12, 25, 14, 0),
    )
    with pytest.raises(ValueError, match="ARXIV_HOLIDAYS: '2026-13-01' is not a date"):
        holidays_parse(["2026-12-25", "2026-13-01"])
    assert holidays_parse("") == frozenset()


_instants = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2040, 1, 1)).map(
    lambda d: d.replace(tzinfo=UTC)
)
_offsets = st.frozensets(st.integers(min_value=-3, max_value=20), max_size=12)  # holidays near the listing


@settings(max_examples=300, deadline=None)
@given(submitted=_instants, later=st.timedeltas(min_value=dt.timedelta(0), max_value=dt.timedelta(days=20)))
def test_the_day_is_the_first_listing_after_the_submission_and_never_goes_back(submitted, later):
    day = announcement_day(submitted)
    assert day.weekday() < 5
    start, end = submission_window(day)
    assert start <= submitted < end  # the inverse agrees
    assert end == cutoff_after(submitted)
    assert submitted < end < mailing_at(day) < dt.datetime.combine(day, dt.time(0), tzinfo=EASTERN)
    assert announcement_day(submitted + later) >= day  # later submissions are never listed earlier


@settings(max_examples=200, deadline=None)
@given(submitted=_instants, offsets=_offsets)
def test_with_holidays_the_day_is_the_first_listing_day_not_a_holiday(submitted, offsets):
    plain = announcement_day(submitted)
    holidays = {plain + dt.timedelta(days=k) for k in offsets}
    day = announcement_day(submitted, holidays=holidays)
    assert day >= plain and day not in holidays and day.weekday() < 5
    between = [plain + dt.timedelta(days=i) for i in range((day - plain).days)]
    assert all(d in holidays or d.weekday() >= 5 for d in between)  # no listing day skipped
    start, end = submission_window(day, holidays=holidays)
    assert start <= submitted < end


def test_windows_of_consecutive_listing_days_tile_the_time_axis():
    holidays = holidays_parse("2026-12-24,2026-12-25,2027-01-01")
    days = [dt.date(2026, 12, 1) + dt.timedelta(days=i) for i in range(60)]
    windows = [w for w in (submission_window(d, holidays=holidays) for d in days) if w]
    assert all(a[1] == b[0] for a, b in zip(windows, windows[1:], strict=False))


def test_recorded_rss_days_follow_the_schedule(feeds):
    """Every recorded RSS item: its day is a listing day whose window holds a first version of its id's month.

    The items are new v1 announcements dated by pubDate 00:00 Eastern, the midnight after the 20:00
    mailing; their ids (2604.*) were given at submission in April 2026, as the window
    (Thursday 23 April 14:00 to Friday 24 April 14:00) is. The channel's skipDays are the weekdays
    without a listing.
    """
    checked = 0
    for path in sorted((feeds / "arxiv-rss").glob("*.xml")):
        data = path.read_bytes()
        skip = set(re.findall(rb"<day>(\w+)</day>", data))
        week = [dt.date(2026, 4, 20) + dt.timedelta(days=i) for i in range(7)]
        assert skip == {d.strftime("%A").encode() for d in week if submission_window(d) is None}
        stamps = [parsedate_to_datetime(s.decode()) for s in re.findall(rb"<pubDate>([^<]+)</pubDate>", data)]
        for entry in arxiv_rss.parse(data):
            assert entry.version == 1 and entry.announce_type == "new"
            day = entry.announced_on
            start, end = submission_window(day)
            midnight = dt.datetime.combine(day, dt.time(0), tzinfo=EASTERN)
            assert any(stamp == midnight for stamp in stamps)  # the feed's own instant for that day
            assert mailing_at(day) == midnight - dt.timedelta(hours=4)
            assert announcement_day(start) == day == announcement_day(end - dt.timedelta(microseconds=1))
            assert entry.arxiv_id[:4] == f"{start:%y%m}" == f"{(end - dt.timedelta(seconds=1)):%y%m}"
            checked += 1
    assert checked == 6
