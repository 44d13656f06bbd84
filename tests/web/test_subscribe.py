"""The subscribe box: double opt-in, no enumeration, rate limits, CSRF."""

from __future__ import annotations

import re

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.urls import reverse

from recommender.models import Profile

User = get_user_model()


def confirm_link(message) -> str:
    return re.search(r"https?://[^/\s]+(/accounts/confirm-email/[^\s]+/)", message.body).group(1)


def subscribe(client, email, next_url="/"):
    return client.post(reverse("web:subscribe"), {"email": email, "next": next_url}, follow=True)


def test_subscribe_sends_only_a_confirmation_then_confirms_and_signs_in(client, corpus):
    response = subscribe(client, "new@example.org", "/trending/")
    assert response.redirect_chain[-1][0] == "/trending/"
    assert "Check your inbox" in response.content.decode()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["new@example.org"]
    user = User.objects.get(email="new@example.org")
    assert not user.has_usable_password()
    assert Profile.objects.get(user=user).confirmed_at is None
    assert Profile.objects.get(user=user).next_digest_at is None  # nothing scheduled before confirmation

    link = confirm_link(mail.outbox[0])
    assert client.get(link).status_code == 200  # GET only shows the confirm button
    assert Profile.objects.get(user=user).confirmed_at is None
    response = client.post(link)
    assert response.status_code == 302 and response["Location"] == reverse("web:onboarding")
    profile = Profile.objects.get(user=user)
    assert profile.confirmed_at is not None and profile.next_digest_at is not None
    assert EmailAddress.objects.get(email="new@example.org").verified
    assert client.get(reverse("web:onboarding")).status_code == 200  # signed in


def test_link_from_another_browser_confirms_without_signing_in(client, corpus):
    subscribe(client, "other@example.org")
    link = confirm_link(mail.outbox[0])
    stranger = Client()
    response = stranger.post(link)
    assert response.status_code == 302 and "onboarding" not in response["Location"]
    assert Profile.objects.get(user__email="other@example.org").confirmed_at is not None
    assert stranger.get(reverse("web:preferences")).status_code == 302  # still anonymous


def test_known_address_gets_the_same_response_and_no_confirmation(client, member):
    unknown = subscribe(client, "unknown@example.org").content.decode()
    known = subscribe(Client(), member.email).content.decode()
    strip = lambda html: re.sub(r'(csrfmiddlewaretoken" value="|X-CSRFToken": ")[^"]+', "", html)  # noqa: E731
    assert strip(unknown) == strip(known)
    assert len(mail.outbox) == 2
    assert "confirm-email" not in mail.outbox[1].body  # an "already registered" notice, not a new link
    assert User.objects.filter(email__iexact=member.email).count() == 1


def test_invalid_emails_are_rejected(client, db):
    for bad in ["not-an-email", "a@b", "<script>@x.org", "x" * 300 + "@example.org", ""]:
        html = subscribe(client, bad).content.decode()
        assert "valid email" in html
    assert not mail.outbox and not User.objects.exists()


def test_subscribe_is_rate_limited_per_address(client, db):
    statuses = [client.post(reverse("web:subscribe"), {"email": "victim@example.org"}).status_code for _ in range(5)]
    assert statuses[:3] == [302, 302, 302] and statuses[3:] == [429, 429]
    assert len(mail.outbox) == 3


def test_subscribe_is_rate_limited_per_ip(client, db):
    statuses = [client.post(reverse("web:subscribe"), {"email": f"p{i}@example.org"}).status_code for i in range(12)]
    assert statuses.count(429) == 2


def test_subscribe_requires_csrf_and_post(db):
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(reverse("web:subscribe"), {"email": "a@example.org"}).status_code == 403
    assert strict.get(reverse("web:subscribe")).status_code == 405
    assert not mail.outbox


def test_subscribe_ignores_offsite_next(client, db):
    response = client.post(reverse("web:subscribe"), {"email": "a@example.org", "next": "https://evil.example/"})
    assert response["Location"] == "/"
