"""The day arXiv announces a paper, from the submission time of its first version.

Only the RSS feed states an announcement day; the export API, OAI-PMH and
Hugging Face report when a paper was submitted. Without a day a paper is never
a digest candidate, so papers known only from those sources (a backfill, a day
whose RSS ingest failed) get the day arXiv's published schedule gives them
(https://info.arxiv.org/help/availability.html), in US Eastern time
(``America/New_York``, with daylight saving time):

- Submissions close at 14:00 every weekday (Monday to Friday). A submission
  at 14:00 or later belongs to the next weekday's batch; weekend submissions
  belong to Monday's.
- Batches are mailed at 20:00 Sunday to Thursday: the Monday, Tuesday,
  Wednesday and Thursday batches that evening; the Thursday-14:00-to-Friday-14:00
  batch on Sunday; the Friday-14:00-to-Monday-14:00 batch on Monday.
- The announcement day is the date of the listing, which is what the RSS feed
  carries and ``Paper.announced_on`` stores: the mailing of Sunday 20:00 is
  "Mon, 27 Apr 2026 00:00:00 -0400" in the feed (the midnight after the
  mailing). So a batch is announced on the weekday after its cutoff:
  Monday's cutoff on Tuesday, ..., Thursday's on Friday, Friday's on Monday.
  There are listings Monday to Friday, never on a weekend.
- Holidays: arXiv skips some announcements (``ARXIV_HOLIDAYS``, a list of
  announcement days without a listing). The batch due that day rolls to the
  next announcement day, which then lists two batches.

A submission known only by its date (OAI ``arXiv`` metadata) arrives here as
00:00 UTC of that date, the evening before in New York: it is placed in the
batch of that date's cutoff, which is right unless it came after 14:00 Eastern,
and then one announcement early.

Pure: no Django, no I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from zoneinfo import ZoneInfo

EASTERN = ZoneInfo("America/New_York")
CUTOFF = dt.time(14, 0)
MAILING = dt.time(20, 0)
SATURDAY = 5


def _next_weekday(day: dt.date) -> dt.date:
    """The first Monday-to-Friday date after ``day``."""
    day += dt.timedelta(days=1)
    while day.weekday() >= SATURDAY:
        day += dt.timedelta(days=1)
    return day


def cutoff_after(submitted: dt.datetime) -> dt.datetime:
    """The first weekday 14:00 Eastern strictly after ``submitted`` (naive means UTC): its batch's cutoff."""
    if submitted.tzinfo is None:
        submitted = submitted.replace(tzinfo=dt.UTC)
    local = submitted.astimezone(EASTERN)
    day = local.date()
    if day.weekday() >= SATURDAY or local.time() >= CUTOFF:
        day = _next_weekday(day)
    return dt.datetime.combine(day, CUTOFF, tzinfo=EASTERN)


def announcement_day(submitted: dt.datetime, *, holidays: Collection[dt.date] = ()) -> dt.date:
    """The listing date (``Paper.announced_on``) of a first version submitted at ``submitted``."""
    day = _next_weekday(cutoff_after(submitted).date())
    while day in holidays:
        day = _next_weekday(day)
    return day


def mailing_at(day: dt.date) -> dt.datetime:
    """When the listing of announcement ``day`` is mailed: 20:00 Eastern the evening before (Sunday for Monday)."""
    evening = day - dt.timedelta(days=1)
    return dt.datetime.combine(evening, MAILING, tzinfo=EASTERN)


def submission_window(day: dt.date, *, holidays: Collection[dt.date] = ()) -> tuple[dt.datetime, dt.datetime] | None:
    """The first-version submissions listed on ``day``: ``[start, end)`` in Eastern time, or None (no listing).

    The inverse of ``announcement_day``: ``end`` is the cutoff of the batch due on
    ``day``; ``start`` is the cutoff of the batch due on the previous listing day
    (earlier batches rolled over from holidays are in the window too).
    """
    if day.weekday() >= SATURDAY or day in holidays:
        return None
    end = _cutoff_of(day)
    previous = day - dt.timedelta(days=1)
    while previous.weekday() >= SATURDAY or previous in holidays:
        previous -= dt.timedelta(days=1)
    return _cutoff_of(previous), end


def _cutoff_of(day: dt.date) -> dt.datetime:
    """The cutoff of the batch due on weekday ``day`` (before holidays): the previous weekday, 14:00."""
    previous = day - dt.timedelta(days=1)
    while previous.weekday() >= SATURDAY:
        previous -= dt.timedelta(days=1)
    return dt.datetime.combine(previous, CUTOFF, tzinfo=EASTERN)


def holidays_parse(values: Iterable[str] | str) -> frozenset[dt.date]:
    """Dates from ``ARXIV_HOLIDAYS`` (``"2026-12-25,2027-01-01"`` or a list); ``ValueError`` names a bad one."""
    if isinstance(values, str):
        values = values.split(",")
    days = set()
    for value in values:
        text = str(value).strip()
        if not text:
            continue
        try:
            days.add(dt.date.fromisoformat(text))
        except ValueError:
            raise ValueError(f"ARXIV_HOLIDAYS: {text[:40]!r} is not a date (YYYY-MM-DD)") from None
    return frozenset(days)
