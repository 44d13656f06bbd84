"""Smoke evaluation on real data (CiteULike abstracts subset), skipped without it."""

from __future__ import annotations

import io
import json

import pytest

from recommender.ranking import evaluation
from recommender.ranking.datasets import load_dataset

pytestmark = pytest.mark.slow


def test_loader_reads_all_content_kinds(abstracts_dir):
    raw = load_dataset(abstracts_dir, content="raw")
    mult = load_dataset(abstracts_dir, content="mult")
    assert raw.n_items == mult.n_items == 1929
    assert raw.interactions.shape[0] == 50  # 50 lines (the README says 49)
    assert mult.vocabulary is not None and len(mult.vocabulary) == 8000
    assert mult.content.shape == (1929, 8000)


@pytest.mark.parametrize("protocol", ["cold", "digest"])
def test_smoke_evaluation_ours_beats_random(abstracts_dir, protocol):
    out = io.StringIO()
    parser = evaluation.build_parser()
    args = parser.parse_args(
        ["--data-dir", str(abstracts_dir), "--protocol", protocol, "--json", "--methods", "random,ours"]
        + ["--tune-budget", "1"]
    )
    assert evaluation.run_from_args(args, out) == 0
    report = json.loads(out.getvalue().strip().splitlines()[-1])
    assert report["protocol"] == protocol
    by = {r["method"]: r for r in report["results"]}
    key = "recall@50" if protocol == "cold" else "recall@10"
    assert by["ours"][key] > 2 * by["random"][key]
    assert by["ours"]["split"] == protocol


def test_bag_of_words_path_validates_and_beats_random(abstracts_dir):
    """mult.dat (+ the sibling vocabulary) goes through the counts path, with inner validation."""
    out = io.StringIO()
    args = evaluation.build_parser().parse_args(
        [
            "--data-dir",
            str(abstracts_dir),
            "--protocol",
            "cold",
            "--json",
            "--methods",
            "random,ours",
            "--content",
            "mult",
            "--tune-budget",
            "1",
        ]
    )
    assert evaluation.run_from_args(args, out) == 0
    report = json.loads(out.getvalue().strip().splitlines()[-1])
    assert report["content"] == "mult"
    by = {r["method"]: r for r in report["results"]}
    assert by["ours"]["recall@50"] > 1.5 * by["random"]["recall@50"]
    assert by["ours"]["blend_source"] == ["validation", "validation"]


@pytest.mark.slow
def test_every_method_tuned_on_real_data_with_intervals(abstracts_dir):
    """All methods, a budget of 2, the cold protocol: rows, tuning provenance, intervals, JSON last."""
    out = io.StringIO()
    args = evaluation.build_parser().parse_args(
        ["--data-dir", str(abstracts_dir), "--protocol", "cold", "--json", "--tune-budget", "2", "--tune-users", "30"]
    )
    assert evaluation.run_from_args(args, out) == 0
    report = json.loads(out.getvalue().strip().splitlines()[-1])
    by = {r["method"]: r for r in report["results"]}
    assert set(by) == set(evaluation.METHODS) - evaluation.WARM_ONLY
    for name, row in by.items():
        assert row["n_users"] == by["ours"]["n_users"] and "sampled" not in row
        assert row["tuning"].startswith(("validation", "defaults"))
        if name != "ours":
            assert row["d_recall@50_lo"] <= row["d_recall@50"] <= row["d_recall@50_hi"]
    assert by["itemknn-cbf"]["configs"] == 2 and by["random"]["configs"] == 1
    assert by["ours"]["recall@50"] > 1.5 * by["random"]["recall@50"]
