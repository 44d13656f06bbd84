"""Tuned baselines: the bootstrap, the budget, and tuning that never sees the test split."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.ranking import evaluation, tuning
from recommender.ranking.baselines import EASE, PopularRanker
from recommender.ranking.bootstrap import paired_bootstrap
from recommender.ranking.datasets import Dataset, make_p_split


def test_bootstrap_interval_excludes_zero_for_a_real_difference():
    rng = np.random.default_rng(0)
    b = rng.random(400)
    a = b + 0.05 + rng.normal(0, 0.02, 400)
    d, lo, hi = paired_bootstrap(a, b)
    assert lo > 0 and lo < d < hi and d == pytest.approx(np.mean(a - b))
    assert paired_bootstrap(a, b) == (d, lo, hi), "fixed seed: the same interval every time"


def test_bootstrap_of_identical_scores_is_zero():
    a = np.random.default_rng(1).random(100)
    assert paired_bootstrap(a, a.copy()) == (0.0, 0.0, 0.0)


def test_bootstrap_resamples_whole_groups():
    """Digest: one observation per (user, day); the interval is over users, the mean over observations."""
    a = np.array([1.0, 1.0, 1.0, 0.0])
    b = np.zeros(4)
    groups = np.array([7, 7, 7, 9])
    d, lo, hi = paired_bootstrap(a, b, groups, n_resamples=2000)
    assert d == pytest.approx(0.75)
    # a resample holds user 7 (3 observations) and/or user 9 (1): means 1, 0, 0.75 only
    assert lo == pytest.approx(0.0) and hi == pytest.approx(1.0)
    with pytest.raises(ValueError):
        paired_bootstrap(a, b[:3])


def test_configurations_start_with_the_defaults_and_respect_the_budget():
    space = tuning.SPACES["rp3beta"]
    configs = tuning.configurations(space, 6, seed=0)
    assert configs[0] == {} and len(configs) == 6
    assert len({tuple(sorted(c.items())) for c in configs}) == 6
    assert configs == tuning.configurations(space, 6, seed=0)
    assert tuning.configurations({}, 8) == [{}]
    assert len(tuning.configurations({"C": (1, 2)}, 8)) == 3, "a small grid is tried whole, defaults first"
    for name in evaluation.METHODS:
        for params in tuning.configurations(tuning.SPACES[name], 4):
            evaluation.make_ranker(name, 0, **params)  # every grid point is a constructor argument


def test_ease_woodbury_equals_the_item_item_solution():
    """Fewer users than items: the users x users solve gives the same scores as inverting X'X + l2 I."""
    rng = np.random.default_rng(2)
    for shape in [(30, 80), (80, 30)]:
        X = sp.csr_matrix((rng.random(shape) < 0.1).astype(np.float32))
        got = EASE(l2=3.0).fit(X, None)._scores(np.arange(shape[0]), np.arange(shape[1]), None)
        D = X.toarray().astype(np.float64)
        items = np.flatnonzero(D.sum(axis=0) > 0)
        P = np.linalg.inv(D[:, items].T @ D[:, items] + 3.0 * np.eye(len(items)))
        B = -P / np.diag(P)
        np.fill_diagonal(B, 0.0)
        want = np.zeros(shape)
        want[:, items] = D[:, items] @ B
        np.testing.assert_allclose(got, want, atol=1e-4)


class Recorder(PopularRanker):
    """Popularity that remembers every matrix and content it was fitted on (class-level log)."""

    fits: list = []

    def __init__(self, knob: int = 0) -> None:
        self.knob = knob

    def fit(self, interactions, item_content, *, negatives=None):
        Recorder.fits.append((sp.csr_matrix(interactions).copy(), list(item_content), self.knob))
        return super().fit(interactions, item_content)


@pytest.fixture
def recorder(monkeypatch):
    Recorder.fits = []
    monkeypatch.setitem(evaluation._FACTORIES, "recorder", Recorder)
    monkeypatch.setitem(tuning.SPACES, "recorder", {"knob": (1, 2, 3, 4, 5)})
    return Recorder


def _dataset(world) -> Dataset:
    texts = [f"{t} item{i}" for i, t in enumerate(world.texts)]  # unique texts: provenance is checkable
    return Dataset("synthetic", world.interactions.tocsr(), texts, "raw")


def _subset(small: sp.csr_matrix, big: sp.csr_matrix) -> bool:
    return (small - small.multiply(big)).nnz == 0


def test_warm_tuning_never_fits_on_the_test_split(recorder, world):
    ds = _dataset(world)
    train, test = make_p_split(ds.interactions, 10, seed=0)
    ds.splits = {"P10": (train, test)}
    cfg = evaluation.Settings(tune_budget=4, log=lambda msg: None)
    rows = evaluation.evaluate_warm(ds, ["recorder"], cfg)
    assert [r["configs"] for r in rows] == [4]
    *tuning_fits, final = recorder.fits
    assert len(tuning_fits) == 4 and [k for *_, k in tuning_fits][0] == 0, "defaults first"
    for X, _, _ in tuning_fits:
        assert X.multiply(test).nnz == 0, "a tuning fit saw test interactions"
        assert _subset(X, train) and X.nnz < train.nnz, "tuning fits on training data with some of it held out"
    assert (final[0] != train).nnz == 0 and final[2] == rows[0]["params"].get("knob", 0)


def test_cold_tuning_never_sees_the_held_out_papers(recorder, world):
    ds = _dataset(world)
    cfg = evaluation.Settings(tune_budget=3, log=lambda msg: None)
    evaluation.evaluate_cold(ds, ["recorder"], cfg)
    *tuning_fits, final = recorder.fits
    train_texts = set(final[1])
    held_texts = set(ds.content) - train_texts
    assert held_texts and len(tuning_fits) == 3
    for X, texts, _ in tuning_fits:
        assert set(texts) < train_texts and not set(texts) & held_texts
        assert X.shape == (ds.n_users, len(texts))


def test_p1_keeps_the_defaults_and_says_why(world):
    ds = _dataset(world)
    ds.splits = {"P1": make_p_split(ds.interactions, 1, seed=0)}
    rows = evaluation.evaluate_warm(ds, ["itemknn-cf"], evaluation.Settings(tune_budget=4, log=lambda m: None))
    assert rows[0]["params"] == {} and rows[0]["tuning"].startswith("defaults")


@pytest.mark.slow
def test_every_row_has_a_paired_interval_against_ours(world):
    ds = _dataset(world)
    ds.splits = {"P10": make_p_split(ds.interactions, 10, seed=0)}
    cfg = evaluation.Settings(tune_budget=1, log=lambda m: None)
    rows = evaluation.evaluate_warm(ds, ["random", "ours", "ours-no-cf"], cfg)
    by = {r["method"]: r for r in rows}
    assert "d_recall@50" not in by["ours"]
    for name in ("random", "ours-no-cf"):
        assert by[name]["d_recall@50_lo"] <= by[name]["d_recall@50"] <= by[name]["d_recall@50_hi"]
    assert by["random"]["d_recall@50_lo"] > 0
    assert by["ours-no-cf"]["tuning"] == "as ours" and by["ours-no-cf"]["n_users"] == by["ours"]["n_users"]
    table = evaluation.format_intervals(rows)
    assert "random" in table and "[" in table and "ours " not in table.splitlines()[2]


@pytest.mark.slow
def test_cold_and_digest_in_one_run_give_the_rows_of_two_runs(world):
    ds = _dataset(world)
    cfg = evaluation.Settings(tune_budget=2, log=lambda m: None)
    both = evaluation.evaluate_cold_digest(ds, ["random", "itemknn-cbf", "ours"], cfg)
    apart = evaluation.evaluate_cold(ds, ["random", "itemknn-cbf", "ours"], cfg)
    apart += evaluation.evaluate_digest(ds, ["random", "itemknn-cbf", "ours"], cfg)
    drop = ("fit_s", "rank_s", "tune_s")
    assert [{k: v for k, v in r.items() if k not in drop} for r in both] == [
        {k: v for k, v in r.items() if k not in drop} for r in apart
    ]
