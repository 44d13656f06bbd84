"""Shared fixtures for the ranking tests: a small synthetic world and the data path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from recommender.ranking.synthetic import make_synthetic

REPO = Path(__file__).resolve().parents[2]


def shared_data_dir() -> Path:
    """<repo>/../shared/data, overridable with PAPERBOY_SHARED_DATA."""
    return Path(os.environ.get("PAPERBOY_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def world():
    return make_synthetic(n_users=120, n_items=400, n_topics=8, seed=3)


@pytest.fixture(scope="session")
def abstracts_dir() -> Path:
    d = shared_data_dir() / "citeulike-a-abstracts-subset"
    if not (d / "users.dat").exists():
        pytest.skip(f"real data not available at {d} (set PAPERBOY_SHARED_DATA)")
    return d
