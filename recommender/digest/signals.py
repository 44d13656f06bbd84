"""ESP tracking events (django-anymail) -> suppression: bounced and complained addresses get no more digests."""

from __future__ import annotations

import logging

from anymail.signals import tracking
from django.conf import settings
from django.contrib.auth import get_user_model
from django.dispatch import receiver

from ..models import Suppression
from ..subscriptions.services import profile_ensure, profile_suppress

logger = logging.getLogger(__name__)

# Only hard outcomes suppress; soft bounces ("deferred") are retried by the ESP.
EVENT_REASONS = {
    "bounced": Suppression.BOUNCED,
    "rejected": Suppression.BOUNCED,
    "complained": Suppression.COMPLAINED,
    "unsubscribed": Suppression.UNSUBSCRIBED,
}


@receiver(tracking, dispatch_uid="paperboy_digest_tracking")
def _tracking_event(sender, event, esp_name, **kwargs):
    reason = EVENT_REASONS.get(event.event_type)
    if reason is None or not event.recipient:
        return
    if not getattr(settings, "ANYMAIL", {}).get("WEBHOOK_SECRET"):
        # Without a secret anymail accepts unauthenticated webhooks (it only warns):
        # anyone could then "bounce" any address and stop their digests.
        logger.warning(
            "ignored %s %s event: set ANYMAIL_WEBHOOK_SECRET to act on ESP webhooks", esp_name, event.event_type
        )
        return
    User = get_user_model()
    for user in User.objects.filter(email__iexact=event.recipient):
        detail = f"{esp_name} {event.event_type}: {event.description or event.mta_response or ''}".strip()
        profile_ensure(user=user)
        profile_suppress(user=user, reason=reason, detail=detail)
        logger.info("suppressed %s after %s %s", user.pk, esp_name, event.event_type)
