"""Signed per-purpose tokens: round trip, tampering, expiry, purpose confusion, key rotation."""

from __future__ import annotations

import pytest
from django.core import signing

from recommender.digest.tokens import (
    DAY,
    ClickTokenGenerator,
    DigestTokenGenerator,
    FeedbackTokenGenerator,
    click_token,
    delivery_click_token,
    delivery_feedback_token,
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


# Tokens minted by the code before tokens.py was rebuilt on django.core.signing (payload carrying its own
# "t" issue time), with this key, at OLD_MINTED_AT: links in emails already sent must keep working.
OLD_KEY = "paperboy-old-format-tokens-test-key-0123456789abcdef"
OLD_MINTED_AT = 1796116082
OLD_TOKENS = [
    ("unsubscribe", "eyJ1Ijo1LCJ0IjoxNzk2MTE2MDgyfQ:1xYJqE:5p-latKKVdgSDI_VawtXuaFXMUagkFicWOeO6aEmoKs", {"u": 5}),
    (
        "feedback",
        "eyJ1Ijo3LCJwIjo0MiwiayI6InRodW1ic191cCIsInQiOjE3OTYxMTYwODJ9:1xYJqE:iyYdbrqEKNdaNmsrH83WBMazytuyIbNxRkM25hIUqZM",
        {"u": 7, "p": 42, "k": "thumbs_up"},
    ),
    (
        "click",
        "eyJ1Ijo3LCJwIjo0MiwibCI6InBkZiIsInQiOjE3OTYxMTYwODJ9:1xYJqE:XsWGNzLCvKSbMyhqbSloRjG9O6hvKrRgL4NREnzTWuE",
        {"u": 7, "p": 42, "l": "pdf"},
    ),
    (
        "click.delivery",
        "eyJ1Ijo3LCJkIjo5LCJ0IjoxNzk2MTE2MDgyfQ:1xYJqE:IT_ngaMqkYIj_R6ftUDHXUAJaqLMILF88ky4RjkEpv4",
        {"u": 7, "d": 9},
    ),
    (
        "feedback.delivery",
        "eyJ1Ijo3LCJkIjo5LCJ0IjoxNzk2MTE2MDgyfQ:1xYJqE:NJcpdYAbzIiRnGPo20UlFfQCFJfC8uEGgD5W5bxuvwc",
        {"u": 7, "d": 9},
    ),
]
GENERATORS = {
    g.purpose: g
    for g in (unsubscribe_token, feedback_token, click_token, delivery_click_token, delivery_feedback_token)
}


def _at(generator: DigestTokenGenerator, when: float) -> DigestTokenGenerator:
    clocked = type(generator)()
    clocked._now = lambda: when
    return clocked


@pytest.mark.parametrize("purpose,token,fields", OLD_TOKENS)
def test_tokens_minted_before_the_rebuild_still_verify(settings, purpose, token, fields):
    settings.SECRET_KEY = OLD_KEY
    generator = GENERATORS[purpose]
    day_after = _at(generator, OLD_MINTED_AT + DAY)
    assert {k: v for k, v in day_after.check_token(token).items() if k in fields} == fields
    assert _at(generator, OLD_MINTED_AT + generator.max_age + 1).check_token(token) is None
    for other in GENERATORS.values():
        if other.purpose != purpose:
            assert _at(other, OLD_MINTED_AT + DAY).check_token(token) is None
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "another-key-" * 5, [OLD_KEY]
    assert day_after.check_token(token)["u"] == fields["u"]


@pytest.mark.parametrize("generator", GENERATORS.values(), ids=GENERATORS)
def test_tokens_are_django_signing_with_the_purpose_salt(settings, generator):
    """A token is ``signing.dumps(fields, salt=…)``: the issue time is the signer's timestamp, not a field."""
    settings.SECRET_KEY_FALLBACKS = []
    fields = {name: 3 for name in generator.fields}
    token = generator.make_token(**fields)
    assert signing.loads(token, salt=generator.salt, max_age=generator.max_age) == fields
    assert generator.check_token(signing.dumps(fields, salt=generator.salt, compress=False))["u"] == 3
