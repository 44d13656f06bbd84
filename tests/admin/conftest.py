"""Helpers for admin tests: the Celery queues on Redis (``staff_client``, ``member_client`` and ``papers_today`` are in
tests/conftest.py)."""

from __future__ import annotations

import base64
import json

import pytest


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
