"""Signed per-purpose tokens: round trip, tampering, expiry, purpose confusion, key rotation."""

from __future__ import annotations

import pytest

from recommender.digest.tokens import (
    ClickTokenGenerator,
    FeedbackTokenGenerator,
    click_token,
    feedback_token,
    unsubscribe_token,
)


class Clock(FeedbackTokenGenerator):
    def __init__(self, at: float):
        super().__init__()
        self.at = at

    def _now(self) -> float:
        return self.at


def test_round_trip_carries_the_fields():
    token = feedback_token.make_token(u=7, p=42, k="thumbs_up")
    data = feedback_token.check_token(token)
    assert (data["u"], data["p"], data["k"]) == (7, 42, "thumbs_up")


def test_tampered_token_is_rejected():
    token = click_token.make_token(u=1, p=2, l="pdf")
    payload, sig = token.rsplit(":", 1)
    assert click_token.check_token(payload + ":" + sig[:-1] + ("A" if sig[-1] != "A" else "B")) is None
    forged = click_token.make_token(u=2, p=2, l="pdf").split(":")[0]
    assert click_token.check_token(forged + ":" + token.split(":", 1)[1]) is None
    assert click_token.check_token("") is None
    assert click_token.check_token("x" * 2000) is None


def test_other_purpose_is_rejected():
    token = feedback_token.make_token(u=1, p=2, k="thumbs_up")
    assert click_token.check_token(token) is None
    assert unsubscribe_token.check_token(token) is None
    assert feedback_token.check_token(unsubscribe_token.make_token(u=1)) is None


def test_expired_token_is_rejected():
    issued = Clock(1_000_000.0)
    token = issued.make_token(u=1, p=2, k="thumbs_down")
    assert Clock(1_000_000.0 + FeedbackTokenGenerator.max_age - 1).check_token(token)["u"] == 1
    assert Clock(1_000_000.0 + FeedbackTokenGenerator.max_age + 1).check_token(token) is None
    assert Clock(1_000_000.0 - 3600).check_token(token) is None  # from the future


def test_secret_is_read_lazily_and_rotation_keeps_old_links(settings):
    token = unsubscribe_token.make_token(u=5)
    old = settings.SECRET_KEY
    settings.SECRET_KEY = "a-brand-new-secret-key-for-rotation-0123456789abcdef"
    assert unsubscribe_token.check_token(token) is None
    settings.SECRET_KEY_FALLBACKS = [old]
    assert unsubscribe_token.check_token(token)["u"] == 5


def test_missing_fields_cannot_be_signed():
    with pytest.raises(ValueError):
        ClickTokenGenerator().make_token(u=1, p=2)
