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

Built on ``django.core.signing``: a token is ``signing.dumps(fields,
salt=...)`` (a ``TimestampSigner`` token: the signer's timestamp is the
issue time), so ``SECRET_KEY`` is read lazily and ``SECRET_KEY_FALLBACKS``
keeps links valid across a key rotation. Tokens minted before this module used
``signing`` directly have the same wire format with the issue time also in the
payload (``"t"``); they verify unchanged (tests/digest/test_tokens.py keeps a
few). Modelled on ``django.contrib.auth.tokens.PasswordResetTokenGenerator``:
a small class with the clock behind ``_now()`` so tests can move time. This
module must not touch the database.
"""

from __future__ import annotations

import time
from typing import Any

from django.core import signing

DAY = 24 * 3600
FUTURE_SKEW = 300  # seconds: a token issued further in the future than this is not ours


class _ClockedSigner(signing.TimestampSigner):
    """``TimestampSigner`` reading its generator's ``_now()`` and refusing tokens from the future.

    Django's signer reads ``time.time()``; the generator's clock must rule both the
    stamp and the age so that tests (and ``_now()`` overrides) move time for both.
    """

    def __init__(self, *, now, **kwargs):
        super().__init__(**kwargs)
        self.now = now

    def timestamp(self) -> str:
        return signing.b62_encode(int(self.now()))

    def unsign(self, value: str, max_age: int | None = None) -> str:
        # Signer.unsign checks the signature (key, then fallbacks) and leaves "payload:stamp".
        value, stamp = signing.Signer.unsign(self, value).rsplit(self.sep, 1)
        age = self.now() - signing.b62_decode(stamp)
        if age < -FUTURE_SKEW or (max_age is not None and age > max_age):
            raise signing.SignatureExpired(f"token age {age:.0f} s outside [-{FUTURE_SKEW}, {max_age}]")
        return value


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
    def salt(self) -> str:
        return f"{self.key_salt}.{self.purpose}"

    def _now(self) -> float:
        return time.time()

    def _signer(self) -> _ClockedSigner:
        # Built per call: the key (settings.SECRET_KEY and its fallbacks) is read when used, never cached.
        return _ClockedSigner(salt=self.salt, now=self._now)

    def make_token(self, **payload: Any) -> str:
        """Return a URL-safe token carrying ``payload`` (the purpose's fields), stamped with the issue time."""
        missing = set(self.fields) - set(payload)
        if missing:
            raise ValueError(f"{self.purpose} token needs {sorted(missing)}")
        return self._signer().sign_object({k: payload[k] for k in self.fields})

    def check_token(self, token: str) -> dict | None:
        """Return the payload if ``token`` is ours, for this purpose, and not expired; else None."""
        if not token or len(token) > 512:
            return None
        try:
            data = self._signer().unsign_object(token, max_age=self.max_age)
        except (signing.BadSignature, ValueError):
            return None
        if not isinstance(data, dict) or any(k not in data for k in self.fields):
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
