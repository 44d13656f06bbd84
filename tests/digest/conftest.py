"""Fixtures for digest tests: community favourites from last week (``papers_today`` is in tests/conftest.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.factories import make_paper


@pytest.fixture
def trending_old():
    """Community favourites announced a week ago (not new, but trending)."""
    day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=6)
    return [make_paper(category="cs.LG", announced_on=day, hf_upvotes=90, trending_score=5.0 + i) for i in range(2)]
