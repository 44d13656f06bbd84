"""The operator services behind the admin actions."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from recommender.admin.services import delivery_reopen, delivery_reopen_for_now, subscriber_deactivate
from recommender.models import DeliveryStatus, DigestDelivery, Profile
from tests.factories import subscriber

pytestmark = pytest.mark.django_db


def test_reopen_never_takes_a_delivery_a_worker_holds():
    ada = subscriber("ada@example.org")
    now = timezone.now()
    held = DigestDelivery.objects.create(
        user=ada, period_key="2026-11-01", status=DeliveryStatus.SENDING, claimed_at=now, message_id="<m@x>"
    )
    assert not delivery_reopen(delivery_id=held.pk)
    held.refresh_from_db()
    assert held.status == DeliveryStatus.SENDING and held.message_id == "<m@x>"
    sent = DigestDelivery.objects.create(user=ada, period_key="2026-11-02", status=DeliveryStatus.SENT)
    assert not delivery_reopen(delivery_id=sent.pk, only_failed=True)
    assert delivery_reopen(delivery_id=sent.pk)
    sent.refresh_from_db()
    assert sent.status == DeliveryStatus.PENDING and sent.claimed_at is None


def test_reopen_for_now_creates_the_period_row():
    ada = subscriber("ada@example.org")
    delivery = delivery_reopen_for_now(user=ada, now=timezone.now())
    assert delivery.status == DeliveryStatus.PENDING
    assert DigestDelivery.objects.filter(user=ada).count() == 1


def test_deactivate_twice_reports_once():
    ada = subscriber("ada@example.org")
    assert subscriber_deactivate(user=ada) is True
    assert subscriber_deactivate(user=ada) is False
    assert Profile.objects.get(user=ada).next_digest_at is None


def test_test_digest_refused_by_the_mail_server_is_reported(staff_client, papers_today, smtp_server):
    ada = subscriber("ada@example.org")
    smtp_server.reply_for = lambda envelope: "550 5.1.1 operator mailbox unavailable"
    response = staff_client.post(
        reverse("admin:recommender_profile_changelist"),
        {
            "action": "send_test_digest",
            ACTION_CHECKBOX_NAME: [Profile.objects.get(user=ada).pk],
            "post": "yes",
            "index": "0",
        },
    )
    assert response.status_code == 302
    texts = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("sending failed" in t and "550" in t for t in texts), texts
    assert smtp_server.messages == []
