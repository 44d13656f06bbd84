"""``Retry-After`` (RFC 9110 §10.2.3): both forms, one parser for the feed fetcher and the LLM client."""

from __future__ import annotations

import email.utils
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recommender.http import MAX_RETRY_AFTER, retry_after_seconds


def test_delta_seconds():
    assert retry_after_seconds("30") == 30
    assert retry_after_seconds(" 0 ") == 0
    assert retry_after_seconds("9999999") == MAX_RETRY_AFTER  # capped at a day


def test_http_date():
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480 - 60) == pytest.approx(60)
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480 + 60) == 0  # in the past
    soon = email.utils.formatdate(time.time() + 120, usegmt=True)
    assert 100 <= retry_after_seconds(soon) <= 120


@pytest.mark.parametrize("value", [None, "", "soon", "-5", "1.5", "Wed, 32 Foo 2015", "\x00"])
def test_garbage_is_no_hint(value):
    assert retry_after_seconds(value) is None


@given(st.integers(min_value=0, max_value=10**12))
def test_every_delta_is_honoured_up_to_the_cap(seconds):
    assert retry_after_seconds(str(seconds)) == min(seconds, MAX_RETRY_AFTER)


@given(st.text(max_size=40))
def test_any_text_gives_none_or_a_bounded_delay(value):
    delay = retry_after_seconds(value, now=0.0)
    assert delay is None or 0 <= delay <= MAX_RETRY_AFTER
