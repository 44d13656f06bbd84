"""The anonymous page cache holds one entry per distinct page, however the query string is dressed up.

Before: the key was the raw full path, so ``/?utm=<random>`` stored a new ~95 KB body per URL
and Redis grew without bound. The key (and the body cached under it) now come from the
parameters each view reads, canonicalised.
"""

from __future__ import annotations

import os
import secrets

import pytest
import redis
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def page_keys(redis_url):
    """The anonymous page-cache keys this test process holds in the session's Redis."""
    client = redis.Redis.from_url(redis_url.rsplit("/", 1)[0] + "/1")
    pattern = f"paperboy-test-{os.getpid()}:*web:page:*"
    return lambda: sorted(client.keys(pattern))


@pytest.mark.parametrize("path", ["/", "/trending/", "/search/?q=attention", "/papers/{id}/"])
def test_random_unknown_parameters_share_one_cache_key(corpus, page_keys, path):
    path = path.format(id=corpus["attention"].arxiv_id)
    sep = "&" if "?" in path else "?"
    client = Client()
    first_junk = secrets.token_hex(8)
    assert client.get(f"{path}{sep}utm_source={first_junk}").status_code == 200
    assert len(page_keys()) == 1
    for _ in range(50):
        junk = secrets.token_hex(8)
        assert client.get(f"{path}{sep}utm_source={junk}&fbclid={junk}&{junk}=1").status_code == 200
    assert len(page_keys()) == 1
    # The body cached by the first visitor does not carry its tracking junk into everyone's page.
    assert first_junk not in client.get(path).content.decode()


def test_equivalent_queries_share_a_key_and_distinct_pages_do_not(corpus, page_keys):
    client = Client()
    same = [
        "/?category=cs.LG",
        "/?category=cs.LG&page=1x",  # not a page number: page 1, as the paginator reads it
        "/?utm=1&category=cs.LG",
        "/?category=cs.CL&category=cs.LG",  # the view reads the last value
        "/?category=cs.LG&day=not-a-day",  # an unreadable day falls back to the latest, as no day does
    ]
    for url in same:
        assert client.get(url).status_code == 200
    assert len(page_keys()) == 1
    for url in ["/?category=cs.CL", "/?category=cs.LG&day=2026-11-18", "/trending/?category=cs.LG"]:
        assert client.get(url).status_code == 200
    assert len(page_keys()) == 4


def test_page_numbers_are_canonical_and_bounded(corpus, page_keys):
    client = Client()
    for n in ["99999999999999999999", "123456789", "10001", "-1", "-999999", "0"]:
        assert client.get(f"/trending/?page={n}").status_code == 200
    # Every huge page number is one key; every non-positive one another (the paginator shows the last page for both).
    assert len(page_keys()) <= 2
