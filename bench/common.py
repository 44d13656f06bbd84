"""Helpers for bench/digest.py: a scratch PostgreSQL database, COPY inserts, an SMTP sink,
Celery worker subprocesses and a memory sampler.

They live outside the application on purpose: nothing here is imported by
the service, and everything starts real processes (PostgreSQL, Redis,
Postfix's ``smtp-sink``, ``celery worker``) so that the figures are those of
the deployed pipeline, not of an in-process imitation.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = REPO / ".venv" / "bin" / "python"
CELERY = REPO / ".venv" / "bin" / "celery"


# --- PostgreSQL ---------------------------------------------------------------------


def django_env(*, database_url: str, redis_url: str, name: str) -> dict[str, str]:
    """The environment a benchmark's Django processes run with: production settings (no debug, persistent
    database connections), a scratch database and Redis DB of its own, a secret of its own."""
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DEBUG": "0",
        "SECRET_KEY": f"bench-{name}-" + "x" * 40,
        "ALLOWED_HOSTS": "localhost,127.0.0.1",
        "SITE_URL": "https://paperboy.example.org",
        "LOG_LEVEL": "WARNING",
        "CONN_MAX_AGE": "600",
        "DJANGO_SETTINGS_MODULE": "digest_site.settings",
    }


def pg_recreate(server_url: str, name: str) -> str:
    """Drop and create database ``name`` on ``server_url``; return its URL."""
    import psycopg

    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server_url}/{name}"


def pg_drop(server_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def copy_rows(model, rows: list[dict]) -> None:
    """Insert ``rows`` (attname -> value) into ``model``'s table with one COPY; model defaults fill the rest."""
    from django.db import connection
    from django.db.models import JSONField
    from django.utils import timezone

    now = timezone.now()
    fields = [f for f in model._meta.concrete_fields if not f.primary_key and not f.generated]
    columns = ", ".join(f'"{f.column}"' for f in fields)
    connection.ensure_connection()
    with (
        connection.connection.cursor() as cur,
        cur.copy(f'COPY "{model._meta.db_table}" ({columns}) FROM STDIN') as copy,
    ):
        for row in rows:
            values = []
            for f in fields:
                if f.attname in row:
                    value = row[f.attname]
                elif getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                    value = now
                elif f.has_default():
                    value = f.get_default()
                else:
                    value = None if f.null else ""
                if isinstance(f, JSONField):
                    value = json.dumps(value)
                values.append(value)
            copy.write_row(values)


# --- processes ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _unbuffered() -> list[str]:
    return ["stdbuf", "-o0"] if shutil.which("stdbuf") else []


class SmtpSink:
    """Postfix's ``smtp-sink``: accepts and discards mail, printing running counters (``-c``)."""

    def __init__(self, log_dir: Path):
        self.port = free_port()
        self.log = log_dir / f"smtp-sink-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    @staticmethod
    def available() -> str | None:
        return shutil.which("smtp-sink") or (os.path.exists("/usr/sbin/smtp-sink") and "/usr/sbin/smtp-sink") or None

    def start(self) -> SmtpSink:
        binary = self.available()
        if not binary:
            raise RuntimeError("smtp-sink not found (apt-get install postfix)")
        self.proc = subprocess.Popen(
            # stdbuf: smtp-sink's counters go to a file, unbuffered, so they can be read while it runs.
            [*_unbuffered(), binary, "-c", "-u", "nobody", f"127.0.0.1:{self.port}", "256"],
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("smtp-sink did not start")

    def messages(self) -> int:
        """Messages received so far (smtp-sink's running ``mesg=`` counter)."""
        counts = re.findall(rb"mesg=(\d+)", self.log.read_bytes())
        return int(counts[-1]) if counts else 0

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


class CeleryWorker:
    """``celery -A digest_site worker -P prefork --concurrency N`` as a subprocess on ``queues`` (``send``)."""

    def __init__(self, env: dict, concurrency: int, log_dir: Path, name: str, queues: str = "send"):
        self.env = env
        self.queues = queues
        self.concurrency = concurrency
        self.log = log_dir / f"worker-{name}.log"
        self.name = name
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> CeleryWorker:
        cmd = [
            str(CELERY),
            "-A",
            "digest_site",
            "worker",
            "-Q",
            self.queues,
            "-P",
            "prefork",
            "--concurrency",
            str(self.concurrency),
            "--loglevel",
            "INFO",
            "-n",
            f"{self.name}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        self.proc = subprocess.Popen(
            cmd, cwd=REPO, env=self.env, stdout=self.log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log.read_text()[-3000:]}")
            if b" ready." in self.log.read_bytes():
                return self
            time.sleep(0.1)
        raise RuntimeError(f"worker not ready after {timeout}s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # warm shutdown
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


class RssSampler(threading.Thread):
    """Samples the RSS of a process tree every ``interval`` s; keeps each process's peak."""

    def __init__(self, pid: int, interval: float = 0.2, also: dict[str, object] | None = None):
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.peaks: dict[int, int] = {}
        self.roles: dict[int, str] = {}
        self.cpu: dict[int, float] = {}  # latest user+system seconds per process of the tree
        # Other processes whose CPU is part of the work: name -> callable returning their pids.
        self.also = also or {}
        self.also_cpu: dict[str, dict[int, float]] = {name: {} for name in self.also}
        self.also_start: dict[str, dict[int, float]] = {name: {} for name in self.also}
        self._halt = threading.Event()

    def run(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self._halt.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            for p in procs:
                try:
                    rss = p.memory_info().rss
                    times = p.cpu_times()
                except psutil.Error:
                    continue
                self.peaks[p.pid] = max(self.peaks.get(p.pid, 0), rss)
                self.cpu[p.pid] = times.user + times.system
                self.roles.setdefault(p.pid, "main" if p.pid == self.pid else "child")
            for name, pids in self.also.items():
                for pid in pids():
                    try:
                        times = psutil.Process(pid).cpu_times()
                    except psutil.Error:
                        continue
                    self.also_start[name].setdefault(pid, times.user + times.system)
                    self.also_cpu[name][pid] = times.user + times.system
            self._halt.wait(self.interval)

    def stop(self) -> dict:
        self._halt.set()
        self.join(5)
        children = [v for pid, v in self.peaks.items() if self.roles.get(pid) == "child"]
        main = [v for pid, v in self.peaks.items() if self.roles.get(pid) == "main"]
        mb = 1024 * 1024
        others = {
            f"cpu_s_{name}": round(sum(v - self.also_start[name].get(pid, v) for pid, v in cpu.items()), 2)
            for name, cpu in self.also_cpu.items()
        }
        return {
            "peak_rss_mb_child": round(max(children, default=0) / mb, 1),
            "peak_rss_mb_main": round(max(main, default=0) / mb, 1),
            "cpu_s_workers": round(sum(self.cpu.values()), 2),
            **others,
        }


def postgres_backends(database: str):
    """A callable listing the pids of PostgreSQL backends serving ``database`` (for CPU accounting)."""
    import psutil

    def pids() -> list[int]:
        found = []
        for p in psutil.process_iter(["name", "cmdline"]):
            cmd = " ".join(p.info.get("cmdline") or [])
            if cmd.startswith("postgres:") and f" {database} " in f"{cmd} ":
                found.append(p.pid)
        return found

    return pids


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(q / 100 * (len(values) - 1))))
    return values[k]
