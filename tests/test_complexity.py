"""Every function outside the ranking core stays at cyclomatic complexity 10 or below (issue 20 item 6).

``make lint`` enforces it through pyproject's ruff configuration (``C901`` at ``max-complexity = 10``, the ranking
core, tests, benchmarks and migrations exempt); this test keeps that configuration and runs it.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_checks_complexity_at_10_outside_the_ranking_core():
    lint = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]["lint"]
    assert "C901" in lint["select"]
    assert lint["mccabe"]["max-complexity"] == 10
    assert "C901" in lint["per-file-ignores"]["recommender/ranking/**"]


def test_no_function_outside_the_ranking_core_is_over_10():
    ruff = Path(sys.executable).with_name("ruff")
    out = subprocess.run(
        [str(ruff), "check", "--select", "C901", "--output-format", "concise", "recommender", "digest_site"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout
