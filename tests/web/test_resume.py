"""Coming back after an unsubscribe, a bounce or a complaint.

Invariants: the preferences page always says when digests are stopped and
why; "resume my digest" (a POST) lifts an unsubscribe at once and schedules
the next digest; a bounce or a complaint is lifted only through a link
emailed to the address (proof that it takes mail and that its owner wants
it), good once, for that suppression only.
"""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from recommender.digest.tokens import unsubscribe_token
from recommender.models import Suppression
from recommender.subscriptions.services import profile_suppress
from tests.factories import profile_of

from .test_account import prefs_data

pytestmark = pytest.mark.django_db


def resume_link(message) -> str:
    return re.search(r"https?://[^/\s]+(/account/resume/[^\s]+/)", message.body).group(1)


def test_unsubscribed_reader_sees_the_state_and_resumes(member_client, member):
    token = unsubscribe_token.make_token(u=member.pk)
    assert Client().post(reverse("digest:unsubscribe", args=[token])).status_code == 200
    assert profile_of(member).suppression == Suppression.UNSUBSCRIBED
    page = member_client.get(reverse("web:preferences")).content.decode()
    assert "You unsubscribed" in page and 'action="/account/resume/"' in page
    # Saving preferences alone changes nothing about the unsubscribe, and the page keeps saying so.
    member_client.post(reverse("web:preferences"), prefs_data(frequency="daily"))
    assert profile_of(member).suppression == Suppression.UNSUBSCRIBED and profile_of(member).next_digest_at is None
    assert "You unsubscribed" in member_client.get(reverse("web:preferences")).content.decode()

    assert member_client.get(reverse("web:resume")).status_code == 405  # a GET changes nothing
    response = member_client.post(reverse("web:resume"), follow=True)
    profile = profile_of(member)
    assert profile.suppression == Suppression.NONE and profile.next_digest_at is not None
    assert profile.suppression_reason == "" and profile.suppressed_at is None
    page = response.content.decode()
    assert "Your digest is back on" in page and "You unsubscribed" not in page
    assert not mail.outbox


@pytest.mark.parametrize("reason", [Suppression.BOUNCED, Suppression.COMPLAINED])
def test_bounce_or_complaint_needs_the_emailed_link(member_client, member, reason):
    profile_suppress(user=member, reason=reason, detail="550 mailbox unavailable")
    page = member_client.get(reverse("web:preferences")).content.decode()
    assert ("bounced" if reason == Suppression.BOUNCED else "spam") in page
    member_client.post(reverse("web:resume"))
    assert profile_of(member).suppression == reason  # not yet
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [member.email]
    link = resume_link(mail.outbox[0])

    stranger = Client()
    assert "Resume my digest" in stranger.get(link).content.decode()  # GET: a button, nothing else
    assert profile_of(member).suppression == reason
    tampered = link.replace("/account/resume/", "/account/resume/x")
    assert stranger.post(tampered).status_code == 400
    assert stranger.post(link).status_code == 200
    profile = profile_of(member)
    assert profile.suppression == Suppression.NONE and profile.next_digest_at is not None

    # Good once, and only for the suppression it was sent for.
    profile_suppress(user=member, reason=reason, detail="again")
    assert stranger.post(link).status_code == 400
    assert profile_of(member).suppression == reason


def test_resume_needs_login_and_csrf(member):
    assert Client().post(reverse("web:resume")).status_code == 302  # to the login page
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(member)
    profile_suppress(user=member, reason=Suppression.UNSUBSCRIBED)
    assert strict.post(reverse("web:resume")).status_code == 403
    assert profile_of(member).suppression == Suppression.UNSUBSCRIBED
