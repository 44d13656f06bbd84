"""The evaluate command's edges: a table for any mix of rows, one-line errors for a wrong folder."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from recommender.ranking import evaluation

ROWS = [
    # ``ours`` first: its rows carry list-valued fields that once crashed the table.
    {"split": "P10", "method": "ours", "recall@50": 0.3, "blend": [[1.0, 0.5]], "blend_source": ["validation"]},
    {"split": "P10", "method": "random", "recall@50": 0.01, "recall@100": 0.02},
]


def test_table_shows_numeric_columns_of_every_row_whatever_comes_first():
    for rows in (ROWS, ROWS[::-1]):
        table = evaluation.format_table(rows)
        header = table.splitlines()[0]
        assert "recall@50" in header and "recall@100" in header
        assert "blend" not in header
        assert len(table.splitlines()) == 2 + len(rows)


def test_json_is_the_last_line_even_with_ours_first(monkeypatch):
    report = {"protocol": "warm", "dataset": "x", "content": "titles", "results": ROWS}
    monkeypatch.setattr(evaluation, "run", lambda *a, **k: report)
    args = evaluation.build_parser().parse_args(["--data-dir", "x", "--protocol", "warm", "--json"])
    out = io.StringIO()
    assert evaluation.run_from_args(args, out) == 0
    assert json.loads(out.getvalue().strip().splitlines()[-1]) == report


@pytest.mark.parametrize("layout", ["missing", "empty", "no-content"])
def test_a_folder_without_the_dataset_is_one_line_that_names_the_layout(tmp_path, layout):
    folder = tmp_path / "citeulike-a"
    if layout != "missing":
        folder.mkdir()
    if layout == "no-content":
        (folder / "users.dat").write_text("1 0\n")
    with pytest.raises(CommandError) as err:
        call_command("evaluate", "--data-dir", str(folder), "--protocol", "warm", stdout=io.StringIO())
    message = str(err.value)
    assert "\n" not in message and "users.dat" in message and "titles.txt" in message
    assert evaluation.main(["--data-dir", str(folder), "--protocol", "warm"], out=io.StringIO()) == 2
