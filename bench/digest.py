"""Benchmark the digest fan-out end to end: rank, build, render, inline CSS, text, SMTP delivery.

What runs is what production runs: ``celery -A digest_site worker -P prefork
--concurrency W`` subprocesses on the ``send`` queue, Redis as the broker
(127.0.0.1:6379, a DB number of its own), PostgreSQL (a scratch database,
created and dropped here), an active model trained on the generated
interactions, and Postfix's ``smtp-sink`` as the mail server (it accepts
~800 messages/s here, so it is not the bottleneck).

Generated data has a realistic shape: ``--papers`` new papers announced today
(arXiv sees 500-2,000 a day) plus ``--history-days`` days of earlier papers,
Zipf-like popularity within each field, and a share of subscribers
(``--active``) with 20-50 interactions each. All rows are inserted with COPY.

For each worker count in ``--workers`` (e.g. ``1,2``) every subscriber gets a
fresh delivery from the real tick (``digest_plan``), the batches are enqueued
as the tick enqueues them, and the clock runs until every delivery is sent,
skipped or failed. Then the naive path (premailer per email,
``PAPERBOY_DIGEST_NAIVE_RENDER=1`` read by the workers) runs on
``--naive-subscribers`` subscribers with the largest worker count, for the
ratio. Prints a table and, last, one JSON line.

    .venv/bin/python bench/digest.py --subscribers 100000 --papers 1000 --workers 1,2
    .venv/bin/python bench/digest.py --quick          # 300 subscribers, 1 worker, < 60 s
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    CeleryWorker,
    RssSampler,
    SmtpSink,
    copy_rows,
    percentile,
    pg_drop,
    pg_recreate,
    postgres_backends,
)

PG_SERVER = os.environ.get("BENCH_PG_SERVER", "postgres://postgres@127.0.0.1:5432")
REDIS_SERVER = os.environ.get("BENCH_REDIS_SERVER", "redis://127.0.0.1:6379")
CATEGORIES = ["cs.LG", "cs.CL", "cs.CV", "cs.AI", "stat.ML", "cs.RO", "cs.IR", "math.OC"]
SHARED = [
    *[
        "we",
        "propose",
        "method",
        "model",
        "results",
        "show",
        "learning",
        "data",
        "training",
        "approach",
        "performance",
        "task",
    ],
    *[
        "benchmark",
        "evaluation",
        "efficient",
        "robust",
        "large",
        "small",
        "improve",
        "reduce",
        "accuracy",
        "theory",
        "bound",
    ],
]
TIME_ZONES = ["UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo", "Asia/Kolkata", "America/Los_Angeles"]


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subscribers", type=int, default=20000)
    ap.add_argument("--papers", type=int, default=1000, help="new papers announced today")
    ap.add_argument("--history-days", type=int, default=10, help="days of earlier papers (same daily volume)")
    ap.add_argument("--active", type=float, default=0.3, help="share of subscribers with 20-50 interactions")
    ap.add_argument("--workers", default="1,2", help="worker process counts to run, e.g. 1,2")
    ap.add_argument("--naive", action="store_true", help="run the main rounds with premailer per email too")
    ap.add_argument("--naive-subscribers", type=int, default=None, help="subscribers in the naive round (0: none)")
    ap.add_argument("--batch-size", type=int, default=None, help="DIGEST_BATCH_SIZE (default: the setting's)")
    ap.add_argument("--quick", action="store_true", help="300 subscribers, 300 papers, 1 worker (< 60 s)")
    ap.add_argument("--keep-db", action="store_true", help="do not drop the scratch database at the end")
    args = ap.parse_args(argv)
    if args.quick:
        args.subscribers, args.papers, args.history_days, args.workers = 300, 300, 2, "1"
        if args.naive_subscribers is None:
            args.naive_subscribers = 100
    if args.naive_subscribers is None:
        args.naive_subscribers = min(args.subscribers, 2000)
    args.worker_counts = [int(w) for w in str(args.workers).split(",") if w.strip()]
    return args


# --- data ----------------------------------------------------------------------------------


def _topic_words() -> dict[str, list[str]]:
    rng = random.Random(7)
    letters = "abcdefghiklmnoprstuvz"
    return {
        c: ["".join(rng.choice(letters) for _ in range(rng.randint(5, 10))) for _ in range(150)] for c in CATEGORIES
    }


def papers_generate(*, count_today: int, history_days: int, today: dt.date, seed: int = 1) -> None:
    from recommender.models import Paper

    rng = random.Random(seed)
    topics = _topic_words()
    rows = []
    serial = 0
    for day_offset in [0, *range(4, 4 + history_days)]:  # today, then older than the first-digest lookback
        day = today - dt.timedelta(days=day_offset)
        for _ in range(count_today):
            serial += 1
            cats = rng.sample(CATEGORIES, rng.choice([1, 1, 2, 3]))
            words = topics[cats[0]] + topics[cats[-1]][:50] + SHARED

            def sentence(k, words=words):
                return " ".join(rng.choice(words) for _ in range(k)).capitalize() + "."

            hf = int(rng.paretovariate(1.2)) - 1 if rng.random() < 0.3 else 0
            abstract = " ".join(sentence(rng.randint(12, 25)) for _ in range(rng.randint(5, 9)))
            rows.append(
                {
                    "arxiv_id": f"{day:%y%m}.{serial:06d}",
                    "title": " ".join(rng.choice(words) for _ in range(rng.randint(6, 12))).capitalize(),
                    "abstract": abstract,
                    # Ingestion fills the TL;DR after commit (docs/ingestion.md); digests only read it.
                    "tldr": abstract.split(". ")[0] + ".",
                    "authors": [f"Author {rng.randrange(50000)}" for _ in range(rng.randint(1, 9))],
                    "primary_category": cats[0],
                    "categories": " ".join(cats),
                    "announce_type": "new",
                    "announced_on": day,
                    "sources": ["arxiv-rss"] + (["hf-daily"] if hf else []),
                    "hf_upvotes": hf,
                    "hf_published_on": day if hf else None,
                    "trending_score": (hf + 1.0) / (day_offset + 2) ** 1.5 if day_offset < 8 else 0.0,
                }
            )
    copy_rows(Paper, rows)


def users_generate(*, count: int, active: float, today: dt.date, seed: int = 2) -> None:
    import numpy as np
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from recommender.models import Interaction, Paper, Profile

    User = get_user_model()
    topics = _topic_words()
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    now = timezone.now()
    password = make_password(None)
    copy_rows(
        User,
        [
            {
                "username": f"bench_{i}",
                "email": f"bench{i}@example.org",
                "password": password,
                "is_active": True,
                "date_joined": now,
            }
            for i in range(count)
        ],
    )
    user_ids = list(User.objects.filter(username__startswith="bench_").order_by("id").values_list("id", flat=True))
    history = list(Paper.objects.filter(announced_on__lt=today - dt.timedelta(days=3)).values_list("id", "categories"))
    popularity = nrng.permutation(len(history))  # a paper's popularity rank, independent of its field
    weight = 1.0 / (popularity + 1.0) ** 0.9
    by_cat: dict[str, list[int]] = {c: [] for c in CATEGORIES}
    for j, (_, cats) in enumerate(history):
        for c in cats.split():
            by_cat[c].append(j)
    pools: dict[tuple, tuple] = {}
    ids = np.array([pid for pid, _ in history], dtype=np.int64)
    profiles, interactions = [], []
    kinds = ["upvote", "save", "thumbs_up", "click", "thumbs_down", "not_interested"]
    kind_p = [0.35, 0.15, 0.2, 0.2, 0.05, 0.05]
    due = now - dt.timedelta(minutes=1)
    for uid in user_ids:
        cats = tuple(sorted(rng.sample(CATEGORIES, rng.choice([1, 1, 2, 3]))))
        excl = [rng.choice(topics[rng.choice(CATEGORIES)])] if rng.random() < 0.1 else []
        profiles.append(
            {
                "user_id": uid,
                "confirmed_at": now,
                "onboarded_at": now,
                "frequency": "daily",
                "send_time": dt.time(8, 0),
                "time_zone": rng.choice(TIME_ZONES),
                "papers_per_email": rng.choice([5, 10, 10, 15]),
                "categories": list(cats),
                "exclude_keywords": excl,
                "next_digest_at": due,
            }
        )
        if rng.random() >= active:
            continue
        if cats not in pools:
            idx = np.array(sorted({j for c in cats for j in by_cat[c]}), dtype=np.int64)
            p = weight[idx] / weight[idx].sum()
            pools[cats] = (idx, p)
        idx, p = pools[cats]
        k = min(len(idx), rng.randint(20, 50))
        chosen = nrng.choice(idx, size=k, replace=False, p=p)
        for j, kind in zip(chosen.tolist(), nrng.choice(len(kinds), size=k, p=kind_p).tolist(), strict=True):
            interactions.append(
                {
                    "user_id": uid,
                    "paper_id": int(ids[j]),
                    "kind": kinds[kind],
                    "source": "web",
                    "created_at": now - dt.timedelta(minutes=rng.randrange(60 * 24 * 30)),
                }
            )
    copy_rows(Profile, profiles)
    copy_rows(Interaction, interactions)


# --- one round --------------------------------------------------------------------------------


def reset_round(user_ids: list[int] | None) -> None:
    """Forget earlier rounds' deliveries and make ``user_ids`` (None: everyone) due now."""
    from django.utils import timezone

    from recommender.models import DigestDelivery, Profile

    DigestDelivery.objects.all().delete()
    due = timezone.now() - dt.timedelta(minutes=1)
    later = due + dt.timedelta(days=1)
    Profile.objects.update(next_digest_at=later)
    qs = Profile.objects.all() if user_ids is None else Profile.objects.filter(user_id__in=user_ids)
    qs.update(next_digest_at=due)


def run_round(*, env: dict, workers: int, naive: bool, user_ids: list[int] | None, log_dir: Path) -> dict:
    import redis
    from django.db.models import Count, F
    from django.utils import timezone

    from recommender.digest import services
    from recommender.digest.tasks import digest_send_batch
    from recommender.models import DeliveryStatus, DigestDelivery

    redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    reset_round(user_ids)
    sink = SmtpSink(log_dir).start()
    worker_env = {
        **env,
        "EMAIL_URL": f"smtp://127.0.0.1:{sink.port}",
        "PAPERBOY_DIGEST_NAIVE_RENDER": "1" if naive else "0",
    }
    worker = CeleryWorker(worker_env, workers, log_dir, name=f"bench{workers}{'n' if naive else ''}").start()
    database = env["DATABASE_URL"].rsplit("/", 1)[-1]
    sampler = RssSampler(
        worker.proc.pid, also={"postgres": postgres_backends(database), "smtp_sink": lambda: [sink.proc.pid]}
    )
    sampler.start()
    try:
        now = timezone.now()
        t_tick = time.perf_counter()
        planned = services.digest_plan(now=now)
        tick_s = time.perf_counter() - t_tick
        t0 = time.perf_counter()
        for batch in services.batches(planned):
            digest_send_batch.delay(user_ids=batch, now=now.isoformat())
        done_states = [DeliveryStatus.SENT, DeliveryStatus.SKIPPED, DeliveryStatus.FAILED]
        deadline = time.monotonic() + max(600, len(planned) / 5)
        while time.monotonic() < deadline:
            if DigestDelivery.objects.filter(status__in=done_states).count() >= len(planned):
                break
            if worker.proc.poll() is not None:
                raise RuntimeError("worker died:\n" + worker.log.read_text()[-3000:])
            time.sleep(0.1)
        elapsed = time.perf_counter() - t0
        memory = sampler.stop()
        # smtp-sink updates its counter when a session ends: close the workers' connections first.
        worker.stop()
        time.sleep(0.3)
        received = sink.messages()
    finally:
        sampler.stop()
        worker.stop()
        sink.stop()
    counts = dict(DigestDelivery.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    per_user = DigestDelivery.objects.values("user_id").annotate(n=Count("id")).filter(n__gt=1).count()
    durations = [
        d.total_seconds() * 1000
        for d in DigestDelivery.objects.filter(status=DeliveryStatus.SENT)
        .annotate(d=F("sent_at") - F("claimed_at"))
        .values_list("d", flat=True)
    ]
    sent = counts.get(DeliveryStatus.SENT, 0)
    # CPU seconds per digest of everything that works for it (workers incl. their start-up, PostgreSQL
    # backends of this database, smtp-sink): the machine-independent cost, unlike wall time on a shared box.
    cpu = memory["cpu_s_workers"] + memory.get("cpu_s_postgres", 0) + memory.get("cpu_s_smtp_sink", 0)
    cpu_ms = 1000 * cpu / sent if sent else float("nan")
    return {
        "workers": workers,
        "naive": naive,
        "subscribers": len(planned),
        "sent": sent,
        "skipped": counts.get(DeliveryStatus.SKIPPED, 0),
        "failed": counts.get(DeliveryStatus.FAILED, 0),
        "received_by_smtp": received,
        "users_with_more_than_one_delivery": per_user,
        "tick_s": round(tick_s, 2),
        "elapsed_s": round(elapsed, 2),
        "digests_per_s": round(sent / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(percentile(durations, 50), 2),
        "p99_ms": round(percentile(durations, 99), 2),
        "cpu_ms_per_digest": round(cpu_ms, 2),
        "worker_cpu_ms_per_digest": round(1000 * memory["cpu_s_workers"] / sent, 2) if sent else None,
        "digests_per_s_per_cpu_core": round(1000 / cpu_ms, 1) if sent and cpu_ms else None,
        **memory,
    }


# --- main -------------------------------------------------------------------------------------


def main(argv=None) -> int:
    args = parse_args(argv)
    # A SIGTERM (timeout, Ctrl-C from a runner) unwinds through the finally blocks that stop workers and smtp-sink.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if not SmtpSink.available():
        print("smtp-sink not found: apt-get install -y postfix (and keep the postfix daemon stopped)", file=sys.stderr)
        return 2
    db_name = "paperboy_bench_digest_quick" if args.quick else "paperboy_bench_digest"
    redis_db = 6 if args.quick else 5
    database_url = pg_recreate(PG_SERVER, db_name)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": f"{REDIS_SERVER}/{redis_db}",
        "DEBUG": "0",
        "SECRET_KEY": "bench-digest-" + "x" * 40,
        "ALLOWED_HOSTS": "localhost,127.0.0.1",
        "SITE_URL": "https://paperboy.example.org",
        "LOG_LEVEL": "WARNING",
        "CONN_MAX_AGE": "600",
    }
    if args.batch_size:
        env["DIGEST_BATCH_SIZE"] = str(args.batch_size)
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "digest_site.settings"
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from recommender.models import Interaction, Paper
    from recommender.training.services import model_train

    log_dir = Path(tempfile.mkdtemp(prefix="bench-digest-"))
    load_at_start = round(os.getloadavg()[0], 2)
    figures: dict = {"subscribers": args.subscribers, "papers_today": args.papers, "rounds": []}
    try:
        t = time.perf_counter()
        call_command("migrate", verbosity=0)
        figures["migrate_s"] = round(time.perf_counter() - t, 1)
        today = timezone.now().date()
        t = time.perf_counter()
        papers_generate(count_today=args.papers, history_days=args.history_days, today=today)
        users_generate(count=args.subscribers, active=args.active, today=today)
        figures["seed_s"] = round(time.perf_counter() - t, 1)
        figures["papers_total"] = Paper.objects.count()
        figures["interactions"] = Interaction.objects.count()
        t = time.perf_counter()
        version = model_train(activate="always")
        figures["train_s"] = round(time.perf_counter() - t, 1)
        figures["model"] = {"n_users": version.n_users, "n_items": version.n_items}
        print(
            f"seeded {args.subscribers} subscribers, {figures['papers_total']} papers, "
            f"{figures['interactions']} interactions in {figures['seed_s']} s; trained in {figures['train_s']} s",
            flush=True,
        )
        from django.contrib.auth import get_user_model

        all_ids = list(get_user_model().objects.order_by("id").values_list("id", flat=True))
        for w in args.worker_counts:
            r = run_round(env=env, workers=w, naive=args.naive, user_ids=None, log_dir=log_dir)
            figures["rounds"].append(r)
            print(json.dumps(r), flush=True)
        if args.naive_subscribers and not args.naive:
            w = max(args.worker_counts)
            subset = all_ids[: args.naive_subscribers]
            r = run_round(env=env, workers=w, naive=True, user_ids=subset, log_dir=log_dir)
            figures["rounds"].append(r)
            print(json.dumps(r), flush=True)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            pg_drop(PG_SERVER, db_name)

    rounds = figures["rounds"]
    fast = [r for r in rounds if not r["naive"]]
    naive = [r for r in rounds if r["naive"]]
    best = max(fast or rounds, key=lambda r: (r["workers"], r["digests_per_s"]))
    slow = max(naive, key=lambda r: r["workers"]) if naive else None
    print()
    print(f"Load average (1 min) at start: {load_at_start} on {os.cpu_count()} CPUs (other jobs share this machine)")
    print(
        f"Digest fan-out: {args.subscribers} subscribers, {args.papers} new papers/day, "
        f"{figures['interactions']} interactions, PostgreSQL + Redis + smtp-sink, prefork workers"
    )
    print()
    header = (
        "| path | worker processes | subscribers | sent | skipped | failed | smtp received | seconds "
        "| digests/s | p50 ms | p99 ms | peak RSS/worker MB | CPU ms/digest (worker+PG+SMTP) | digests/s per core |"
    )
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    for r in rounds:
        print(
            f"| {'naive (premailer per email)' if r['naive'] else 'inlined once'} "
            f"| {r['workers']} | {r['subscribers']} "
            f"| {r['sent']} | {r['skipped']} | {r['failed']} | {r['received_by_smtp']} | {r['elapsed_s']} "
            f"| {r['digests_per_s']} | {r['p50_ms']} | {r['p99_ms']} | {r['peak_rss_mb_child']} "
            f"| {r['cpu_ms_per_digest']} | {r['digests_per_s_per_cpu_core']} |"
        )
    speedup = round(best["digests_per_s"] / slow["digests_per_s"], 1) if slow and slow["digests_per_s"] else None
    summary = {
        "bench": "digest",
        "subscribers": args.subscribers,
        "papers": args.papers,
        "workers": best["workers"],
        "digests_per_s": best["digests_per_s"],
        "p50_ms": best["p50_ms"],
        "p99_ms": best["p99_ms"],
        "peak_rss_mb": best["peak_rss_mb_child"],
        "naive_digests_per_s": slow["digests_per_s"] if slow else None,
        "speedup_vs_naive": speedup,
        "sent": best["sent"],
        "received_by_smtp": best["received_by_smtp"],
        "users_with_more_than_one_delivery": best["users_with_more_than_one_delivery"],
        "seed_s": figures["seed_s"],
        "train_s": figures["train_s"],
        "tick_s": best["tick_s"],
        "cpu_ms_per_digest": best["cpu_ms_per_digest"],
        "naive_cpu_ms_per_digest": slow["cpu_ms_per_digest"] if slow else None,
        "cpu_speedup_vs_naive": (
            round(slow["cpu_ms_per_digest"] / best["cpu_ms_per_digest"], 1)
            if slow and best["cpu_ms_per_digest"]
            else None
        ),
        "load_avg_1m_at_start": load_at_start,
        "rounds": rounds,
    }
    print()
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
