"""Artifacts already stored in a database keep loading and ranking as they did when written.

The fixtures (``fixtures/hybrid-v{1,2,3}.npz``) were written by the code of each format's era (see
``fixtures/make_artifacts.py``), with what they ranked for one fold-in request. Any change to the ranking
core that alters a stored model's ranking, or stops an old format from loading, fails here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recommender.ranking import HybridRecommender
from recommender.ranking.artifact import artifact_pack, artifact_unpack, load_arrays

from .fixtures.make_artifacts import request, world_small

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="module")
def expected():
    return load_arrays((FIXTURES / "hybrid-expected.npz").read_bytes())


@pytest.mark.parametrize("version", ["v1", "v2", "v3"])
def test_stored_artifact_loads_and_ranks_as_when_written(version, expected):
    model = HybridRecommender.from_bytes((FIXTURES / f"hybrid-{version}.npz").read_bytes())
    req = request(world_small())
    ids, scores, reasons = model.recommend_for_rows(req.pop("user_rows"), req.pop("candidates"), **req)
    np.testing.assert_array_equal(ids, expected[f"{version}_ids"])
    np.testing.assert_allclose(scores, expected[f"{version}_scores"], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(reasons, expected[f"{version}_reasons"])


def test_served_artifact_carries_its_id_maps():
    """The database artifact is the model plus the Django ids of its rows and columns."""
    model = HybridRecommender.from_bytes((FIXTURES / "hybrid-v3.npz").read_bytes())
    users = np.arange(100, 100 + model.n_users_)
    papers = np.arange(5000, 5000 + model.n_items_)
    loaded, user_ids, paper_ids = artifact_unpack(artifact_pack(model, user_ids=users, paper_ids=papers))
    np.testing.assert_array_equal(user_ids, users)
    np.testing.assert_array_equal(paper_ids, papers)
    assert loaded.get_params() == model.get_params()
