"""Pausing from the account pages: the form, the banner on every account page, resuming early."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import profile_of

pytestmark = pytest.mark.django_db

ACCOUNT_PAGES = ["web:preferences", "web:library_import", "web:library_mine", "web:delete", "web:for_you"]


@pytest.mark.parametrize("weeks", ["1", "2", "4"])
def test_pause_for_weeks_shows_everywhere_and_resumes(member_client, member, weeks):
    response = member_client.post(reverse("web:pause"), {"length": weeks})
    assert response.status_code == 302
    profile = profile_of(member)
    today = timezone.now().date()
    assert profile.paused_until.date() == today + dt.timedelta(weeks=int(weeks))
    assert profile.next_digest_at >= profile.paused_until
    label = f"{profile.paused_until.day} {profile.paused_until:%B}"
    for name in ACCOUNT_PAGES:
        page = member_client.get(reverse(name)).content.decode()
        assert 'id="pause-banner"' in page and f"paused until {label}" in page, name
    assert member_client.post(reverse("web:unpause")).status_code == 302
    assert profile_of(member).paused_until is None
    assert 'id="pause-banner"' not in member_client.get(reverse("web:preferences")).content.decode()


def test_pause_until_a_date(member_client, member):
    until = timezone.now().date() + dt.timedelta(days=10)
    member_client.post(reverse("web:pause"), {"length": "date", "until": until.isoformat()})
    profile = profile_of(member)
    assert profile.paused_until.date() == until


@pytest.mark.parametrize("until", ["", "2000-01-01", "2999-01-01", "not a date"])
def test_a_bad_date_pauses_nothing_and_says_why(member_client, member, until):
    response = member_client.post(reverse("web:pause"), {"length": "date", "until": until}, follow=True)
    assert profile_of(member).paused_until is None
    assert "Not paused" in response.content.decode()


def test_pause_needs_a_post_and_a_login(member_client):
    assert member_client.get(reverse("web:pause")).status_code == 405
    client = Client()
    assert client.post(reverse("web:pause"), {"length": "1"}).status_code == 302  # to the login page
    assert 'id="pause-banner"' not in client.get(reverse("web:daily")).content.decode()


def test_pause_after_the_next_digest_lets_it_go_out_first(member_client, member):
    before = profile_of(member).next_digest_at
    assert before is not None
    member_client.post(reverse("web:pause"), {"length": "2", "start": "after_next"})
    profile = profile_of(member)
    assert profile.paused_from > before  # the next digest is still due, and its footer announces the pause
    assert profile.next_digest_at == before
    page = member_client.get(reverse("web:preferences")).content.decode()
    assert "Your digest pauses from" in page
