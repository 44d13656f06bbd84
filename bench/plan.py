"""Benchmark the digest's plan phase alone: open every due delivery, rank them in bulk, store the selections.

``bench/digest.py`` runs the plan worker beside four send processes, so its
plan time is shared with sending. This runs only the plan phase, on an
otherwise idle machine: the real ``celery -A digest_site worker -Q plan``
with ``--processes`` prefork processes (default 2, one per core) receives
the tick (``digest_tick``: reconcile, open one delivery per subscriber due,
one ``digest_plan_chunk`` task per chunk), and the clock runs from the tick
to the last stored selection. No send worker runs (the send tasks wait in
Redis and are dropped). Same data generator as ``bench/digest.py``
(Zipf-like popularity, ``--active`` of the subscribers with 20-50
interactions), a trained active model, PostgreSQL, Redis.

Reported: subscribers planned per second, CPU ms per digest of the plan
worker processes and of the PostgreSQL backends, the machine's CPU
utilisation over the run, peak RSS per plan process. ``--in-process`` runs
the same steps in this process instead, one after the other, each timed
(``load`` the model, ``open`` the due, ``plan`` every chunk): the
breakdown, and the process to attach ``py-spy`` to.

Checks after the run: every subscriber has exactly one delivery, all planned, and no delivery holds a paper
twice. Prints a table and, last, one JSON line. Seeding 100k subscribers and training takes ~4 minutes;
``--keep-db`` then ``--reuse`` runs again on the same data.

    .venv/bin/python bench/plan.py --subscribers 100000 --papers 1000
    .venv/bin/python bench/plan.py --subscribers 100000 --papers 1000 --keep-db   # then --reuse
    .venv/bin/py-spy record -f raw -o plan.txt -- .venv/bin/python bench/plan.py --reuse --in-process ...
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import CeleryWorker, RssSampler, django_env, pg_drop, postgres_backends  # noqa: E402

PG_SERVER = os.environ.get("BENCH_PG_SERVER", "postgres://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("BENCH_REDIS_SERVER", "redis://127.0.0.1:6379") + "/7"
DB_NAME = "paperboy_bench_plan"


def parse_args(argv=None):
    from bench.digest import data_arguments

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    data_arguments(ap)
    ap.add_argument("--chunk", type=int, default=None, help="DIGEST_PLAN_CHUNK (default: the setting's)")
    ap.add_argument("--processes", type=int, default=2, help="plan worker processes (default 2: one per core)")
    ap.add_argument("--in-process", action="store_true", help="run the steps in this process, each timed")
    ap.add_argument("--keep-db", action="store_true", help="do not drop the scratch database at the end")
    ap.add_argument("--reuse", action="store_true", help="use the kept database as it is (no seeding, no training)")
    return ap.parse_args(argv)


def _database(reuse: bool) -> str:
    """The scratch database's URL: kept from an earlier ``--keep-db`` run (``--reuse``), else created empty."""
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone()
        if not (reuse and exists):
            conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    return f"{PG_SERVER}/{DB_NAME}"


class Step:
    """Wall time, this process's CPU and the PostgreSQL backends' CPU of one step."""

    def __init__(self, pg_pids):
        self.pg_pids = pg_pids

    def _pg_cpu(self) -> float:
        import psutil

        total = 0.0
        for pid in self.pg_pids():
            try:
                cpu = psutil.Process(pid).cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += cpu.user + cpu.system
        return total

    def __enter__(self) -> Step:
        self.wall, self.cpu, self.pg = time.perf_counter(), time.process_time(), self._pg_cpu()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu
        self.pg = self._pg_cpu() - self.pg


def _seed(args) -> dict:
    from django.utils import timezone

    from bench.digest import papers_generate, users_generate
    from recommender.models import Interaction, Paper
    from recommender.training.services import model_train

    t = time.perf_counter()
    today = timezone.now().date()
    papers_generate(count_today=args.papers, history_days=args.history_days, today=today)
    users_generate(count=args.subscribers, active=args.active, today=today)
    seeded = time.perf_counter() - t
    t = time.perf_counter()
    model_train(activate="always")
    return {
        "seed_s": round(seeded, 1),
        "train_s": round(time.perf_counter() - t, 1),
        "papers_total": Paper.objects.count(),
        "interactions": Interaction.objects.count(),
    }


def _checks() -> dict:
    """Every subscriber planned exactly once; no delivery with a paper twice."""
    from django.db.models import Count

    from recommender.models import DeliveredPaper, DigestDelivery

    repeated = DeliveredPaper.objects.values("delivery_id", "paper_id").annotate(n=Count("id")).filter(n__gt=1).count()
    twice = DigestDelivery.objects.values("user_id").annotate(n=Count("id")).filter(n__gt=1).count()
    return {
        "deliveries": DigestDelivery.objects.count(),
        "planned": DigestDelivery.objects.filter(planned_at__isnull=False).count(),
        "plan_rows": DeliveredPaper.objects.count(),
        "users_with_more_than_one_delivery": twice,
        "deliveries_with_a_paper_twice": repeated,
    }


def _in_process(pg) -> dict:
    """The plan phase's steps in this process, one after the other, each timed."""
    from django.urls import reverse
    from django.utils import timezone

    from recommender.digest import planning, services
    from recommender.serving import warm_up

    steps = {}
    with Step(pg) as steps["load"]:  # what a plan worker does once, at start
        warm_up()
        reverse("web:preferences")  # the URL resolver, built on a process's first reverse()
    now = timezone.now()
    with Step(pg) as steps["open"]:
        services.deliveries_reconcile()
        opened = services.deliveries_open_due(now=now)
    with Step(pg) as steps["plan"]:
        planning.deliveries_plan(now=now)
    n = max(1, len(opened))
    wall = steps["open"].wall + steps["plan"].wall
    cpu = steps["open"].cpu + steps["plan"].cpu + steps["open"].pg + steps["plan"].pg
    return {
        "mode": "in-process",
        "processes": 1,
        "plan_s": round(wall, 2),
        "plan_digests_per_s": round(n / wall, 1),
        "steps": {
            name: {
                "wall_s": round(s.wall, 2),
                "cpu_ms_per_digest": round(1000 * s.cpu / n, 3),
                "pg_cpu_ms_per_digest": round(1000 * s.pg / n, 3),
            }
            for name, s in steps.items()
        },
        "plan_cpu_ms_per_digest": round(1000 * (steps["open"].cpu + steps["plan"].cpu) / n, 3),
        "pg_cpu_ms_per_digest": round(1000 * (steps["open"].pg + steps["plan"].pg) / n, 3),
        "machine_cpu_utilisation_pct": round(100 * cpu / (os.cpu_count() * wall), 1),
        "peak_rss_mb_plan_child": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def _chunks_done(log: str) -> bool:
    """Whether the tick has succeeded and as many ``digest_plan_chunk`` tasks as it enqueued have succeeded."""
    import re

    tick = re.search(r"digest_tick\[[^\]]+\] succeeded in [0-9.]+s: (\d+)", log)
    if tick is None:
        return False
    done = len(re.findall(r"digest_plan_chunk\[[^\]]+\] succeeded", log))
    return done >= int(tick.group(1))


def _with_worker(pg, *, processes: int, log_dir: Path) -> dict:
    """The tick sent to a real plan worker (``processes`` prefork processes); the clock stops at the last plan."""
    import redis
    from django.db.models import Max
    from django.utils import timezone

    from bench.digest import MachineCpu
    from recommender.digest.tasks import digest_tick
    from recommender.models import DigestDelivery, Profile

    redis.Redis.from_url(REDIS_URL).flushdb()
    worker = CeleryWorker({**os.environ}, processes, log_dir, name="plan", queues="plan").start()
    sampler = RssSampler(worker.proc.pid, also={"postgres": pg})
    sampler.start()
    try:
        time.sleep(0.5)  # one sample of the start-up CPU, left out; each process loads the model on its first chunk
        cpu_at_start = dict(sampler.cpu)
        now = timezone.now()
        expected = Profile.objects.filter(next_digest_at__lte=now).count()
        machine = MachineCpu().start()
        t0, started = time.perf_counter(), timezone.now()
        digest_tick.delay(now=now.isoformat())
        # Watch the worker's log, not the database: polling a 100k-row table costs PostgreSQL CPU the plan
        # would be charged for (measured: a quarter of the backends' CPU). The tick logs how many chunk tasks
        # it enqueued; the run is over when that many have succeeded.
        deadline = time.monotonic() + max(600, expected / 20)
        while time.monotonic() < deadline:
            if worker.proc.poll() is not None:
                raise RuntimeError(f"plan worker died: {worker.log.read_text()[-2000:]}")
            if _chunks_done(worker.log.read_text()):
                break
            time.sleep(0.5)
        else:
            raise RuntimeError(f"not planned in time: {worker.log.read_text()[-2000:]}")
        polled = time.perf_counter() - t0
        utilisation = machine.stop()
        memory = sampler.stop()
    finally:
        sampler.stop()
        worker.stop()
        redis.Redis.from_url(REDIS_URL).flushdb()  # the send tasks nobody runs
    last = DigestDelivery.objects.aggregate(last=Max("planned_at"))["last"]
    wall = (last - started).total_seconds() if last else polled
    cpu = sum(v - cpu_at_start.get(pid, 0.0) for pid, v in sampler.cpu.items())
    n = max(1, expected)
    return {
        "mode": "worker",
        "processes": processes,
        "plan_s": round(wall, 2),
        "plan_digests_per_s": round(n / wall, 1),
        "plan_cpu_ms_per_digest": round(1000 * cpu / n, 3),
        "pg_cpu_ms_per_digest": round(1000 * memory["cpu_s_postgres"] / n, 3),
        "machine_cpu_utilisation_pct": utilisation,
        "peak_rss_mb_plan_child": memory["peak_rss_mb_child"],
        "peak_rss_mb_plan_main": memory["peak_rss_mb_main"],
    }


def _print(figures: dict) -> None:
    print(f"Load average (1 min) at start: {figures['load_avg_1m_at_start']} on {os.cpu_count()} CPUs")
    print(
        f"Plan phase alone ({figures['mode']}, {figures['processes']} process(es)): {figures['deliveries']} "
        f"subscribers due, {figures['papers_today']} new papers, chunk {figures['chunk']}, "
        f"{figures['plan_rows']} plan rows"
    )
    print()
    if figures.get("steps"):
        print("| step | wall s | CPU ms/digest (this process) | PostgreSQL CPU ms/digest |")
        print("|---|---|---|---|")
        for name, s in figures["steps"].items():
            print(f"| {name} | {s['wall_s']} | {s['cpu_ms_per_digest']} | {s['pg_cpu_ms_per_digest']} |")
        print()
    print(
        "| plan s (tick to last plan) | digests/s | plan CPU ms/digest | PostgreSQL CPU ms/digest "
        "| machine CPU % | peak RSS MB per plan process |"
    )
    print("|---|---|---|---|---|---|")
    print(
        f"| {figures['plan_s']} | {figures['plan_digests_per_s']} | {figures['plan_cpu_ms_per_digest']} "
        f"| {figures['pg_cpu_ms_per_digest']} | {figures['machine_cpu_utilisation_pct']} "
        f"| {figures['peak_rss_mb_plan_child']} |"
    )
    print()
    print(
        f"users with more than one delivery {figures['users_with_more_than_one_delivery']}, deliveries planned "
        f"{figures['planned']} of {figures['deliveries']}, "
        f"with a paper twice {figures['deliveries_with_a_paper_twice']}"
    )
    print()
    print(json.dumps(figures))


def main(argv=None) -> int:
    args = parse_args(argv)
    database_url = _database(args.reuse)
    os.environ.update(django_env(database_url=database_url, redis_url=REDIS_URL, name="plan"))
    if args.chunk:
        os.environ["DIGEST_PLAN_CHUNK"] = str(args.chunk)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from bench.digest import reset_round
    from recommender.models import Profile

    load_at_start = round(os.getloadavg()[0], 2)
    figures: dict = {"bench": "plan", "subscribers": args.subscribers, "papers_today": args.papers}
    try:
        call_command("migrate", verbosity=0)
        if not (args.reuse and Profile.objects.count() == args.subscribers):
            figures.update(_seed(args))
        reset_round(None)
        connection.ensure_connection()
        pg = postgres_backends(DB_NAME)
        if args.in_process:
            figures.update(_in_process(pg))
        else:
            figures.update(_with_worker(pg, processes=args.processes, log_dir=Path(tempfile.mkdtemp())))
        figures.update(_checks())
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            pg_drop(PG_SERVER, DB_NAME)
    figures["chunk"] = int(settings.PAPERBOY["DIGEST_PLAN_CHUNK"])
    figures["load_avg_1m_at_start"] = load_at_start
    _print(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
