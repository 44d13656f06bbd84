"""The "nothing new today" note: what a subscriber who asked for it (``Profile.empty_day``) gets on an empty day.

The plan phase keeps such a delivery open (planned, no plan rows, its ``skip_reason`` saying why it is
empty) instead of skipping it; the send phase claims it like any digest and sends this small message
through the same path (claim, hand-over, mark), with the same list headers and one-click unsubscribe.
The row ends ``sent`` with its reason kept, which "My digests" shows as a note.
"""

from __future__ import annotations

from django.conf import settings
from django.template.loader import render_to_string

from ..models import DeliveryStatus, DigestDelivery, EmptyDay, Frequency, Profile
from .context import SKIP_NOTHING_ANNOUNCED, SKIP_NOTHING_MATCHED, preferences_url
from .mime import RawDigestMessage
from .outcomes import delivery_outcome

NOTE_REASONS = frozenset({SKIP_NOTHING_ANNOUNCED, SKIP_NOTHING_MATCHED})


def note_wanted(*, user_ids: list[int]) -> set[int]:
    """The users among ``user_ids`` who asked for the note on empty days (one query)."""
    return set(Profile.objects.filter(user_id__in=user_ids, empty_day=EmptyDay.NOTE).values_list("user_id", flat=True))


def note_message(*, user, profile: Profile | None, reason: str, headers: dict[str, str]) -> RawDigestMessage:
    """The note: a subject, two short parts (text, HTML) saying why there is nothing, and the links."""
    weekly = profile is not None and profile.frequency == Frequency.WEEKLY
    context = {
        "when": "this week" if weekly else "today",
        "why": reason,
        "preferences_url": preferences_url(),
        "unsubscribe_url": headers["List-Unsubscribe"].split(">")[0].lstrip("<"),
        "email": user.email,
        "postal_address": settings.SENDER_POSTAL_ADDRESS,
    }
    return RawDigestMessage(
        subject=f"Nothing new {context['when']}",
        text=render_to_string("email/empty_day_body.txt", context),
        html=render_to_string("email/empty_day_body.html", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
        headers=headers,
    )


def note_reason(*, skip_reason: str, period_key: str, profile: Profile | None) -> str:
    """The plain words of the empty day ("arXiv had no mailing on Saturday"), as "My digests" says them."""
    delivery = DigestDelivery(status=DeliveryStatus.SKIPPED, skip_reason=skip_reason, period_key=period_key)
    return delivery_outcome(delivery=delivery, profile=profile).text
