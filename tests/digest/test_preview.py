"""Previews of someone else's digest: an explicit permission, and links that do nothing.

Invariant: no page or message that shows subscriber A's digest to anyone but A
carries a token that verifies (any purpose), or a link to a view that acts for
A. Checked over every URL in the HTML and text of every preview surface: the
staff preview page, the admin's preview and stored-delivery pages (the srcdoc
of their frame) and the admin's test digest (body and List-Unsubscribe).
"""

from __future__ import annotations

import html
import re

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.core import mail
from django.test import Client
from django.urls import Resolver404, resolve, reverse

from recommender.digest import tokens
from recommender.models import DigestDelivery, Interaction, Paper, Profile, Suppression, Topic
from tests.factories import make_delivery, subscriber

pytestmark = pytest.mark.django_db

GENERATORS = [
    tokens.unsubscribe_token,
    tokens.feedback_token,
    tokens.click_token,
    tokens.delivery_click_token,
    tokens.delivery_feedback_token,
]
ACTING_VIEWS = {"unsubscribe", "feedback", "click", "click_paper", "feedback_paper"}
URL_RE = re.compile(r"https?://[^\s\"'<>]+|/d/[^\s\"'<>]+")


def urls_in(text: str) -> set[str]:
    return set(URL_RE.findall(html.unescape(text)))


def live_tokens(text: str) -> list[str]:
    """Every URL in ``text`` with a path segment that verifies as a digest token, or that routes to an acting view."""
    found = []
    for url in urls_in(text):
        path = re.sub(r"^https?://[^/]+", "", url).split("?")[0].split("#")[0]
        if any(g.check_token(segment) for segment in path.split("/") if segment for g in GENERATORS):
            found.append(url)
            continue
        try:
            match = resolve(path)
        except Resolver404:
            continue
        if match.namespace == "digest" and match.url_name in ACTING_VIEWS:
            found.append(url)
    return found


@pytest.fixture
def reader(papers_today):
    return subscriber("reader@example.org")


def staff_with(django_user_model, *codenames: str):
    staff = django_user_model.objects.create_user("staff", "staff@lab.example", "staff-pass-42", is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="recommender", codename__in=codenames))
    client = Client()
    client.force_login(staff)
    return client


def preview_pages(reader) -> list[str]:
    profile = Profile.objects.get(user=reader)
    papers = list(Paper.objects.values_list("pk", flat=True)[:3])
    delivery = DigestDelivery.objects.filter(user=reader, period_key="2026-11-20").first() or make_delivery(
        reader, period_key="2026-11-20", status="failed", papers=papers
    )
    return [
        reverse("digest:preview_user", args=[reader.pk]),
        reverse("digest:preview_user", args=[reader.pk]) + "?format=text",
        reverse("admin:recommender_profile_digest_preview", args=[profile.pk]),
        reverse("admin:recommender_digestdelivery_email", args=[delivery.pk]),
    ]


def test_staff_without_the_permission_get_403(reader, django_user_model):
    client = staff_with(django_user_model)  # staff, no permission at all
    for url in preview_pages(reader):
        assert client.get(url).status_code == 403, url
    viewer = staff_with_views(django_user_model)  # may look at subscribers, may not read their digests
    for url in preview_pages(reader):
        assert viewer.get(url).status_code == 403, url


def staff_with_views(django_user_model):
    staff = django_user_model.objects.create_user("viewer", "viewer@lab.example", "viewer-pass-42", is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    client = Client()
    client.force_login(staff)
    return client


def test_previews_of_others_carry_no_working_link(reader, django_user_model):
    client = staff_with(django_user_model, "preview_digest", "view_profile", "view_digestdelivery")
    for url in preview_pages(reader):
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        assert "preview" in body.lower(), url
        assert len(urls_in(body)) > 5, url  # the digest is really there
        assert live_tokens(body) == [], url


def test_the_inert_link_does_nothing(reader, django_user_model):
    client = staff_with(django_user_model, "preview_digest")
    body = client.get(reverse("digest:preview_user", args=[reader.pk])).content.decode()
    inert = sorted(u for u in urls_in(body) if "/d/" in u)
    assert inert, "the preview's feedback and unsubscribe links point at the preview-only page"
    for url in inert:
        path = re.sub(r"^https?://[^/]+", "", url)
        for method in (Client().get, Client().post, client.post):
            response = method(path)
            assert response.status_code in (200, 403, 405), (url, response.status_code)
            if response.status_code == 200:
                assert "preview" in response.content.decode().lower()
    profile = Profile.objects.get(user=reader)
    assert profile.suppression == Suppression.NONE and profile.next_digest_at is not None
    assert not Interaction.objects.filter(user=reader).exists()


def test_your_own_preview_keeps_your_links(reader, client, django_user_model):
    client.force_login(reader)
    assert live_tokens(client.get(reverse("digest:preview")).content.decode())
    staff = django_user_model.objects.create_user("me", "me@lab.example", "me-pass-42", is_staff=True)
    Topic.objects.filter(user=staff).update(categories=["cs.LG"])
    client.force_login(staff)
    # Your own preview through the staff URL needs no permission either.
    assert client.get(reverse("digest:preview_user", args=[staff.pk])).status_code == 200


def test_the_admin_test_digest_carries_no_working_link(reader, client, operator_user):
    client.force_login(operator_user)
    response = client.post(
        reverse("admin:recommender_profile_changelist"),
        {
            "action": "send_test_digest",
            ACTION_CHECKBOX_NAME: [Profile.objects.get(user=reader).pk],
            "post": "yes",
        },
    )
    assert response.status_code in (200, 302)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [operator_user.email]
    parts = [message.body, *(content for content, _ in message.alternatives), message.extra_headers["List-Unsubscribe"]]
    for part in parts:
        assert live_tokens(part) == []


@pytest.fixture
def operator_user(django_user_model):
    return django_user_model.objects.create_superuser("operator", "operator@lab.example", "s3cret-pass-42")
