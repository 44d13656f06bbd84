"""When a subscriber is due, in their own time zone (DST-correct), and which period that is.

Pure functions over a profile-like object (``frequency``, ``weekday``,
``send_time``, ``time_zone``); no database access, so they are easy to test
across DST changes.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = dt.UTC


def zone(name: str) -> ZoneInfo:
    """Return the IANA zone ``name``, falling back to UTC for unknown names."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _send_time(profile) -> dt.time:
    t = profile.send_time
    if isinstance(t, str):
        t = dt.time.fromisoformat(t)
    return t


def _local_date(moment: dt.datetime, tz: ZoneInfo) -> dt.date:
    return moment.astimezone(tz).date()


def _local_send_moment(day: dt.date, t: dt.time, tz: ZoneInfo) -> dt.datetime | None:
    """The UTC instant of wall-clock ``t`` on ``day`` in ``tz``, always an instant of local ``day``.

    A repeated wall time (autumn) resolves to its first occurrence (fold=0). A
    wall time skipped by a clock change resolves, in this order, to the first
    of these that is still on ``day``:

    1. later by the gap (the offset before the change: 02:30 becomes 03:30);
    2. earlier by the gap (the offset after the change: Nuuk's 23:30 on
       28 March 2026, when the clocks jump from 23:00 to 00:00, becomes 22:30;
       moving it forward would land on the next day, giving that reader no
       digest on the 28th and two keyed the 29th);
    3. the first or the last instant of ``day`` next to the gap (a gap of
       more than twelve hours, as when Samoa skipped a day in 2011).

    ``None`` if ``day`` does not exist in ``tz`` at all. Either way the
    subscriber gets exactly one digest per local day, and ``period_key`` of the
    moment is ``day``.
    """
    wall = dt.datetime.combine(day, t, tzinfo=tz)
    first = wall.astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == wall.replace(tzinfo=None):
        return first  # the wall time exists (its first occurrence if it repeats)
    later, earlier = first, wall.replace(fold=1).astimezone(UTC)
    change = _clock_change(earlier, later, tz)
    for candidate in (later, earlier, change, change - dt.timedelta(microseconds=1)):
        if _local_date(candidate, tz) == day:
            return candidate
    return None


def _clock_change(start: dt.datetime, end: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """The first instant in ``(start, end]`` whose UTC offset differs from ``start``'s (bisection, to 1 µs)."""
    offset = start.astimezone(tz).utcoffset()
    low, high = start, end
    while high - low > dt.timedelta(microseconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(tz).utcoffset() == offset:
            low = middle
        else:
            high = middle
    return high


def next_send_at(profile, *, after: dt.datetime) -> dt.datetime | None:
    """Return the first send moment strictly after ``after`` (UTC), or None if off."""
    if profile.frequency == "off":
        return None
    tz = zone(profile.time_zone)
    t = _send_time(profile)
    local_day = after.astimezone(tz).date()
    for offset in range(0, 9):
        day = local_day + dt.timedelta(days=offset)
        if profile.frequency == "weekly" and day.weekday() != int(profile.weekday):
            continue
        moment = _local_send_moment(day, t, tz)
        if moment is not None and moment > after:
            return moment
    return None  # unreachable for valid preferences


def period_key(profile, *, at: dt.datetime) -> str:
    """Name the digest period containing ``at`` in the subscriber's zone.

    Daily digests are keyed by local date, weekly ones by ISO week, so a
    second send in the same period hits the delivery table's unique key.
    For a moment from ``next_send_at`` the local date is the day it was
    planned for, even when that day's send time did not exist (see
    ``_local_send_moment``).
    """
    local = at.astimezone(zone(profile.time_zone)).date()
    if profile.frequency == "weekly":
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    return local.isoformat()
