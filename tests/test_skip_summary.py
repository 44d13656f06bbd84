"""``make test`` on a fresh clone (no ../shared/data, maybe no Chromium) ends by saying how many tests
skipped and why, one line per reason, and where the README says how to get what they need."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_the_summary_counts_skips_by_reason_on_a_clone_without_shared_data(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "DATABASE_URL", "REDIS_URL")}
    env["PAPERBOY_SHARED_DATA"] = str(tmp_path / "absent")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/papers/test_search_relevance.py"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = result.stdout
    assert result.returncode == 0, out[-3000:]
    summary = out.split("skipped tests by reason", 1)[1]
    line = re.search(r"^\s*(\d+) × shared data folder (\S+) is absent.*$", summary, re.M)
    assert line, summary
    assert int(line.group(1)) == 5 and line.group(2) == str(tmp_path / "absent")
    assert "README.md" in summary and "Tests that need" in summary
