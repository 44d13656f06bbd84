"""Fixtures for admin tests: a staff operator, a plain subscriber client, papers and subscribers with a digest."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from tests.factories import make_paper, make_subscriber, preferences_set

UTC = dt.UTC


@pytest.fixture
def operator(db):
    User = get_user_model()
    return User.objects.create_superuser(username="operator", email="operator@lab.example", password="s3cret-pass-42")


@pytest.fixture
def staff_client(client, operator):
    client.force_login(operator)
    return client


@pytest.fixture
def member_client(client, db):
    """A logged-in subscriber who is not staff."""
    user = make_subscriber("member@example.org", password="member-pass-42")
    client.force_login(user)
    return client


def subscriber(email: str, **prefs):
    user = make_subscriber(email)
    prefs.setdefault("categories", ["cs.LG"])
    preferences_set(user, **prefs)
    user.refresh_from_db()
    return user


@pytest.fixture
def papers_today(db):
    today = dt.datetime.now(UTC).date()
    return [
        make_paper(category="cs.LG", announced_on=today, hf_upvotes=10 - i, trending_score=1.0 - i / 10)
        for i in range(4)
    ]


def queued_tasks(redis_url: str, queue: str) -> list[dict]:
    """Task messages waiting in a Celery queue on Redis: [{"task": name, "kwargs": {...}}, ...]."""
    import redis

    client = redis.Redis.from_url(redis_url)
    out = []
    for raw in client.lrange(queue, 0, -1):
        message = json.loads(raw)
        body = message["body"]
        if message.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args, kwargs, _embed = json.loads(body)
        out.append({"task": message["headers"]["task"], "args": args, "kwargs": kwargs})
    return out


@pytest.fixture
def empty_queues(redis_url):
    import redis

    client = redis.Redis.from_url(redis_url)
    for queue in ("default", "ingest", "train", "send"):
        client.delete(queue)
    yield
    for queue in ("default", "ingest", "train", "send"):
        client.delete(queue)


def now():
    return timezone.now()
