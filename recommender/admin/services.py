"""Write side of the operator actions the admin offers (HackSoft style: keyword-only, typed).

Digest building, sending and claiming stay in ``recommender.digest``; this
module only adds what an operator needs on top: reopening a delivery so
it is sent again, a test digest mailed to the operator, deactivating an
account. The admin actions call these and only handle confirmation and
messages.
"""

from __future__ import annotations

import datetime as dt
from email.utils import make_msgid, parseaddr

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..digest.context import digest_build
from ..digest.services import delivery_open_for_now, digest_message
from ..models import DeliveredPaper, DeliveryStatus, DigestDelivery
from ..subscriptions.services import profile_ensure, profile_reschedule

REOPENABLE = (DeliveryStatus.SENT, DeliveryStatus.SKIPPED, DeliveryStatus.FAILED, DeliveryStatus.PENDING)


def delivery_reopen(*, delivery_id: int, only_failed: bool = False) -> bool:
    """Put a finished delivery back to pending so the next send claims it; never one a worker holds.

    Its selection is dropped (plan rows, ``planned_at``): the plan phase ranks it again from now.
    """
    statuses = (DeliveryStatus.FAILED,) if only_failed else REOPENABLE
    with transaction.atomic():
        reopened = DigestDelivery.objects.filter(pk=delivery_id, status__in=statuses).update(
            status=DeliveryStatus.PENDING,
            error="",
            skip_reason="",
            message_id="",
            claimed_at=None,
            planned_at=None,
            modified_at=timezone.now(),
        )
        if reopened:
            DeliveredPaper.objects.filter(delivery_id=delivery_id).delete()
    return bool(reopened)


def delivery_reopen_for_now(*, user, now: dt.datetime) -> DigestDelivery:
    """The user's delivery for the current period, created or reopened as pending."""
    delivery = delivery_open_for_now(user=user, now=now)
    delivery_reopen(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    return delivery


def digest_test_send(*, user, to: str, now: dt.datetime | None = None) -> str:
    """Mail ``to`` the digest ``user`` would get now; return the skip reason, or "" when sent.

    Nothing is recorded: the subscriber's own delivery for the period is untouched.
    """
    # Inert links (and List-Unsubscribe): the test email goes to someone else and must never act for the subscriber.
    content = digest_build(user=user, now=now or timezone.now(), inert_links=True)
    if content.skip_reason:
        return content.skip_reason
    sender = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    domain = sender.rsplit("@", 1)[-1] if "@" in sender else "paperboy.localhost"
    message = digest_message(content=content, message_id=make_msgid(domain=domain))
    message.to = [to]
    message.subject = f"[Test for {user.email}] {message.subject}"
    message.send()
    return ""


@transaction.atomic
def subscriber_deactivate(*, user) -> bool:
    """Deactivate the account (no login, no digests); return whether it was active."""
    was_active = user.is_active
    if was_active:
        user.is_active = False
        user.save(update_fields=["is_active"])
    profile_reschedule(profile=profile_ensure(user=user))
    return was_active
