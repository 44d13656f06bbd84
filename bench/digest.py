"""Benchmark the digest fan-out end to end in its two phases: plan (rank, store) and send (render, MIME, SMTP).

What runs is what production runs: one ``celery -A digest_site worker -Q plan``
process that receives the tick (``digest_tick``: opens the deliveries, ranks
every subscriber in chunks and stores the selections as ``DeliveredPaper``
rows, enqueueing each chunk's send batches as it commits) and ``celery -A
digest_site worker -Q send -P prefork --concurrency W`` send processes (no
model), Redis as the broker
(127.0.0.1:6379, a DB number of its own), PostgreSQL (a scratch database,
created and dropped here), an active model trained on the generated
interactions, and Postfix's ``smtp-sink`` as the mail server (it accepts
~800 messages/s here, so it is not the bottleneck).

Generated data has a realistic shape: ``--papers`` new papers announced today
(arXiv sees 500-2,000 a day) plus ``--history-days`` days of earlier papers,
Zipf-like popularity within each field, and a share of subscribers
(``--active``) with 20-50 interactions each. All rows are inserted with COPY.

For each send-process count in ``--workers`` (default: the production
configuration for a 2-core machine, 2 plan + 4 send processes) the real tick
is sent to the plan queue and the clock runs from it until every delivery is
sent, skipped or failed ("tick to last 250"). Per phase: plan (until the last
selection is stored), render (context -> fragments -> MIME bytes, measured
in this process on up to 1,000 sent digests: CPU per digest and message
sizes), send (first plan commit to the last 250) and in total: digests/s,
CPU ms per digest of the plan worker, the send workers, PostgreSQL and
smtp-sink, the machine's CPU utilisation, peak RSS per process. Then the naive path (premailer per email,
``PAPERBOY_DIGEST_NAIVE_RENDER=1`` read by the workers) runs on
``--naive-subscribers`` subscribers with the largest worker count, for the
ratio. Prints a table and, last, one JSON line.

    .venv/bin/python bench/digest.py --subscribers 5000 --papers 500          # production configuration
    .venv/bin/python bench/digest.py --subscribers 100000 --papers 1000 --naive-subscribers 2000
    .venv/bin/python bench/digest.py --subscribers 5000 --papers 500 --workers 2,4,6   # choose the concurrency
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
    django_env,
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


def data_arguments(ap: argparse.ArgumentParser) -> None:
    """The generated data's options (this module's generators; ``bench/plan.py`` seeds with them too)."""
    ap.add_argument("--subscribers", type=int, default=20000)
    ap.add_argument("--papers", type=int, default=1000, help="new papers announced today")
    ap.add_argument("--history-days", type=int, default=10, help="days of earlier papers (same daily volume)")
    ap.add_argument("--active", type=float, default=0.3, help="share of subscribers with 20-50 interactions")


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    data_arguments(ap)
    ap.add_argument(
        "--workers",
        default=str(PRODUCTION_SEND_PROCESSES),
        help="send process counts to run, e.g. 2,4 (default: the production configuration for 2 cores)",
    )
    ap.add_argument(
        "--plan-processes",
        type=int,
        default=PRODUCTION_PLAN_PROCESSES,
        help="plan worker processes (default: the production configuration for 2 cores)",
    )
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

    from recommender.models import Interaction, Paper, Profile, Topic

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
    profiles, topic_rows, interactions = [], [], []
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
                "next_digest_at": due,
            }
        )
        # What the reader reads lives on their default topic (recommender/subscriptions/topics.py).
        topic_rows.append(
            {"user_id": uid, "name": "General", "slug": "general", "categories": list(cats), "exclude_keywords": excl}
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
    copy_rows(Topic, topic_rows)
    copy_rows(Interaction, interactions)


# --- one round --------------------------------------------------------------------------------

# The production configuration for a 2-core machine (docs/digest.md, "Concurrency"): two plan processes (the
# tick fans out one task per chunk; each process holds the model and ranks its chunks) and four prefork send
# processes (no model; each waits on SMTP and PostgreSQL round trips about half of the time, so two per core
# keep both cores busy). Measured at 5,000 x 500: 2 plan processes 277.5 digests/s, 1 plan process 253.8.
PRODUCTION_PLAN_PROCESSES = 2
PRODUCTION_SEND_PROCESSES = 4
RENDER_SAMPLE = 1000


def reset_round(user_ids: list[int] | None) -> None:
    """Forget earlier rounds' deliveries and plan rows, and make ``user_ids`` (None: everyone) due now."""
    from django.utils import timezone

    from recommender.models import DeliveredPaper, DigestDelivery, Profile

    DeliveredPaper.objects.all().delete()
    DigestDelivery.objects.all().delete()
    due = timezone.now() - dt.timedelta(minutes=1)
    later = due + dt.timedelta(days=1)
    Profile.objects.update(next_digest_at=later)
    qs = Profile.objects.all() if user_ids is None else Profile.objects.filter(user_id__in=user_ids)
    qs.update(next_digest_at=due)
    statistics_refresh()


def statistics_refresh() -> None:
    """``VACUUM ANALYZE``, as autovacuum would have done on a production server.

    This machine's PostgreSQL runs with ``autovacuum = off``: after seeding and a round's 1.3M plan rows the
    planner still believes the tables empty and seq-scans ``DeliveredPaper`` (with JIT) for "already sent",
    220 ms per chunk of 2,000 instead of an index probe.
    """
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")


class MachineCpu:
    """The whole machine's CPU utilisation between ``start`` and ``stop`` (every process, ours or not)."""

    def start(self) -> MachineCpu:
        import psutil

        self.before = psutil.cpu_times()
        return self

    def stop(self) -> float:
        import psutil

        after = psutil.cpu_times()
        busy = sum(after) - sum(self.before) - ((after.idle + after.iowait) - (self.before.idle + self.before.iowait))
        total = sum(after) - sum(self.before)
        return round(100 * busy / total, 1) if total else 0.0


def _wait_settled(*, expected: int, workers: list, deadline: float) -> float | None:
    """Poll until ``expected`` deliveries exist and each is sent, skipped or failed; return when all were planned."""
    from recommender.models import DeliveryStatus, DigestDelivery

    done_states = [DeliveryStatus.SENT, DeliveryStatus.SKIPPED, DeliveryStatus.FAILED]
    planned_at = None
    while time.monotonic() < deadline:
        if planned_at is None and DigestDelivery.objects.filter(planned_at__isnull=False).count() >= expected:
            planned_at = time.perf_counter()
        if DigestDelivery.objects.filter(status__in=done_states).count() >= expected:
            return planned_at
        for worker in workers:
            if worker.proc.poll() is not None:
                raise RuntimeError("worker died:\n" + worker.log.read_text()[-3000:])
        time.sleep(0.1)
    raise RuntimeError(f"deliveries not settled before the deadline ({expected} expected)")


def render_sample(*, naive: bool, limit: int = RENDER_SAMPLE) -> dict:
    """The render phase alone, in this process: context -> render -> MIME bytes for up to ``limit`` sent digests.

    CPU ms per digest (``time.process_time``) and the message sizes (the bytes handed to SMTP).
    """
    from django.utils import timezone

    from recommender.digest import services
    from recommender.digest.context import digest_batch_planned, digest_compose
    from recommender.models import DeliveryStatus, DigestDelivery

    rows = list(
        DigestDelivery.objects.filter(status=DeliveryStatus.SENT).order_by("pk").values_list("pk", "user_id")[:limit]
    )
    if not rows:
        return {}
    now = timezone.now()
    sizes = []
    started = time.process_time()
    batch = digest_batch_planned(deliveries=dict(rows), now=now)
    for pk, uid in rows:
        content = digest_compose(
            user=batch.users[uid], now=now, batch=batch, selection=batch.selections[pk], delivery_id=pk
        )
        if naive:
            message = services.digest_message(content=content, message_id=f"<bench.{pk}@example.org>", naive=True)
            data = message.message().as_bytes(linesep="\r\n")
        else:
            data = services.digest_raw_message(content=content, message_id=f"<bench.{pk}@example.org>").as_smtp_bytes()
        sizes.append(len(data))
    cpu_ms = 1000 * (time.process_time() - started) / len(rows)
    return {
        "render_sample": len(rows),
        "render_cpu_ms_per_digest": round(cpu_ms, 2),
        "render_digests_per_s_per_core": round(1000 / cpu_ms, 1) if cpu_ms else None,
        "message_kb_p50": round(percentile(sizes, 50) / 1024, 1),
        "message_kb_max": round(max(sizes) / 1024, 1),
    }


def run_round(
    *, env: dict, workers: int, naive: bool, user_ids: list[int] | None, log_dir: Path, planners: int
) -> dict:
    """One tick, end to end: a plan worker ranks and stores, ``workers`` send processes send; then the figures."""
    import redis
    from django.db.models import Count, F, Max, Min
    from django.utils import timezone

    from recommender.digest.tasks import digest_tick
    from recommender.models import DeliveryStatus, DigestDelivery, Profile

    redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    reset_round(user_ids)
    sink = SmtpSink(log_dir).start()
    worker_env = {
        **env,
        "EMAIL_URL": f"smtp://127.0.0.1:{sink.port}",
        "PAPERBOY_DIGEST_NAIVE_RENDER": "1" if naive else "0",
    }
    tag = f"{workers}{'n' if naive else ''}"
    planner = CeleryWorker(worker_env, planners, log_dir, name=f"plan{tag}", queues="plan").start()
    sender = CeleryWorker(worker_env, workers, log_dir, name=f"send{tag}", queues="send").start()
    database = env["DATABASE_URL"].rsplit("/", 1)[-1]
    plan_sampler = RssSampler(planner.proc.pid)
    send_sampler = RssSampler(
        sender.proc.pid, also={"postgres": postgres_backends(database), "smtp_sink": lambda: [sink.proc.pid]}
    )
    plan_sampler.start()
    send_sampler.start()
    machine = MachineCpu().start()
    try:
        now = timezone.now()
        expected = Profile.objects.filter(next_digest_at__lte=now).count()
        time.sleep(0.3)  # one more sample: the workers' start-up CPU, left out of the utilisation below
        startup_cpu = sum(plan_sampler.cpu.values()) + sum(send_sampler.cpu.values())
        t0 = time.perf_counter()
        digest_tick.delay(now=now.isoformat())  # routed to the plan queue, as beat sends it
        planned_seen = _wait_settled(
            expected=expected, workers=[planner, sender], deadline=time.monotonic() + max(600, expected / 5)
        )
        elapsed = time.perf_counter() - t0
        utilisation = machine.stop()
        plan_mem = plan_sampler.stop()
        memory = send_sampler.stop()
        # smtp-sink updates its counter when a session ends: close the workers' connections first.
        sender.stop()
        planner.stop()
        time.sleep(0.3)
        received = sink.messages()
    finally:
        plan_sampler.stop()
        send_sampler.stop()
        sender.stop()
        planner.stop()
        sink.stop()
    counts = dict(DigestDelivery.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    per_user = DigestDelivery.objects.values("user_id").annotate(n=Count("id")).filter(n__gt=1).count()
    sent_rows = DigestDelivery.objects.filter(status=DeliveryStatus.SENT)
    durations = [
        d.total_seconds() * 1000
        for d in sent_rows.annotate(d=F("sent_at") - F("claimed_at")).values_list("d", flat=True)
    ]
    marks = DigestDelivery.objects.aggregate(
        first_planned=Min("planned_at"), last_planned=Max("planned_at"), first_sent=Min("sent_at"), last=Max("sent_at")
    )
    sent = counts.get(DeliveryStatus.SENT, 0)

    def since_tick(moment) -> float | None:
        return round((moment - now).total_seconds(), 2) if moment else None

    plan_s = since_tick(marks["last_planned"])
    end_to_end_s = since_tick(marks["last"]) or round(elapsed, 2)
    send_s = round((marks["last"] - marks["first_planned"]).total_seconds(), 2) if marks["last"] else None
    pg = memory.get("cpu_s_postgres", 0)
    sink_cpu = memory.get("cpu_s_smtp_sink", 0)

    def per(cpu_s: float, n: int) -> float | None:
        return round(1000 * cpu_s / n, 2) if n else None

    total_cpu = plan_mem["cpu_s_workers"] + memory["cpu_s_workers"] + pg + sink_cpu
    result = {
        "workers": workers,
        "plan_processes": planners,
        "naive": naive,
        "subscribers": expected,
        "sent": sent,
        "skipped": counts.get(DeliveryStatus.SKIPPED, 0),
        "failed": counts.get(DeliveryStatus.FAILED, 0),
        "received_by_smtp": received,
        "users_with_more_than_one_delivery": per_user,
        # End to end: from the tick's enqueue to the last message's mark (the "tick to last 250").
        "elapsed_s": end_to_end_s,
        "digests_per_s": round(sent / end_to_end_s, 1) if end_to_end_s else 0.0,
        "plan_s": plan_s,
        "plan_digests_per_s": round(expected / plan_s, 1) if plan_s else None,
        "plan_seen_s": round(planned_seen - t0, 2) if planned_seen else None,
        "send_s": send_s,
        "send_digests_per_s": round(sent / send_s, 1) if send_s else None,
        "tick_s": plan_s,
        "p50_ms": round(percentile(durations, 50), 2),
        "p99_ms": round(percentile(durations, 99), 2),
        "plan_cpu_ms_per_digest": per(plan_mem["cpu_s_workers"], expected),
        "send_worker_cpu_ms_per_digest": per(memory["cpu_s_workers"], sent),
        "worker_cpu_ms_per_digest": per(plan_mem["cpu_s_workers"] + memory["cpu_s_workers"], sent),
        "postgres_cpu_ms_per_digest": per(pg, sent),
        "smtp_sink_cpu_ms_per_digest": per(sink_cpu, sent),
        # Everything that works for the digests: plan + send workers (incl. start-up), PostgreSQL, smtp-sink.
        "cpu_ms_per_digest": per(total_cpu, sent) or float("nan"),
        "digests_per_s_per_cpu_core": round(sent / total_cpu, 1) if sent and total_cpu else None,
        "machine_cpu_utilisation_pct": utilisation,
        # Our processes' CPU from the tick on (workers' start-up left out) over the machine's capacity.
        "our_cpu_utilisation_pct": round(100 * (total_cpu - startup_cpu) / (end_to_end_s * (os.cpu_count() or 1)), 1)
        if end_to_end_s
        else None,
        "peak_rss_mb_plan_child": plan_mem["peak_rss_mb_child"],
        "peak_rss_mb_plan_main": plan_mem["peak_rss_mb_main"],
        "peak_rss_mb_send_child": memory["peak_rss_mb_child"],
        "peak_rss_mb_send_main": memory["peak_rss_mb_main"],
        **memory,
    }
    t = time.perf_counter()
    result.update(render_sample(naive=naive))
    result["render_sample_s"] = round(time.perf_counter() - t, 2)
    return result


def _table(header: list[str], rows: list[list]) -> None:
    print("| " + " | ".join(header) + " |")
    print("|---" * len(header) + "|")
    for row in rows:
        print("| " + " | ".join("-" if v is None else str(v) for v in row) + " |")
    print()


def print_tables(rounds: list[dict]) -> None:
    """End to end per round, then per phase (plan, render, send)."""

    def path(r):
        return f"{'naive (premailer per email)' if r['naive'] else 'fragments'} ({r['plan_processes']}+{r['workers']})"

    _table(
        [
            "path (plan+send processes)",
            "subscribers",
            "sent",
            "skipped",
            "failed",
            "smtp received",
            "tick to last 250 s",
            "digests/s",
            "CPU ms/digest all-in",
            "machine CPU %",
            "ours CPU %",
            "message KB p50 / max",
            "peak RSS MB plan / send",
        ],
        [
            [
                path(r),
                r["subscribers"],
                r["sent"],
                r["skipped"],
                r["failed"],
                r["received_by_smtp"],
                r["elapsed_s"],
                r["digests_per_s"],
                r["cpu_ms_per_digest"],
                r["machine_cpu_utilisation_pct"],
                r["our_cpu_utilisation_pct"],
                f"{r.get('message_kb_p50')} / {r.get('message_kb_max')}",
                f"{r['peak_rss_mb_plan_child']} / {r['peak_rss_mb_send_child']}",
            ]
            for r in rounds
        ],
    )
    _table(
        [
            "path",
            "plan s",
            "plan digests/s",
            "plan worker CPU ms/digest",
            "render CPU ms/digest (in-process)",
            "render digests/s per core",
            "send s",
            "send digests/s",
            "send workers CPU ms/digest (incl. render)",
            "PostgreSQL CPU ms/digest",
            "smtp-sink CPU ms/digest",
            "p50 / p99 ms (hand-over to mark)",
        ],
        [
            [
                path(r),
                r["plan_s"],
                r["plan_digests_per_s"],
                r["plan_cpu_ms_per_digest"],
                r.get("render_cpu_ms_per_digest"),
                r.get("render_digests_per_s_per_core"),
                r["send_s"],
                r["send_digests_per_s"],
                r["send_worker_cpu_ms_per_digest"],
                r["postgres_cpu_ms_per_digest"],
                r["smtp_sink_cpu_ms_per_digest"],
                f"{r['p50_ms']} / {r['p99_ms']}",
            ]
            for r in rounds
        ],
    )


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
    env = {**os.environ, **django_env(database_url=database_url, redis_url=f"{REDIS_SERVER}/{redis_db}", name="digest")}
    if args.batch_size:
        env["DIGEST_BATCH_SIZE"] = str(args.batch_size)
    os.environ.update(env)
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
            r = run_round(
                env=env, workers=w, naive=args.naive, user_ids=None, log_dir=log_dir, planners=args.plan_processes
            )
            figures["rounds"].append(r)
            print(json.dumps(r), flush=True)
        if args.naive_subscribers and not args.naive:
            w = max(args.worker_counts)
            subset = all_ids[: args.naive_subscribers]
            r = run_round(
                env=env, workers=w, naive=True, user_ids=subset, log_dir=log_dir, planners=args.plan_processes
            )
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
    best = max(fast or rounds, key=lambda r: r["digests_per_s"])
    slow = max(naive, key=lambda r: r["workers"]) if naive else None
    print()
    print(f"Load average (1 min) at start: {load_at_start} on {os.cpu_count()} CPUs (other jobs share this machine)")
    print(
        f"Digest fan-out: {args.subscribers} subscribers, {args.papers} new papers/day, "
        f"{figures['interactions']} interactions, PostgreSQL + Redis + smtp-sink, prefork workers"
    )
    print()
    print_tables(rounds)
    speedup = round(best["digests_per_s"] / slow["digests_per_s"], 1) if slow and slow["digests_per_s"] else None
    summary = {
        "bench": "digest",
        "subscribers": args.subscribers,
        "papers": args.papers,
        "workers": best["workers"],
        "digests_per_s": best["digests_per_s"],
        "p50_ms": best["p50_ms"],
        "p99_ms": best["p99_ms"],
        "peak_rss_mb": max(best["peak_rss_mb_send_child"], best["peak_rss_mb_plan_child"]),
        "peak_rss_mb_send_child": best["peak_rss_mb_send_child"],
        "peak_rss_mb_plan_child": best["peak_rss_mb_plan_child"],
        "plan_s": best["plan_s"],
        "send_s": best["send_s"],
        "machine_cpu_utilisation_pct": best["machine_cpu_utilisation_pct"],
        "message_kb_p50": best.get("message_kb_p50"),
        "message_kb_max": best.get("message_kb_max"),
        "render_cpu_ms_per_digest": best.get("render_cpu_ms_per_digest"),
        "naive_render_cpu_ms_per_digest": slow.get("render_cpu_ms_per_digest") if slow else None,
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
