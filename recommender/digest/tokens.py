"""Signed, per-purpose tokens for the links in digest emails.

Every link in a digest (unsubscribe, one-click feedback, tracked paper
links) carries a token that names the user, the paper and the action, signed
with ``SECRET_KEY`` and a salt per purpose: a feedback token cannot be used to
unsubscribe, a click token cannot be bent into a vote, and nothing in a token
is a URL (click targets are chosen from the paper's stored links by name).

Two link formats are accepted: per link (``click`` and ``feedback``: user,
paper and link name or kind in the token; previews and emails sent before
the per-delivery format) and per email (``click.delivery`` and
``feedback.delivery``: user and delivery in the token, the paper id and link
name or kind in the URL path, checked against the delivery's recorded
papers). Each purpose has its own salt.

Modelled on ``django.contrib.auth.tokens.PasswordResetTokenGenerator``: a
small class, the secret read lazily (never at import time, so tests can
override it) and the clock behind ``_now()`` so tests can move time. This
module must not touch the database.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from django.conf import settings
from django.core import signing

DAY = 24 * 3600
_SIGNERS: dict[tuple[str, str], hmac.HMAC] = {}


def _sign(data: dict, *, secret: str, salt: str) -> str:
    """Exactly ``signing.dumps(data, key=secret, salt=salt)``, with the HMAC key derived once per salt.

    A digest carries ~80 signed links; Django's ``dumps`` re-derives the
    salted key and rebuilds its signer objects for each of them. The output is
    byte-for-byte the same (``signing.loads`` checks it; tested in
    tests/bench/test_fast_paths.py).
    """
    mac = _SIGNERS.get((secret, salt))
    if mac is None:
        key = hashlib.sha256(f"{salt}signer{secret}".encode()).digest()
        mac = _SIGNERS[(secret, salt)] = hmac.new(key, digestmod=hashlib.sha256)
    value = signing.b64_encode(json.dumps(data, separators=(",", ":")).encode("latin-1")).decode()
    value = f"{value}:{signing.b62_encode(int(time.time()))}"
    signer = mac.copy()
    signer.update(value.encode())
    return f"{value}:{signing.b64_encode(signer.digest()).decode()}"


class DigestTokenGenerator:
    """Make and check tokens for one purpose (``salt``), optionally expiring."""

    key_salt = "paperboy.digest"
    purpose = ""
    max_age: int | None = None  # seconds; None = never expires
    fields: tuple[str, ...] = ()

    def __init__(self, *, purpose: str | None = None, max_age: int | None = None, fields: tuple[str, ...] = ()):
        if purpose is not None:
            self.purpose = purpose
        if max_age is not None:
            self.max_age = max_age
        if fields:
            self.fields = fields

    @property
    def secret(self) -> str:
        return settings.SECRET_KEY

    @property
    def secret_fallbacks(self) -> list[str]:
        return list(getattr(settings, "SECRET_KEY_FALLBACKS", []))

    @property
    def salt(self) -> str:
        return f"{self.key_salt}.{self.purpose}"

    def _now(self) -> float:
        return time.time()

    def make_token(self, **payload: Any) -> str:
        """Return a URL-safe token carrying ``payload`` (the purpose's fields) and the issue time."""
        missing = set(self.fields) - set(payload)
        if missing:
            raise ValueError(f"{self.purpose} token needs {sorted(missing)}")
        data = {k: payload[k] for k in self.fields}
        data["t"] = int(self._now())
        return _sign(data, secret=self.secret, salt=self.salt)

    def check_token(self, token: str) -> dict | None:
        """Return the payload if ``token`` is ours, for this purpose, and not expired; else None."""
        if not token or len(token) > 512:
            return None
        data = None
        for secret in [self.secret, *self.secret_fallbacks]:
            try:
                data = signing.loads(token, key=secret, salt=self.salt)
                break
            except signing.BadSignature:
                continue
        if not isinstance(data, dict) or not isinstance(data.get("t"), int):
            return None
        if any(k not in data for k in self.fields):
            return None
        age = self._now() - data["t"]
        if age < -300:  # issued in the future (clock skew beyond 5 min): not ours
            return None
        if self.max_age is not None and age > self.max_age:
            return None
        return data


class UnsubscribeTokenGenerator(DigestTokenGenerator):
    # Long-lived on purpose: an unsubscribe link in an old email must keep
    # working (CAN-SPAM asks for at least 30 days; we give a year).
    purpose = "unsubscribe"
    max_age = 365 * DAY
    fields = ("u",)


class FeedbackTokenGenerator(DigestTokenGenerator):
    purpose = "feedback"
    max_age = 60 * DAY
    fields = ("u", "p", "k")  # user id, paper id, interaction kind


class ClickTokenGenerator(DigestTokenGenerator):
    purpose = "click"
    max_age = 180 * DAY
    fields = ("u", "p", "l")  # user id, paper id, link name (abs/pdf/hf/code)


class DeliveryClickTokenGenerator(DigestTokenGenerator):
    """One click token per (user, delivery): the paper and link name are in the URL's path.

    The view accepts a paper only if it is one of that delivery's papers or
    trending papers, so the token vouches for exactly the papers of the email
    it was sent in, with one HMAC per email instead of one per link.
    """

    purpose = "click.delivery"
    max_age = 180 * DAY
    fields = ("u", "d")  # user id, delivery id


class DeliveryFeedbackTokenGenerator(DigestTokenGenerator):
    """One feedback token per (user, delivery); the paper and the kind are in the URL's path."""

    purpose = "feedback.delivery"
    max_age = 60 * DAY
    fields = ("u", "d")


unsubscribe_token = UnsubscribeTokenGenerator()
feedback_token = FeedbackTokenGenerator()
click_token = ClickTokenGenerator()
delivery_click_token = DeliveryClickTokenGenerator()
delivery_feedback_token = DeliveryFeedbackTokenGenerator()

FEEDBACK_KINDS = ("thumbs_up", "thumbs_down", "not_interested")
LINK_NAMES = ("abs", "pdf", "hf", "code")
