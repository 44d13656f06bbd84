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


def _local_send_moment(day: dt.date, t: dt.time, tz: ZoneInfo) -> dt.datetime:
    """The UTC instant of wall-clock ``t`` on ``day`` in ``tz``.

    A wall time skipped by a spring-forward change resolves to the same
    offset as before the change (02:30 becomes 03:30 local); a repeated one
    in autumn resolves to its first occurrence (fold=0). Either way the
    subscriber gets exactly one digest that day.
    """
    return dt.datetime.combine(day, t, tzinfo=tz).astimezone(UTC)


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
        if moment > after:
            return moment
    return None  # unreachable for valid preferences


def period_key(profile, *, at: dt.datetime) -> str:
    """Name the digest period containing ``at`` in the subscriber's zone.

    Daily digests are keyed by local date, weekly ones by ISO week, so a
    second send in the same period hits the delivery table's unique key.
    """
    local = at.astimezone(zone(profile.time_zone)).date()
    if profile.frequency == "weekly":
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    return local.isoformat()
