"""ESP tracking webhooks (django-anymail) turn bounces and spam complaints into suppression."""

from __future__ import annotations

import base64
import json

import pytest
from django.urls import reverse

from recommender.models import Profile, Suppression
from tests.factories import subscriber

pytestmark = pytest.mark.django_db


def _post(client, payload):
    auth = base64.b64encode(b"hook:s3cret").decode()
    return client.post(
        reverse("digest:anymail:postmark_tracking_webhook"),
        json.dumps(payload),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Basic {auth}",
    )


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook:s3cret"}


def test_hard_bounce_suppresses(client):
    user = subscriber("bouncy@example.org")
    response = _post(
        client,
        {
            "RecordType": "Bounce",
            "Type": "HardBounce",
            "TypeCode": 1,
            "Email": "Bouncy@example.org",
            "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
            "Description": "The server was unable to deliver your message",
            "Details": "smtp;550 5.1.1 user unknown",
            "BouncedAt": "2026-11-22T08:00:00Z",
        },
    )
    assert response.status_code == 200
    profile = Profile.objects.get(user=user)
    assert profile.suppression == Suppression.BOUNCED and profile.next_digest_at is None
    assert "Postmark bounced" in profile.suppression_reason


def test_spam_complaint_suppresses(client):
    user = subscriber("angry@example.org")
    _post(
        client,
        {
            "RecordType": "SpamComplaint",
            "Type": "SpamComplaint",
            "TypeCode": 512,
            "Email": "angry@example.org",
            "MessageID": "00000000-6105-42a2-a16a-77a8eac79483",
            "BouncedAt": "2026-11-22T08:00:00Z",
        },
    )
    assert Profile.objects.get(user=user).suppression == Suppression.COMPLAINED


def test_delivered_event_changes_nothing_and_bad_auth_is_refused(client):
    user = subscriber("fine@example.org")
    _post(
        client,
        {
            "RecordType": "Delivery",
            "Recipient": "fine@example.org",
            "MessageID": "11111111-6105-42a2-a16a-77a8eac79483",
            "DeliveredAt": "2026-11-22T08:00:00Z",
            "Details": "Test delivery",
        },
    )
    assert Profile.objects.get(user=user).suppression == Suppression.NONE
    response = client.post(
        reverse("digest:anymail:postmark_tracking_webhook"),
        json.dumps({"RecordType": "Bounce", "Type": "HardBounce", "Email": "fine@example.org"}),
        content_type="application/json",
    )
    assert response.status_code in (400, 401, 403)
    assert Profile.objects.get(user=user).suppression == Suppression.NONE
