"""Account emails speak as Paperboy: no allauth boilerplate, no site "example.com", no internal usernames."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_every_account_email_names_paperboy_and_no_username(member, password):
    Client().post(reverse("web:subscribe"), {"email": "new@example.org"})  # confirmation
    Client().post(reverse("web:subscribe"), {"email": member.email})  # already exists
    Client().post(reverse("account_signup"), {"email": "s@example.org", "password1": password, "password2": password})
    Client().post(reverse("account_reset_password"), {"email": member.email})  # reset
    Client().post(reverse("account_request_login_code"), {"email": member.email})  # code
    Client().post(reverse("account_request_login_code"), {"email": "nobody@example.org"})  # unknown account
    assert len(mail.outbox) == 6
    # Internal usernames (u_<hash> for subscribe-box readers; allauth derives the others from the address).
    usernames = [u for u in get_user_model().objects.values_list("username", flat=True) if u.startswith("u_")]
    assert usernames
    for message in mail.outbox:
        text = message.subject + "\n" + message.body
        assert "Paperboy" in text, message.subject
        assert "example.com" not in text and "Hello from" not in text, message.subject
        assert not [name for name in usernames if name in text], message.subject
