"""What happened to each digest, in plain words: the reader's "My digests" page and the admin's delivery log.

``delivery_outcome`` is the one place that turns a ``DigestDelivery`` (status, skip reason, error) into a
sentence a reader understands: "arXiv had no mailing on Saturday", "a holiday at arXiv", "nothing new
matched your filters — loosen them here", "paused until 12 January", "you unsubscribed on 3 December",
"your address bounced on 3 December", or what the service did about a failure. The stored reasons are
the senders' (``context.SKIP_*``, ``planning.SKIP_*``, ``pause.SKIP_PAUSED``, the ``in-doubt:`` /
``permanent:`` / ``transient:`` / ``build:`` error prefixes); a reason this module does not know is shown
as stored rather than guessed at. docs/digest.md lists the wordings.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse

from ..ingest.announce import holidays_parse
from ..models import DeliveryStatus, DigestDelivery, Frequency, Profile, Suppression
from ..subscriptions.pause import SKIP_PAUSED
from .context import SKIP_NOTHING_ANNOUNCED, SKIP_NOTHING_MATCHED, DigestContent, digest_build_planned
from .sections import period_of
from .selectors import BREAKER, IN_DOUBT

# The plan phase's reasons (``planning.SKIP_NOT_SENDABLE``, ``planning.SKIP_NOTHING_LEFT``), matched by prefix.
SKIP_NOT_SENDABLE_PREFIX = "subscriber not sendable"
SKIP_NOTHING_LEFT_PREFIX = "none of the planned papers"


@dataclass(frozen=True)
class Outcome:
    """One delivery's state and reason: ``state`` is sent, note, skipped, failed, in doubt or on its way."""

    state: str
    text: str
    link: str = ""
    link_label: str = ""


def _day(moment: dt.datetime | None) -> str:
    return f"{moment.day} {moment:%B %Y}" if moment else ""


def period_day(period_key: str) -> dt.date | None:
    """The day of a daily period key ("2026-12-05", a topic's email "2026-12-05~t4"); None for a weekly one."""
    try:
        return dt.date.fromisoformat(period_of(period_key))
    except ValueError:
        return None


def _holidays() -> frozenset[dt.date]:
    try:
        return holidays_parse(getattr(settings, "PAPERBOY", {}).get("ARXIV_HOLIDAYS", []))
    except ValueError:
        return frozenset()


def _nothing_announced(delivery: DigestDelivery) -> Outcome:
    day = period_day(delivery.period_key)
    if day is None:
        return Outcome("skipped", "arXiv announced nothing new this week since your last digest")
    if day.weekday() >= 5:
        return Outcome("skipped", f"arXiv had no mailing on {day:%A}")
    if day in _holidays():
        return Outcome("skipped", f"a holiday at arXiv: no mailing on {day.day} {day:%B}")
    return Outcome("skipped", "arXiv announced nothing new since your last digest")


def _paused(delivery: DigestDelivery) -> Outcome:
    _, _, until = delivery.skip_reason.partition("until ")
    day = period_day(until.strip())
    return Outcome("skipped", f"paused until {day.day} {day:%B}" if day else "paused")


def _not_sendable(profile: Profile | None) -> Outcome:
    text = stopped_reason(profile) or "your digest was stopped"
    return Outcome("skipped", text, reverse("web:preferences"), "resume it on the preferences page")


def stopped_reason(profile: Profile | None) -> str:
    """Why no digest goes out at all right now ("you unsubscribed on 3 December 2026"), or ""."""
    if profile is None:
        return ""
    when = f" on {_day(profile.suppressed_at)}" if profile.suppressed_at else ""
    if profile.suppression == Suppression.UNSUBSCRIBED:
        return f"you unsubscribed{when}"
    if profile.suppression == Suppression.BOUNCED:
        return f"your address bounced{when}"
    if profile.suppression == Suppression.COMPLAINED:
        return f"a digest was reported as spam{when}"
    if profile.frequency == Frequency.OFF:
        return "you turned your digest off"
    if not profile.is_confirmed:
        return "your address is not confirmed yet"
    return ""


def _skipped(delivery: DigestDelivery, profile: Profile | None) -> Outcome:
    reason = delivery.skip_reason
    if reason.startswith(SKIP_PAUSED):
        return _paused(delivery)
    if reason == SKIP_NOTHING_ANNOUNCED:
        return _nothing_announced(delivery)
    if reason == SKIP_NOTHING_MATCHED:
        return Outcome("skipped", "nothing new matched your filters", reverse("web:preferences"), "loosen them here")
    if reason.startswith(SKIP_NOT_SENDABLE_PREFIX):
        return _not_sendable(profile)
    if reason.startswith(SKIP_NOTHING_LEFT_PREFIX):
        return Outcome("skipped", "the papers chosen for it were withdrawn before it went out")
    return Outcome("skipped", reason or "skipped")


def _failed(delivery: DigestDelivery) -> Outcome:
    error = delivery.error
    if error.startswith(IN_DOUBT):
        return Outcome(
            "in doubt",
            "the mail server did not confirm it took this digest; we did not send it again, so you never get "
            "it twice (if it is not in your inbox, open it here)",
        )
    if error.startswith("permanent"):
        return Outcome(
            "failed",
            "your mail server refused it; we did not retry (check your address on the email settings page)",
            reverse("account_email"),
            "email addresses",
        )
    if error.startswith("transient"):
        return Outcome(
            "failed", f"your mail server kept asking us to try later; we gave up after {delivery.attempts} tries"
        )
    if error.startswith("build"):
        return Outcome("failed", "we could not put it together (a fault on our side, logged for the team)")
    return Outcome("failed", "it could not be sent")


def delivery_outcome(*, delivery: DigestDelivery, profile: Profile | None = None) -> Outcome:
    """What happened to ``delivery``, in the words the reader and the operator see."""
    if delivery.status == DeliveryStatus.SENT:
        if delivery.skip_reason:  # the "nothing new today" note (Profile.empty_day)
            inner = _skipped(delivery, profile)
            return Outcome(
                "note", f"{inner.text}; we sent you the short note you asked for", inner.link, inner.link_label
            )
        return Outcome("sent", f"sent {_day(delivery.sent_at)}".strip())
    if delivery.status == DeliveryStatus.SKIPPED:
        return _skipped(delivery, profile)
    if delivery.status == DeliveryStatus.FAILED:
        return _failed(delivery)
    if delivery.error.startswith((BREAKER, "transient")):
        return Outcome("on its way", "delayed: the mail server did not take it yet; we retry by ourselves")
    return Outcome("on its way", "being prepared and sent")


def delivery_as_sent(*, delivery: DigestDelivery) -> DigestContent:
    """The digest exactly as it was sent: its stored selection (``DeliveredPaper`` rows), composed again.

    Never ranked again; links carry the delivery's own tokens: the reader may use them.
    """
    return digest_build_planned(delivery=delivery)
