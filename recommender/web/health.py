"""``/healthz``: is each backing service up? For load balancers, uptime checks and operators.

The database, the Redis cache and the Celery broker are checked separately
(one round trip each, short timeouts) so a report says which one is down:
with the cache down the site still serves (``recommender/cache.py``), with the
broker down no digest is sent, with the database down nothing works. 200
when all are up, 503 otherwise. No login, never cached; the body names no
host, address or credential, only each check's status, its time and the
class of the error.
"""

from __future__ import annotations

import time

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from kombu import Connection

from digest_site.celery import app

TIMEOUT_SECONDS = 0.5


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def _cache() -> str:
    """PING the cache's Redis directly: the cache backend itself hides an outage behind its memory fallback."""
    config = settings.CACHES["default"]
    if not config["BACKEND"].endswith("RedisCache"):
        return "ok"  # a local-memory cache (CACHE_REDIS=0) cannot be down
    location = config["LOCATION"]
    url = location if isinstance(location, str) else location[0]
    timeouts = {"socket_connect_timeout": TIMEOUT_SECONDS, "socket_timeout": TIMEOUT_SECONDS}
    client = redis.Redis.from_url(url.split(",")[0], **timeouts)
    try:
        client.ping()
    finally:
        client.close()
    return "ok"


def _broker() -> str:
    timeouts = {"socket_connect_timeout": TIMEOUT_SECONDS, "socket_timeout": TIMEOUT_SECONDS}
    with Connection(app.conf.broker_url, connect_timeout=TIMEOUT_SECONDS, transport_options=timeouts) as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=TIMEOUT_SECONDS * 2)
    return "ok"


CHECKS = {"database": _database, "cache": _cache, "broker": _broker}


def _run(check) -> dict:
    started = time.monotonic()
    try:
        result = {"status": check()}
    except Exception as exc:  # any failure is this component's: report it, never raise
        result = {"status": "down", "error": exc.__class__.__name__}
    result["ms"] = round((time.monotonic() - started) * 1000, 1)
    return result


@never_cache
@require_GET
def healthz(request):
    checks = {name: _run(check) for name, check in CHECKS.items()}
    healthy = all(check["status"] == "ok" for check in checks.values())
    return JsonResponse({"status": "ok" if healthy else "down", "checks": checks}, status=200 if healthy else 503)
