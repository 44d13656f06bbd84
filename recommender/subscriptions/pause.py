"""Pausing the digest: "pause for 1 / 2 / 4 weeks or until a date", and it comes back by itself.

A pause is ``Profile.paused_from`` .. ``Profile.paused_until`` (instants; the end is local midnight of the
day the digest comes back). Unlike an unsubscribe nothing needs undoing: the due selector skips a paused
subscriber and ``profile_reschedule`` puts ``next_digest_at`` on the first send moment after the pause.
Each period the pause covers gets a ``skipped`` delivery saying so, written when the pause is set, so the
reader's delivery log ("My digests") and the admin show "paused until 12 January" for those days, and a
tick that meets the subscriber anyway finds the period taken (the delivery's unique key).
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from ..models import DeliveryStatus, DigestDelivery, Profile
from .schedule import next_send_at, period_key, zone

PAUSE_WEEKS = (1, 2, 4)
PAUSE_MAX_DAYS = 183  # half a year: longer than that is what "unsubscribe" is for
SKIP_PAUSED = "paused by the subscriber"  # skip_reason prefix; the rest is ": until YYYY-MM-DD"


def pause_is_active(profile: Profile, *, at: dt.datetime) -> bool:
    """Whether ``at`` falls inside the subscriber's pause."""
    return bool(
        profile.paused_until is not None
        and profile.paused_from is not None
        and profile.paused_from <= at < profile.paused_until
    )


def pause_is_set(profile: Profile, *, now: dt.datetime) -> bool:
    """A pause that is on now or still to come."""
    return profile.paused_until is not None and profile.paused_until > now


def resume_day(profile: Profile) -> dt.date | None:
    """The local day the digest comes back (the pause's end), or None."""
    if profile.paused_until is None:
        return None
    return profile.paused_until.astimezone(zone(profile.time_zone)).date()


def pause_label(profile: Profile) -> str:
    """'12 January' (or '12 January 2028' in another year than today's)."""
    day = resume_day(profile)
    if day is None:
        return ""
    this_year = timezone.now().astimezone(zone(profile.time_zone)).year
    return f"{day.day} {day:%B}" + (f" {day.year}" if day.year != this_year else "")


def next_moment_after_pause(profile: Profile, *, after: dt.datetime) -> dt.datetime | None:
    """The first send moment after ``after`` that no pause covers (``schedule.next_send_at`` otherwise)."""
    moment = next_send_at(profile, after=after)
    if moment is not None and pause_is_active(profile, at=moment):
        moment = next_send_at(profile, after=profile.paused_until - dt.timedelta(microseconds=1))
    return moment


def pause_end_for(*, profile: Profile, weeks: int | None = None, until: dt.date | None = None) -> dt.datetime:
    """The pause's end instant: local midnight of ``until``, or of today + ``weeks`` weeks."""
    tz = zone(profile.time_zone)
    if until is None:
        until = timezone.now().astimezone(tz).date() + dt.timedelta(weeks=weeks or 1)
    return dt.datetime.combine(until, dt.time(0, 0), tzinfo=tz).astimezone(dt.UTC)


def _paused_periods(profile: Profile, *, start: dt.datetime, end: dt.datetime) -> list[str]:
    """The period keys of the send moments in ``[start, end)`` (the schedule ignoring the pause)."""
    keys: list[str] = []
    moment = next_send_at(profile, after=start - dt.timedelta(microseconds=1))
    while moment is not None and moment < end and len(keys) < PAUSE_MAX_DAYS + 1:
        key = period_key(profile, at=moment)
        if key not in keys:
            keys.append(key)
        moment = next_send_at(profile, after=moment)
    return keys


def _paused_reason(profile: Profile) -> str:
    return f"{SKIP_PAUSED}: until {resume_day(profile).isoformat()}"


@transaction.atomic
def profile_pause(*, profile: Profile, end: dt.datetime, start: dt.datetime | None = None) -> Profile:
    """Pause ``profile``'s digest from ``start`` (now) until ``end``; it comes back by itself.

    Replaces a pause already set. The periods it covers are recorded as skipped deliveries (a period
    already planned or sent keeps its row: that digest goes out, its footer saying the pause follows).
    """
    from .services import profile_reschedule  # services imports this module

    now = timezone.now()
    profile = Profile.objects.select_for_update().get(pk=profile.pk)
    _unrecord(profile, now=now)
    profile.paused_from = max(start or now, now)
    profile.paused_until = min(end, now + dt.timedelta(days=PAUSE_MAX_DAYS))
    profile.save(update_fields=["paused_from", "paused_until", "modified_at"])
    reason = _paused_reason(profile)
    DigestDelivery.objects.bulk_create(
        [
            DigestDelivery(user_id=profile.user_id, period_key=key, status=DeliveryStatus.SKIPPED, skip_reason=reason)
            for key in _paused_periods(profile, start=profile.paused_from, end=profile.paused_until)
        ],
        ignore_conflicts=True,
    )
    return profile_reschedule(profile=profile)


@transaction.atomic
def profile_unpause(*, profile: Profile) -> Profile:
    """End the pause now: the periods still to come get their digest again."""
    from .services import profile_reschedule  # services imports this module

    now = timezone.now()
    profile = Profile.objects.select_for_update().get(pk=profile.pk)
    _unrecord(profile, now=now)
    profile.paused_from = profile.paused_until = None
    profile.save(update_fields=["paused_from", "paused_until", "modified_at"])
    return profile_reschedule(profile=profile)


def _unrecord(profile: Profile, *, now: dt.datetime) -> None:
    """Delete the "paused" skips of periods still to come (what was already skipped stays in the log)."""
    if not pause_is_set(profile, now=now):
        return
    keys = _paused_periods(profile, start=max(now, profile.paused_from or now), end=profile.paused_until)
    DigestDelivery.objects.filter(
        user_id=profile.user_id, period_key__in=keys, status=DeliveryStatus.SKIPPED, skip_reason__startswith=SKIP_PAUSED
    ).delete()


def pause_footer(profile: Profile | None, *, now: dt.datetime) -> str:
    """The line for the footer of the last digest before a pause ("" for any other digest).

    This digest is the last one when the subscriber's next regular send moment (the schedule without
    the pause) falls inside the pause.
    """
    if profile is None or not pause_is_set(profile, now=now):
        return ""
    moment = next_send_at(profile, after=now)
    if moment is None or not pause_is_active(profile, at=moment):
        return ""
    return f"You paused your digest: this is the last one until {pause_label(profile)}, then it comes back by itself."
