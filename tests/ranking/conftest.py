"""Shared fixtures for the ranking tests: a small synthetic world, a model fitted on it, and the data path."""

from __future__ import annotations

from pathlib import Path

import pytest

from recommender.ranking import HybridRecommender
from recommender.ranking.synthetic import make_synthetic
from tests.conftest import service_unavailable
from tests.ranking.small import SMALL


@pytest.fixture(scope="session")
def world():
    return make_synthetic(n_users=120, n_items=400, n_topics=8, seed=3)


@pytest.fixture(scope="module")
def model(world):
    """A ``HybridRecommender`` fitted on ``world`` with the small settings (once per test module)."""
    return HybridRecommender(**SMALL).fit(world.interactions, world.texts)


@pytest.fixture(scope="session")
def abstracts_dir(shared_data) -> Path:
    """The CiteULike-a subset with abstracts (``../shared/data``): fails in CI, skips elsewhere, when absent."""
    d = shared_data / "citeulike-a-abstracts-subset"
    if not (d / "users.dat").exists():
        service_unavailable(f"real data not available at {d} (set PAPERBOY_SHARED_DATA)")
    return d
