"""A batch stopped by the circuit breaker, as the operator sees it: the list, its filter, the detail, the dashboard."""

from __future__ import annotations

import socket

import pytest
from django.urls import reverse
from django.utils import timezone

from recommender.digest import services
from recommender.models import DeliveryStatus, DigestDelivery, Profile
from tests.factories import subscriber

pytestmark = pytest.mark.django_db

HELD = "held: circuit breaker"


@pytest.fixture
def mail_server_down(settings):
    """Django's SMTP backend pointed at a local port nobody listens on: every connection is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 2
    settings.PAPERBOY = {**settings.PAPERBOY, "DIGEST_BREAKER_FAILURES": 3}


def test_the_admin_says_which_deliveries_the_breaker_held_back(staff_client, papers_today, mail_server_down):
    users = [subscriber(f"b{i}@example.org") for i in range(5)]
    now = timezone.now()
    Profile.objects.filter(user__in=users).update(next_digest_at=now)
    result = services.digest_send_batch(user_ids=services.digest_plan(now=now), now=now)
    assert result.breaker.startswith("circuit breaker")
    held = list(DigestDelivery.objects.filter(status=DeliveryStatus.PENDING, error__startswith="circuit breaker"))
    assert len(held) == 2  # three refused connections, then the batch stopped

    changelist = reverse("admin:recommender_digestdelivery_changelist")
    listing = staff_client.get(changelist).content.decode()
    assert listing.count(HELD) == 2
    filtered = staff_client.get(changelist, {"held": "breaker"}).content.decode()
    assert "stopped by the circuit breaker" in filtered  # the filter's choice
    shown = {u.email for u in users if u.email in filtered}
    assert shown == {d.user.email for d in held}

    detail = staff_client.get(reverse("admin:recommender_digestdelivery_change", args=[held[0].pk])).content.decode()
    assert "circuit breaker: the batch stopped after 3 consecutive" in detail

    dashboard = staff_client.get(reverse("admin-dashboard")).content.decode()
    figure = f'<strong><a href="{changelist}?held=breaker">2</a></strong><span>held by the circuit breaker</span>'
    assert figure in dashboard
    assert "A send batch stopped" in dashboard and "circuit breaker: the batch stopped after 3" in dashboard
