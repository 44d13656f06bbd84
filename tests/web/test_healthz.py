"""``/healthz``: database, Redis cache and Celery broker reported separately; 200 only when all are up."""

from __future__ import annotations

import time

import pytest
from django.test import Client

from digest_site import embedded_redis

pytestmark = pytest.mark.django_db


def _dead_url() -> str:
    return f"redis://127.0.0.1:{embedded_redis.free_port()}/0"  # nothing listens there


def _health(client=None):
    started = time.monotonic()
    response = (client or Client()).get("/healthz")
    return response, time.monotonic() - started


def test_all_up_is_200_with_each_component_and_never_cached():
    response, _ = _health()
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/json")
    assert "no-store" in response["Cache-Control"]
    body = response.json()
    assert body["status"] == "ok"
    assert {name: check["status"] for name, check in body["checks"].items()} == {
        "database": "ok",
        "cache": "ok",
        "broker": "ok",
    }


@pytest.fixture
def dead_broker(settings):
    from digest_site.celery import app

    previous = app.conf.broker_url
    settings.CELERY_BROKER_URL = app.conf.broker_url = _dead_url()
    yield
    app.conf.broker_url = previous


def test_cache_down_is_503_and_names_the_cache(settings):
    settings.CACHES = {
        "default": {"BACKEND": "recommender.cache.ResilientRedisCache", "LOCATION": _dead_url(), "KEY_PREFIX": "hz"}
    }
    response, elapsed = _health()
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert (checks["database"]["status"], checks["cache"]["status"], checks["broker"]["status"]) == ("ok", "down", "ok")
    assert elapsed < 3, elapsed


def test_broker_down_is_503_and_names_the_broker(dead_broker):
    response, elapsed = _health()
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert (checks["database"]["status"], checks["cache"]["status"], checks["broker"]["status"]) == ("ok", "ok", "down")
    assert elapsed < 3, elapsed


def test_no_secret_or_address_leaks_and_no_login_needed(settings, dead_broker):
    secret_url = f"redis://:s3cret-pass@127.0.0.1:{embedded_redis.free_port()}/0"
    settings.CACHES = {"default": {"BACKEND": "recommender.cache.ResilientRedisCache", "LOCATION": secret_url}}
    response, _ = _health()
    assert response.status_code == 503
    text = response.content.decode()
    assert "s3cret" not in text and "127.0.0.1" not in text


def test_a_local_memory_cache_is_reported_as_such(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    response, _ = _health()
    assert response.status_code == 200
    assert response.json()["checks"]["cache"]["status"] == "ok"
