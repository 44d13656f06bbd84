"""Signup costs the same for a known address as for a new one (no enumeration by timing).

Wall time on a shared 2-core machine is noise; the work is not. The test
counts what makes the difference in production (password hashes: PBKDF2
takes most of a second; emails: an SMTP round trip) and the database
queries, for every kind of address: new, a confirmed member, an unconfirmed
subscribe-box reader, an unconfirmed signup.
"""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import MD5PasswordHasher
from django.core import mail
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from recommender.subscriptions.services import subscriber_create

pytestmark = pytest.mark.django_db


class CountingHasher(MD5PasswordHasher):
    """The suite's fast hasher, counting every hash it computes."""

    calls = 0

    def encode(self, password, salt):
        type(self).calls += 1
        return super().encode(password, salt)


@pytest.fixture
def counting_hasher(settings):
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
    CountingHasher.calls = 0
    return CountingHasher


def known_addresses(member, password) -> dict[str, str]:
    reader = subscriber_create(email="reader@example.org")  # subscribe box, not confirmed yet
    EmailAddress.objects.create(user=reader, email=reader.email, primary=True, verified=False)
    Client().post(
        reverse("account_signup"), {"email": "pending@example.org", "password1": password, "password2": password}
    )
    # A first probe: allauth sends at most one verification mail per address per 3 minutes (rate limit in the
    # cache), for known and new addresses alike; the setup's own signup must not count against the probe.
    cache.clear()
    return {"member": member.email, "subscriber": "reader@example.org", "pending signup": "pending@example.org"}


def signup_work(email: str, password: str, hasher) -> dict:
    mail.outbox.clear()
    hasher.calls = 0
    with CaptureQueriesContext(connection) as queries:
        response = Client().post(
            reverse("account_signup"), {"email": email, "password1": password, "password2": password}
        )
    return {
        "status": response.status_code,
        "location": response.get("Location"),
        "hashes": hasher.calls,
        "emails": len(mail.outbox),
        "queries": len(queries),
        "writes": {q["sql"].split('"')[1] for q in queries.captured_queries if q["sql"].startswith("INSERT")},
    }


def test_known_and_new_addresses_cost_the_same(member, password, counting_hasher):
    known = known_addresses(member, password)
    new = signup_work("brand-new@example.org", password, counting_hasher)
    assert new["hashes"] == 1 and new["emails"] == 1
    for kind, email in known.items():
        work = signup_work(email, password, counting_hasher)
        for key in ("status", "location", "hashes", "emails"):
            assert work[key] == new[key], (kind, key, work, new)
        # The rest is the new account's own rows (user, profile, default topic, address: 17 more queries, a few
        # milliseconds against the hash's second and the SMTP round trip); a known address writes nothing but
        # the session.
        assert work["writes"] <= {"django_session"}, (kind, work)
        assert new["queries"] - work["queries"] <= 17, (kind, work, new)


def test_subscribe_box_costs_the_same(member, counting_hasher):
    def work(email):
        mail.outbox.clear()
        counting_hasher.calls = 0
        response = Client().post(reverse("web:subscribe"), {"email": email})
        return response.status_code, response["Location"], counting_hasher.calls, len(mail.outbox)

    assert work(member.email) == work("someone-new@example.org") == (302, "/", 0, 1)


@pytest.mark.parametrize(
    "url,data",
    [
        ("account_login", lambda email: {"login": email, "password": "a wrong password 77"}),
        ("account_reset_password", lambda email: {"email": email}),
        ("account_request_login_code", lambda email: {"email": email}),
    ],
)
def test_sign_in_paths_cost_the_same(member, counting_hasher, url, data):
    def work(email):
        cache.clear()  # a first attempt for each address (rate limits are per address)
        mail.outbox.clear()
        counting_hasher.calls = 0
        response = Client().post(reverse(url), data(email))
        return response.status_code, response.get("Location"), counting_hasher.calls, len(mail.outbox)

    assert work(member.email) == work("nobody-here@example.org")
