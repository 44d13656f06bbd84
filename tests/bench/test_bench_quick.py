"""``bench/digest.py --quick`` and a small ``bench/plan.py`` run end to end: every subscriber once.

Correctness only (no timing): real Celery prefork workers, PostgreSQL, Redis
and Postfix's smtp-sink, as the benchmark runs them.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import service_unavailable

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def _reachable(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


def _run_bench(script: str, *args: str) -> dict:
    """Run ``bench/<script>`` with its own databases (none of the test run's); return its last JSON line."""
    if not _reachable("127.0.0.1", 5432):
        service_unavailable("PostgreSQL is not reachable at 127.0.0.1:5432")
    if not _reachable("127.0.0.1", 6379):
        service_unavailable("Redis is not reachable at 127.0.0.1:6379")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "EMAIL_URL")}
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / script), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_bench_digest_quick_delivers_exactly_one_message_per_subscriber():
    if not (shutil.which("smtp-sink") or Path("/usr/sbin/smtp-sink").exists()):
        service_unavailable("smtp-sink is not installed (apt-get install -y postfix, daemon left stopped)")
    summary = _run_bench("digest.py", "--quick")
    fast = [r for r in summary["rounds"] if not r["naive"]]
    assert fast, summary
    for r in summary["rounds"]:
        # Every subscriber got exactly one message: one delivery row each, all sent, and the
        # SMTP server received exactly that many messages.
        assert r["sent"] == r["subscribers"] > 0, r
        assert r["failed"] == 0 and r["skipped"] == 0, r
        assert r["received_by_smtp"] == r["sent"], r
        assert r["users_with_more_than_one_delivery"] == 0, r
    assert summary["naive_digests_per_s"] is not None


def test_bench_plan_plans_every_subscriber_once_on_the_real_plan_worker():
    summary = _run_bench("plan.py", "--subscribers", "300", "--papers", "200", "--chunk", "100")
    # Three chunk tasks on two plan processes: every subscriber one delivery, all planned, no paper twice.
    assert summary["deliveries"] == summary["planned"] == 300, summary
    assert summary["users_with_more_than_one_delivery"] == 0, summary
    assert summary["deliveries_with_a_paper_twice"] == 0, summary
    assert summary["plan_rows"] > 0 and summary["processes"] == 2, summary
