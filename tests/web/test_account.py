"""Account pages: signup and confirmation, onboarding, preferences, export, reset, delete, feed, For you."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from allauth.account.models import EmailAddress
from defusedxml import ElementTree
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.urls import reverse

from recommender.models import Interaction, Profile
from recommender.subscriptions.topics import topic_create, topic_default, topic_update
from tests.factories import make_paper

User = get_user_model()
XSS = "<script>alert(1)</script>"


def prefs_data(**overrides):
    data = {
        "frequency": "weekly",
        "weekday": "2",
        "send_time": "07:30",
        "time_zone": "Europe/Paris",
        "papers_per_email": "15",
        "language": "fr",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    "url", ["web:for_you", "web:preferences", "web:onboarding", "web:onboarding_rate", "web:export_csv", "web:delete"]
)
def test_personal_pages_need_login(client, db, url):
    response = client.get(reverse(url))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_signup_confirm_then_onboarding(client, corpus, password):
    response = client.post(
        reverse("account_signup"), {"email": "sam@example.org", "password1": password, "password2": password}
    )
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/[^\s]+/)", mail.outbox[0].body).group(1)
    response = client.post(link)
    assert response.status_code == 302 and response["Location"] == reverse("web:onboarding")
    assert Profile.objects.get(user__email="sam@example.org").confirmed_at is not None


def test_signup_does_not_reveal_registered_addresses(client, member, password):
    response = client.post(
        reverse("account_signup"), {"email": member.email, "password1": password, "password2": password}
    )
    assert response.status_code == 302  # the same "check your inbox" as for a new address
    assert User.objects.filter(email=member.email).count() == 1


def test_login_redirects_to_onboarding_until_done(client, member, password):
    member.profile.onboarded_at = None
    member.profile.save()
    response = client.post(reverse("account_login"), {"login": member.email, "password": password})
    assert response["Location"] == reverse("web:onboarding")


def test_onboarding_records_ratings_and_finishes(member_client, member, corpus):
    member.profile.onboarded_at = None
    member.profile.save()
    response = member_client.post(reverse("web:onboarding"), {"categories": ["cs.CL", "eess.AS"]})
    assert response["Location"] == reverse("web:onboarding_rate")
    html = member_client.get(reverse("web:onboarding_rate")).content.decode()
    assert corpus["attention"].title in html and corpus["audio"].title in html
    data = {f"rating-{corpus['attention'].id}": "up", f"rating-{corpus['vision'].id}": "down"}
    data[f"rating-{corpus['audio'].id}"] = ""
    response = member_client.post(reverse("web:onboarding_rate"), data)
    assert response["Location"] == reverse("web:for_you")
    kinds = dict(Interaction.objects.filter(user=member).values_list("paper_id", "kind"))
    assert kinds == {corpus["attention"].id: "thumbs_up", corpus["vision"].id: "thumbs_down"}
    assert set(Interaction.objects.values_list("source", flat=True)) == {"onboarding"}
    member.profile.refresh_from_db()
    assert member.profile.onboarded_at is not None and topic_default(user=member).categories == ["cs.CL", "eess.AS"]


def test_onboarding_requires_a_category(member_client):
    response = member_client.post(reverse("web:onboarding"), {"categories": []})
    assert response.status_code == 200 and "Pick at least one category" in response.content.decode()


def test_preferences_save_and_reschedule(member_client, member):
    before = member.profile.next_digest_at
    response = member_client.post(reverse("web:preferences"), prefs_data())
    assert response.status_code == 302
    profile = Profile.objects.get(user=member)
    assert (profile.frequency, profile.weekday, profile.time_zone, profile.papers_per_email) == (
        "weekly",
        2,
        "Europe/Paris",
        15,
    )
    assert profile.language == "fr"
    assert profile.next_digest_at is not None and profile.next_digest_at != before
    assert profile.next_digest_at.weekday() in (1, 2)  # Wednesday 07:30 Paris is Wednesday morning UTC

    member_client.post(reverse("web:preferences"), prefs_data(frequency="off"))
    assert Profile.objects.get(user=member).next_digest_at is None


@pytest.mark.parametrize(
    "field,value,error",
    [
        ("time_zone", "Mars/Olympus", "Unknown time zone"),
        ("time_zone", "../../etc/passwd", "Unknown time zone"),
        ("papers_per_email", "0", "greater than or equal to 1"),
        ("papers_per_email", "51", "less than or equal to 50"),
        ("frequency", "hourly", "Select a valid choice"),
        ("send_time", "25:99", "Enter a valid time"),
        ("language", "xx", "Select a valid choice"),
    ],
)
def test_preferences_reject_bad_input(member_client, member, field, value, error):
    response = member_client.post(reverse("web:preferences"), prefs_data(**{field: value}))
    assert response.status_code == 200
    assert error in response.content.decode()
    assert Profile.objects.get(user=member).frequency == "daily"  # nothing saved


def test_preferences_list_the_topics_and_link_to_them(member_client, member):
    topic_update(topic=topic_default(user=member), categories=["cs.CL"])
    topic_create(user=member, name=XSS)
    html = member_client.get(reverse("web:preferences")).content.decode()
    section = re.search(r'<section class="panel" id="what-to-read".*?</section>', html, re.S).group(0)
    assert "General</a>: cs.CL" in section and reverse("web:topics") in section
    assert XSS not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in section
    assert 'name="categories"' not in html  # edited in one place: the topic's page


def test_preferences_require_csrf(member):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(member)
    assert strict.post(reverse("web:preferences"), prefs_data()).status_code == 403
    assert Profile.objects.get(user=member).frequency == "daily"


def test_export_csv_and_json(member_client, member):
    paper = make_paper(title='=HYPERLINK("http://evil") and more')
    Interaction.objects.create(user=member, paper=paper, kind="upvote")
    rows = list(csv.DictReader(io.StringIO(member_client.get(reverse("web:export_csv")).content.decode())))
    assert rows[0]["kind"] == "upvote" and rows[0]["arxiv_id"] == paper.arxiv_id
    assert rows[0]["title"].startswith("'=")  # not a live spreadsheet formula
    response = member_client.get(reverse("web:export_json"))
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content)["ratings"][0]["title"] == paper.title


def test_reset_forgets_ratings(member_client, member, corpus):
    Interaction.objects.create(user=member, paper=corpus["audio"], kind="thumbs_up")
    assert member_client.get(reverse("web:reset")).status_code == 405
    member_client.post(reverse("web:reset"))
    assert not Interaction.objects.filter(user=member).exists()


def test_delete_needs_password_and_confirmation(member_client, member, password):
    url = reverse("web:delete")
    assert member_client.post(url, {"confirm": "on", "password": "wrong"}).status_code == 200
    assert member_client.post(url, {"password": password}).status_code == 200
    assert User.objects.filter(pk=member.pk).exists()
    response = member_client.post(url, {"confirm": "on", "password": password})
    assert response.status_code == 302
    assert not User.objects.filter(pk=member.pk).exists()
    assert not EmailAddress.objects.filter(email=member.email).exists()
    assert member_client.get(reverse("web:preferences")).status_code == 302  # logged out


def test_delete_without_password_for_subscribers(client, db):
    from recommender.subscriptions.services import subscriber_create

    user = subscriber_create(email="sub@example.org")
    client.force_login(user)
    assert client.post(reverse("web:delete"), {"confirm": "on"}).status_code == 302
    assert not User.objects.filter(pk=user.pk).exists()


def test_feed_with_token_and_regeneration(member_client, member, corpus):
    token = member.profile.feed_token
    response = Client().get(reverse("web:feed", args=[token]))
    assert response.status_code == 200 and response["Content-Type"].startswith("application/atom+xml")
    root = ElementTree.fromstring(response.content)
    titles = [e.text for e in root.iter("{http://www.w3.org/2005/Atom}title")]
    assert corpus["attention"].title in titles
    member_client.post(reverse("web:feed_token"))
    assert Client().get(reverse("web:feed", args=[token])).status_code == 404
    new = Profile.objects.get(user=member).feed_token
    assert new != token and Client().get(reverse("web:feed", args=[new])).status_code == 200


def test_feed_survives_hostile_text(member):
    make_paper(title="Bad \x0b control <b>&", abstract="\x01\x1f" + XSS, trending_score=9.0)
    response = Client().get(reverse("web:feed", args=[member.profile.feed_token]))
    assert response.status_code == 200
    ElementTree.fromstring(response.content)  # well-formed


def test_for_you_shows_picks_with_reasons(member_client, member, corpus):
    topic_update(topic=topic_default(user=member), categories=["cs.CV"])
    html = member_client.get(reverse("web:for_you")).content.decode()
    assert corpus["vision"].title in html
    assert 'class="reason"' in html


def test_login_is_rate_limited(client, member):
    for _ in range(5):
        client.post(reverse("account_login"), {"login": member.email, "password": "wrong"})
    response = client.post(reverse("account_login"), {"login": member.email, "password": "wrong"})
    assert "Too many failed login attempts" in response.content.decode()


def test_signup_is_rate_limited(client, db, password):
    statuses = [
        client.post(
            reverse("account_signup"), {"email": f"s{i}@example.org", "password1": password, "password2": password}
        ).status_code
        for i in range(21)
    ]
    assert statuses[:20] == [302] * 20 and statuses[20] == 429


def test_password_reset_does_not_reveal_accounts(client, member):
    known = client.post(reverse("account_reset_password"), {"email": member.email})
    unknown = client.post(reverse("account_reset_password"), {"email": "nobody@example.org"})
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]
