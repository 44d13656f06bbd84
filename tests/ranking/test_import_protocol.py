"""The offline ``import`` protocol: titles-only BibTeX through the real parser and matcher, vs warm P10."""

from __future__ import annotations

import json
import random

import pytest

from recommender.ranking import evaluation
from recommender.ranking.datasets import load_dataset
from recommender.ranking.import_protocol import import_rows


@pytest.mark.slow
def test_citeulike_titles_import_recovers_the_libraries(shared_data):
    ds = load_dataset(shared_data / "citeulike-a")
    train, _ = ds.splits["P10"]
    matrix, stats = import_rows(ds.content, train)
    assert stats["entries"] == train.nnz
    assert stats["wrong"] == 0  # never another paper
    assert stats["matched"] / stats["entries"] >= 0.995, stats
    assert matrix.nnz == stats["matched"]


def test_import_protocol_runs_from_the_command_line(tmp_path, capsys):
    rng = random.Random(0)
    words = ["graph", "neural", "attention", "sparse", "bayesian", "kernel", "quantum", "robust", "causal", "spectral"]
    titles = [" ".join(rng.choice(words) for _ in range(6)) + f" {i}" for i in range(80)]
    (tmp_path / "titles.txt").write_text("\n".join(titles) + "\n")
    users = [sorted(rng.sample(range(80), 14)) for _ in range(30)]
    (tmp_path / "users.dat").write_text("".join(f"{len(u)} {' '.join(map(str, u))}\n" for u in users))
    code = evaluation.main(
        ["--data-dir", str(tmp_path), "--protocol", "import", "--methods", "popular", "--tune-budget", "1", "--json"]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    rows = {r["split"]: r for r in report["results"]}
    assert set(rows) == {"P10", "P10-import"}
    assert rows["P10-import"]["match_wrong"] == 0 and rows["P10-import"]["match_matched"] == 300
    assert rows["P10-import"]["recall@50"] == rows["P10"]["recall@50"]
