"""A fixed-window request counter in Django's cache, for endpoints allauth does not guard.

allauth already limits signup, login and password reset (``ACCOUNT_RATE_LIMITS``);
this covers the subscribe box. The window is keyed by its start so counters
expire on their own.
"""

from __future__ import annotations

import hashlib
import time

from django.core.cache import cache


def client_ip(request) -> str:
    """The client address as allauth sees it (so its proxy settings apply here too)."""
    from allauth.account.adapter import get_adapter

    try:
        return get_adapter(request).get_client_ip(request)
    except Exception:  # allauth refuses ambiguous proxy headers; fall back to the socket peer
        return request.META.get("REMOTE_ADDR", "") or "unknown"


def rate_limit_hit(*, scope: str, key: str, limit: int, period: int) -> bool:
    """Count one hit for ``key``; return True when it exceeds ``limit`` per ``period`` seconds."""
    window = int(time.time() // period)
    digest = hashlib.sha256(key.lower().encode()).hexdigest()[:32]  # no raw emails in cache keys
    cache_key = f"rl:{scope}:{digest}:{window}"
    cache.add(cache_key, 0, timeout=period + 5)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.add(cache_key, 1, timeout=period + 5)
        count = 1
    return count > limit
