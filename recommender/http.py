"""HTTP helpers shared by the clients that talk to other servers (feed fetcher, LLM client)."""

from __future__ import annotations

import datetime as dt
import email.utils
import time

MAX_RETRY_AFTER = 86400.0  # a day: no hint is honoured beyond it


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """Return the delay a ``Retry-After`` header asks for, or None when it gives no usable hint.

    Both forms of RFC 9110 §10.2.3: delta-seconds (ASCII digits) and an HTTP date (a date in the past
    means now). The result is capped at ``MAX_RETRY_AFTER``; callers apply their own, smaller caps.
    """
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000": UTC with no zone named
        when = when.replace(tzinfo=dt.UTC)
    now = time.time() if now is None else now
    return min(max(when.timestamp() - now, 0.0), MAX_RETRY_AFTER)
