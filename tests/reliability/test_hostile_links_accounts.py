"""Hostile use of links and accounts: tampered, expired, replayed and misdirected tokens, open redirects,
rate limits, enumeration, and users reaching other users' data.

Tokens are checked through the views (what a mail client or an attacker
actually calls); the clock is moved with the generators' ``_now()`` hook.
"""

from __future__ import annotations

import time

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.urls import reverse

from recommender.digest.tokens import DAY, click_token, feedback_token, unsubscribe_token
from recommender.models import DeliveryStatus, DigestDelivery, Interaction, Profile, Suppression
from tests.factories import make_paper, make_subscriber

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-9"


@pytest.fixture
def alice(db):
    return make_subscriber("alice@example.org", password=PASSWORD)


@pytest.fixture
def bob(db):
    return make_subscriber("bob@example.org", password=PASSWORD)


@pytest.fixture
def paper(db):
    return make_paper(category="cs.LG", title="Stored links only", github_repo="https://github.com/example/repo")


def _logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _tamper(token: str) -> list[str]:
    value, stamp, sig = token.rsplit(":", 2)
    flipped = sig[:-1] + ("A" if sig[-1] != "A" else "B")
    return [f"{value}:{stamp}:{flipped}", f"{value[:-2]}:{stamp}:{sig}", token + "x", token[:-5], "x" * 600]


# --- tokens ---------------------------------------------------------------------------------


def test_tampered_tokens_do_nothing_anywhere(client, alice, paper):
    for token in _tamper(click_token.make_token(u=alice.pk, p=paper.pk, l="abs")):
        assert client.get(reverse("digest:click", args=[token])).status_code == 404
    for token in _tamper(feedback_token.make_token(u=alice.pk, p=paper.pk, k="thumbs_up")):
        assert client.post(reverse("digest:feedback", args=[token])).status_code in (400, 403)
    for token in _tamper(unsubscribe_token.make_token(u=alice.pk)):
        assert client.post(reverse("digest:unsubscribe", args=[token])).status_code == 400
    assert not Interaction.objects.exists()
    assert Profile.objects.get(user=alice).suppression == Suppression.NONE


@pytest.mark.parametrize(
    "generator, days, url_name, method",
    [
        (click_token, 181, "digest:click", "get"),
        (feedback_token, 61, "digest:feedback", "get"),
        (unsubscribe_token, 366, "digest:unsubscribe", "post"),
    ],
    ids=["click", "feedback", "unsubscribe"],
)
def test_expired_tokens_do_nothing(client, alice, paper, monkeypatch, generator, days, url_name, method):
    payload = {
        "click": {"u": alice.pk, "p": paper.pk, "l": "abs"},
        "feedback": {"u": alice.pk, "p": paper.pk, "k": "thumbs_up"},
    }
    token = generator.make_token(**payload.get(generator.purpose, {"u": alice.pk}))
    monkeypatch.setattr(generator, "_now", lambda: time.time() + days * DAY)
    response = getattr(Client(enforce_csrf_checks=False), method)(reverse(url_name, args=[token]))
    assert response.status_code in (400, 404)
    assert not Interaction.objects.exists()
    assert Profile.objects.get(user=alice).suppression == Suppression.NONE


def test_tokens_for_another_purpose_are_refused_by_every_view(client, alice, paper):
    feedback = feedback_token.make_token(u=alice.pk, p=paper.pk, k="thumbs_up")
    click = click_token.make_token(u=alice.pk, p=paper.pk, l="abs")
    unsubscribe = unsubscribe_token.make_token(u=alice.pk)
    assert client.get(reverse("digest:click", args=[feedback])).status_code == 404
    assert client.get(reverse("digest:click", args=[unsubscribe])).status_code == 404
    assert client.post(reverse("digest:unsubscribe", args=[click])).status_code == 400
    assert client.post(reverse("digest:unsubscribe", args=[feedback])).status_code == 400
    assert _logged_in(alice).post(reverse("digest:feedback", args=[click])).status_code == 400
    # A password-reset style token or a signed cookie value is not a digest token either.
    from django.core import signing

    assert (
        client.get(
            reverse("digest:click", args=[signing.dumps({"u": alice.pk, "p": paper.pk, "l": "abs"})])
        ).status_code
        == 404
    )
    assert not Interaction.objects.exists()
    assert Profile.objects.get(user=alice).suppression == Suppression.NONE


def test_replayed_links_are_idempotent(alice, paper):
    client = _logged_in(alice)
    feedback = reverse("digest:feedback", args=[feedback_token.make_token(u=alice.pk, p=paper.pk, k="thumbs_up")])
    for _ in range(3):
        assert client.post(feedback).status_code == 200
    assert Interaction.objects.filter(user=alice, kind="thumbs_up").count() == 1
    unsubscribe = reverse("digest:unsubscribe", args=[unsubscribe_token.make_token(u=alice.pk)])
    for _ in range(3):
        assert (
            Client()
            .post(unsubscribe, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
            .status_code
            == 200
        )
    profile = Profile.objects.get(user=alice)
    assert profile.suppression == Suppression.UNSUBSCRIBED and profile.next_digest_at is None


def test_a_token_issued_for_another_user_acts_for_that_user_only(alice, bob, paper):
    """The token names its user: Bob replaying Alice's link records Alice's vote, never Bob's, and reveals nothing."""
    token = feedback_token.make_token(u=alice.pk, p=paper.pk, k="thumbs_down")
    html = _logged_in(bob).get(reverse("digest:feedback", args=[token])).content.decode()
    assert "alice@example.org" not in html
    _logged_in(bob).post(reverse("digest:feedback", args=[token]))
    assert not Interaction.objects.filter(user=bob).exists()
    # Tokens cannot be re-pointed at Bob without the secret: changing the payload breaks the signature.
    forged = token.replace(
        token.split(":")[0], feedback_token.make_token(u=bob.pk, p=paper.pk, k="thumbs_down").split(":")[0]
    )
    assert _logged_in(bob).post(reverse("digest:feedback", args=[forged])).status_code == 400
    assert not Interaction.objects.filter(user=bob).exists()


def test_unsubscribe_get_changes_nothing_post_with_both_encodings_works(alice, bob):
    for user, kwargs in [
        (alice, {"data": "List-Unsubscribe=One-Click", "content_type": "application/x-www-form-urlencoded"}),
        (bob, {"data": {"List-Unsubscribe": "One-Click"}}),  # multipart/form-data
    ]:
        url = reverse("digest:unsubscribe", args=[unsubscribe_token.make_token(u=user.pk)])
        assert Client().get(url).status_code == 200
        assert Profile.objects.get(user=user).suppression == Suppression.NONE
        response = Client(enforce_csrf_checks=True).post(url, **kwargs)
        assert response.status_code == 200
        assert Profile.objects.get(user=user).suppression == Suppression.UNSUBSCRIBED


# --- open redirects ---------------------------------------------------------------------------

OFFSITE = [
    "https://evil.example/",
    "//evil.example/",
    "/\\evil.example/",
    "\\\\evil.example",
    "https:evil.example",
    "javascript:alert(1)",
    "http://testserver@evil.example/",
    "/%2F%2Fevil.example",
]


@pytest.mark.parametrize("target", OFFSITE)
def test_click_redirects_only_to_the_stored_url(client, alice, paper, target):
    token = click_token.make_token(u=alice.pk, p=paper.pk, l="code")
    response = client.get(reverse("digest:click", args=[token]), {"next": target, "url": target, "to": target})
    assert response.status_code == 302 and response["Location"] == "https://github.com/example/repo"


@pytest.mark.parametrize("target", OFFSITE)
def test_login_logout_and_signup_never_redirect_offsite(client, alice, target):
    response = client.post(
        f"/accounts/login/?next={target}", {"login": alice.email, "password": PASSWORD, "next": target}
    )
    assert response.status_code == 302
    _same_site(response["Location"])
    response = client.post("/accounts/logout/", {"next": target})
    _same_site(response.get("Location", "/"))


def _same_site(location: str) -> None:
    """A browser resolves ``location`` to this site: a path, no scheme, no host, no protocol-relative form."""
    import urllib.parse

    parts = urllib.parse.urlsplit(location)
    assert not parts.scheme and not parts.netloc, location
    assert location.startswith("/") and not location.startswith(("//", "/\\")), location


def test_tampered_link_name_cannot_redirect(client, alice, paper):
    """A click token for a link name that is not one of the four stored URLs is refused."""
    from recommender.digest.tokens import ClickTokenGenerator

    token = ClickTokenGenerator().make_token(u=alice.pk, p=paper.pk, l="https://evil.example/")
    assert client.get(reverse("digest:click", args=[token])).status_code == 404


# --- rate limits and enumeration -----------------------------------------------------------------


def test_password_reset_flood_is_rate_limited(client, alice):
    statuses = [client.post("/accounts/password/reset/", {"email": alice.email}).status_code for _ in range(7)]
    assert 429 in statuses, statuses
    assert len(mail.outbox) <= 5  # allauth "reset_password": 5/m per address


def test_login_brute_force_from_one_ip_is_rate_limited_across_accounts(client, db):
    for i in range(12):
        make_subscriber(f"victim{i}@example.org", password=PASSWORD)
    pages = [
        client.post("/accounts/login/", {"login": f"victim{i}@example.org", "password": "guess"}).content.decode()
        for i in range(12)
    ]
    # "login_failed": 10/m per IP, whatever account is tried (allauth answers with a form error).
    assert any("Too many failed login attempts" in page for page in pages[10:])
    assert not any("Too many failed login attempts" in page for page in pages[:10])
    # Even the right password is refused while limited.
    response = client.post("/accounts/login/", {"login": "victim11@example.org", "password": PASSWORD})
    assert response.status_code in (200, 429) and "_auth_user_id" not in client.session


def test_subscribe_known_and_unknown_addresses_look_the_same(alice):
    pages = []
    for address in ("alice@example.org", "stranger@example.org"):
        client = Client()
        response = client.post(reverse("web:subscribe"), {"email": address}, follow=True)
        pages.append((response.status_code, response.redirect_chain, _main_text(response.content.decode())))
    assert pages[0] == pages[1]


def test_signup_known_and_unknown_addresses_look_the_same(alice):
    pages = []
    for address in ("alice@example.org", "newcomer@example.org"):
        client = Client()
        response = client.post(
            "/accounts/signup/", {"email": address, "password1": PASSWORD, "password2": PASSWORD}, follow=True
        )
        pages.append((response.status_code, [u for u, _ in response.redirect_chain]))
    assert pages[0] == pages[1]


def _main_text(html: str) -> str:
    import re

    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)
    html = re.sub(r'"X-CSRFToken": "[^"]+"', "", html)
    return re.sub(r"\s+", " ", html)


# --- other users' data ------------------------------------------------------------------------------


def test_a_user_cannot_reach_another_users_data(alice, bob, paper):
    from recommender.interactions.services import interaction_record

    interaction_record(user=alice, paper=paper, kind="save")
    DigestDelivery.objects.create(
        user=alice, period_key="2026-11-22", status=DeliveryStatus.SENT, subject="Alice's digest"
    )
    as_bob = _logged_in(bob)
    export = as_bob.get(reverse("web:export_json")).content.decode()
    assert paper.arxiv_id not in export and "alice" not in export
    csv = as_bob.get(reverse("web:export_csv")).content.decode()
    assert paper.arxiv_id not in csv
    preview = as_bob.get(reverse("digest:preview_user", args=[alice.pk]))
    assert preview.status_code == 302 and "/admin/login/" in preview["Location"]
    for url in [
        "/admin/",
        "/admin/recommender/digestdelivery/",
        f"/admin/recommender/digestdelivery/{DigestDelivery.objects.get().pk}/change/",
        "/admin/recommender/interaction/",
        f"/admin/auth/user/{alice.pk}/change/",
        "/admin/dashboard/",
    ]:
        response = as_bob.get(url)
        assert response.status_code in (302, 403, 404), url
        assert "Alice's digest" not in response.content.decode()
    assert Client().get(reverse("web:feed", args=["not-" + alice.profile.feed_token])).status_code == 404
    # Bob's preferences page shows Bob's feed, never Alice's.
    assert Profile.objects.get(user=alice).feed_token not in as_bob.get(reverse("web:preferences")).content.decode()


def test_a_deleted_or_deactivated_user_is_locked_out_of_links(alice, paper):
    get_user_model().objects.filter(pk=alice.pk).update(is_active=False)
    client = Client()
    assert client.get(reverse("web:feed", args=[alice.profile.feed_token])).status_code == 404
    token = feedback_token.make_token(u=alice.pk, p=paper.pk, k="thumbs_up")
    assert client.post(reverse("digest:feedback", args=[token])).status_code == 404
    assert not Interaction.objects.exists()


# --- ESP webhooks ----------------------------------------------------------------------------------

FORGED_BOUNCE = {
    "RecordType": "Bounce",
    "Type": "HardBounce",
    "TypeCode": 1,
    "Email": "alice@example.org",
    "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
    "Description": "forged",
    "BouncedAt": "2026-11-22T08:00:00Z",
}


@pytest.mark.parametrize("secret", ["", "hook:s3cret"], ids=["no-secret-configured", "wrong-credentials"])
def test_a_forged_bounce_webhook_cannot_unsubscribe_anyone(client, alice, settings, secret):
    import base64
    import json

    settings.ANYMAIL = {"WEBHOOK_SECRET": secret}
    wrong = base64.b64encode(b"hook:guess").decode()
    client.post(
        reverse("digest:anymail:postmark_tracking_webhook"),
        json.dumps(FORGED_BOUNCE),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Basic {wrong}",
    )
    client.post(
        reverse("digest:anymail:postmark_tracking_webhook"), json.dumps(FORGED_BOUNCE), content_type="application/json"
    )
    profile = Profile.objects.get(user=alice)
    assert profile.suppression == Suppression.NONE and profile.next_digest_at is not None


# --- rate limits behind a reverse proxy ------------------------------------------------------------


def test_rate_limits_tell_clients_apart_behind_a_proxy_and_ignore_spoofed_hops(settings, db):
    """Production runs behind a proxy (``SECURE_PROXY_SSL_HEADER``): REMOTE_ADDR is the proxy for everyone."""
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    for i in range(12):  # twelve people behind the same proxy: nobody is limited by the others
        client = Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=f"203.0.113.{i}")
        assert client.post(reverse("web:subscribe"), {"email": f"c{i}@example.org"}).status_code == 302
    statuses = []
    for i in range(11):  # one client inventing a new first hop each time is still one client
        client = Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}, 203.0.113.200")
        statuses.append(client.post(reverse("web:subscribe"), {"email": f"s{i}@example.org"}).status_code)
    assert statuses[:10] == [302] * 10 and statuses[10] == 429


@pytest.mark.slow
def test_the_proxy_count_comes_from_the_environment():
    import os
    import subprocess
    import sys

    code = (
        "import django; django.setup(); from django.conf import settings; print(settings.ALLAUTH_TRUSTED_PROXY_COUNT)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "digest_site.settings", "TRUSTED_PROXY_COUNT": "2"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "2"


def test_an_authentic_bounce_with_nul_and_controls_in_its_text_still_suppresses(client, alice, settings):
    """Bounce texts come from remote mail servers: arbitrary bytes, stored as text without NUL."""
    import base64
    import json

    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook:s3cret"}
    event = {**FORGED_BOUNCE, "Description": "550\u0000 user\u0007 unknown", "Details": "smtp;550\u0000"}
    response = client.post(
        reverse("digest:anymail:postmark_tracking_webhook"),
        json.dumps(event),
        content_type="application/json",
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"hook:s3cret").decode(),
    )
    assert response.status_code == 200
    profile = Profile.objects.get(user=alice)
    assert profile.suppression == Suppression.BOUNCED
    assert "\x00" not in profile.suppression_reason and "user" in profile.suppression_reason
