"""Artifacts already stored in a database keep loading and ranking as they did when written.

The fixtures (``fixtures/hybrid-v{1,2,3,4}.npz``) were written by the code of each format's era (see
``fixtures/make_artifacts.py``), with what they rank for one fold-in request. Any change to the ranking
core that alters a stored model's ranking, or stops an old format from loading, fails here. v1-v3 carry
the popularity term (a fourth blend column, a ``popularity_weight`` parameter) that v4 removed: they load
without it and rank exactly as the code that wrote them did with that term's weight at 0.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recommender.ranking import HybridRecommender
from recommender.ranking.artifact import FORMAT, READABLE_FORMATS, artifact_pack, artifact_unpack, load_arrays
from recommender.ranking.blend import TERMS
from recommender.ranking.evaluation import ablation_methods

from .fixtures.make_artifacts import request, world_small

FIXTURES = Path(__file__).resolve().parent / "fixtures"
VERSIONS = ["v1", "v2", "v3", "v4"]


@pytest.fixture(scope="module")
def expected():
    return load_arrays((FIXTURES / "hybrid-expected.npz").read_bytes())


def _stored(version: str) -> bytes:
    return (FIXTURES / f"hybrid-{version}.npz").read_bytes()


@pytest.mark.parametrize("version", VERSIONS)
def test_stored_artifact_loads_and_ranks_as_when_written(version, expected):
    model = HybridRecommender.from_bytes(_stored(version))
    req = request(world_small())
    ids, scores, reasons = model.recommend_for_rows(req.pop("user_rows"), req.pop("candidates"), **req)
    np.testing.assert_array_equal(ids, expected[f"{version}_ids"])
    np.testing.assert_allclose(scores, expected[f"{version}_scores"], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(reasons, expected[f"{version}_reasons"])


def test_the_blend_has_three_terms_and_no_popularity_anywhere():
    """v4 is knn, centroid, cf: no popularity weight to set, store or ablate."""
    assert FORMAT == "paperboy-hybrid-v4" and READABLE_FORMATS[-1] == FORMAT
    assert TERMS == ("knn", "centroid", "cf")
    assert "popularity_weight" not in HybridRecommender().get_params()
    assert not any("popularity" in m for m in ablation_methods())
    stored = load_arrays(_stored("v4"))
    assert str(stored["format"]) == FORMAT and stored["blend"].shape == (2, 3)
    assert "popularity_weight" not in str(stored["params"])


@pytest.mark.parametrize("version", ["v1", "v2", "v3"])
def test_an_old_artifact_drops_the_popularity_term_when_it_loads(version):
    """A stored ``popularity_weight`` is ignored and a stored fourth blend column dropped; the other weights
    (validated or defaults) are kept as stored."""
    arrays = load_arrays(_stored(version))
    assert "popularity_weight" in str(arrays["params"])
    model = HybridRecommender.from_bytes(_stored(version))
    assert model.blend_.shape == (2, 3)
    if "blend" in arrays:
        assert arrays["blend"].shape == (2, 4) and arrays["blend"][:, 3].any()
        np.testing.assert_array_equal(model.blend_, arrays["blend"][:, :3])
    resaved = load_arrays(model.to_bytes())
    assert str(resaved["format"]) == FORMAT and "popularity_weight" not in str(resaved["params"])


def test_served_artifact_carries_its_id_maps():
    """The database artifact is the model plus the Django ids of its rows and columns."""
    model = HybridRecommender.from_bytes(_stored("v4"))
    users = np.arange(100, 100 + model.n_users_)
    papers = np.arange(5000, 5000 + model.n_items_)
    loaded, user_ids, paper_ids = artifact_unpack(artifact_pack(model, user_ids=users, paper_ids=papers))
    np.testing.assert_array_equal(user_ids, users)
    np.testing.assert_array_equal(paper_ids, papers)
    assert loaded.get_params() == model.get_params()
