"""A Redis cache that survives Redis: while it cannot be reached, each process caches in its own memory.

Everything that uses Django's cache (the anonymous page cache, "similar papers",
allauth's rate limits, the subscribe-box limiter) would answer 500 the moment
Redis stops: Django's ``RedisCache`` lets ``redis.ConnectionError`` through.
This backend catches connection errors and timeouts on every cache operation
and serves it from a bounded per-process ``LocMemCache`` instead, so during an
outage pages are rendered (and briefly cached) per process and rate limits are
counted per process: the documented local fallback (docs/deployment.md). With
``N`` web processes a client can make up to ``N`` times its limit until Redis
is back.

After a failure the backend does not touch Redis for ``retry_after`` seconds
(no connect attempt, hence no stall per request even when packets to Redis are
dropped), then tries again. The outage is logged once when it starts and once
when it ends, not per request. Short socket timeouts are the default so one
attempt costs at most a fraction of a second.

``OPTIONS`` (besides those of Django's ``RedisCache``, passed to redis-py):

- ``retry_after``: seconds between attempts while Redis is down (default 5);
- ``fallback_max_entries``: size of the per-process fallback (default 1000);
- ``socket_connect_timeout`` / ``socket_timeout``: redis-py's, default 0.25 s / 0.5 s.
"""

from __future__ import annotations

import logging
import threading
import time

import redis
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache

logger = logging.getLogger(__name__)

REDIS_DOWN_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
DEFAULT_OPTIONS = {"socket_connect_timeout": 0.25, "socket_timeout": 0.5}


class _Outage:
    """Whether one Redis location is down, shared by every thread of the process (one log line per outage)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.since: float | None = None  # monotonic time the outage started, None while Redis answers
        self.retry_at = 0.0
        self.fallback_calls = 0

    def skip_redis(self) -> bool:
        return self.since is not None and time.monotonic() < self.retry_at

    def failed(self, *, location: str, error: Exception, retry_after: float) -> None:
        with self.lock:
            now = time.monotonic()
            self.retry_at = now + retry_after
            if self.since is None:
                self.since = now
                self.fallback_calls = 0
                logger.warning(
                    "Redis cache at %s unreachable (%s): using a per-process memory cache, retrying every %.1fs",
                    location,
                    error.__class__.__name__,
                    retry_after,
                )

    def answered(self, *, location: str) -> None:
        if self.since is None:
            return
        with self.lock:
            if self.since is None:
                return
            seconds, calls = time.monotonic() - self.since, self.fallback_calls
            self.since = None
        logger.warning(
            "Redis cache at %s reachable again after %.1fs (%d operations served from memory)", location, seconds, calls
        )


_outages: dict[str, _Outage] = {}
_outages_lock = threading.Lock()


def _outage_for(location: str) -> _Outage:
    with _outages_lock:
        return _outages.setdefault(location, _Outage())


class ResilientRedisCache(RedisCache):
    """Django's ``RedisCache`` that degrades to a per-process memory cache instead of raising when Redis is down."""

    def __init__(self, server, params):
        options = {**DEFAULT_OPTIONS, **params.get("OPTIONS", {})}
        self.retry_after = float(options.pop("retry_after", 5.0))
        fallback_entries = int(options.pop("fallback_max_entries", 1000))
        super().__init__(server, {**params, "OPTIONS": options})
        self.location = server if isinstance(server, str) else ",".join(server)
        self.outage = _outage_for(self.location)
        self.fallback = LocMemCache(
            f"paperboy-redis-fallback:{self.location}",
            {
                "TIMEOUT": params.get("TIMEOUT", 300),
                "KEY_PREFIX": params.get("KEY_PREFIX", ""),
                "VERSION": params.get("VERSION", 1),
                "KEY_FUNCTION": params.get("KEY_FUNCTION"),
                "OPTIONS": {"MAX_ENTRIES": fallback_entries},
            },
        )

    @property
    def degraded(self) -> bool:
        """True while Redis is considered down (operations go to the per-process memory cache)."""
        return self.outage.since is not None

    def _call(self, name: str, *args, **kwargs):
        if not self.outage.skip_redis():
            try:
                result = getattr(RedisCache, name)(self, *args, **kwargs)
            except REDIS_DOWN_ERRORS as exc:
                self.outage.failed(location=self.location, error=exc, retry_after=self.retry_after)
            else:
                self.outage.answered(location=self.location)
                return result
        self.outage.fallback_calls += 1
        return getattr(self.fallback, name)(*args, **kwargs)

    def add(self, *args, **kwargs):
        return self._call("add", *args, **kwargs)

    def get(self, *args, **kwargs):
        return self._call("get", *args, **kwargs)

    def set(self, *args, **kwargs):
        return self._call("set", *args, **kwargs)

    def touch(self, *args, **kwargs):
        return self._call("touch", *args, **kwargs)

    def delete(self, *args, **kwargs):
        return self._call("delete", *args, **kwargs)

    def get_many(self, *args, **kwargs):
        return self._call("get_many", *args, **kwargs)

    def has_key(self, *args, **kwargs):
        return self._call("has_key", *args, **kwargs)

    def incr(self, *args, **kwargs):
        return self._call("incr", *args, **kwargs)

    def set_many(self, *args, **kwargs):
        return self._call("set_many", *args, **kwargs)

    def delete_many(self, *args, **kwargs):
        return self._call("delete_many", *args, **kwargs)

    def clear(self):
        self.fallback.clear()
        return self._call("clear")
