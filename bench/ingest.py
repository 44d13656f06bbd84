"""Benchmark ingestion: parse + upsert of a generated 5,000-entry feed of each format.

For each database backend (SQLite file, PostgreSQL at 127.0.0.1:5432) and each
source format (arXiv RSS, export API Atom, OAI-PMH arXivRaw, Hugging Face
JSON) it times a first ingestion (every paper created) and a re-ingestion of
the same feed (every paper unchanged), through ``ingest_run`` as the command
runs it (file read, parse, bulk upsert in one transaction; trending refresh
excluded). Each backend runs in its own process because Django's settings are
per process. Prints a table and, last, one JSON line with the figures.

    .venv/bin/python bench/ingest.py [--entries 5000] [--backends sqlite,postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from xml.sax.saxutils import escape

REPO = Path(__file__).resolve().parent.parent
PG_SERVER = "postgres://postgres@127.0.0.1:5432"
PG_DB = "paperboy_bench_ingest"
FORMATS = ["arxiv-rss", "arxiv-api", "arxiv-oai", "hf-daily"]
CATEGORIES = ["cs.LG", "cs.CL", "cs.CV", "cs.AI", "stat.ML", "cs.RO", "cs.IR", "math.OC"]
WORDS = [
    "model",
    "learning",
    "data",
    "training",
    "neural",
    "network",
    "method",
    "results",
    "show",
    "propose",
    "approach",
    "task",
    "performance",
    "benchmark",
    "language",
    "vision",
    "graph",
    "optimisation",
    "inference",
    "sparse",
    "attention",
    "efficient",
    "robust",
    "causal",
    "representation",
    "evaluation",
    "dataset",
    "large",
    "small",
    "improve",
    "reduce",
    "accuracy",
    "latency",
    "memory",
    "theory",
    "bound",
]


# --- generated feeds --------------------------------------------------------------------------


def _paper(rng: random.Random, n: int, base: int) -> dict:
    def sentence(k):
        return " ".join(rng.choice(WORDS) for _ in range(k)).capitalize() + "."

    cats = rng.sample(CATEGORIES, rng.randint(1, 3))
    return {
        "id": f"2611.{base + n:05d}",
        "v": rng.choice([1, 1, 1, 2, 3]),
        "title": " ".join(rng.choice(WORDS) for _ in range(9)).title(),
        "abstract": sentence(14) + " We propose " + " ".join(sentence(16) for _ in range(7)),
        "authors": [f"Author{rng.randint(1, 50000)} Surname{rng.randint(1, 50000)}" for _ in range(rng.randint(2, 8))],
        "cats": cats,
        "type": rng.choice(["new", "new", "cross", "replace", "replace-cross"]),
    }


def generate(fmt: str, n: int, base: int) -> bytes:
    rng = random.Random(base)
    papers = [_paper(rng, i, base) for i in range(n)]
    if fmt == "arxiv-rss":
        items = "".join(
            f"<item><title>{escape(p['title'])}</title><link>https://arxiv.org/abs/{p['id']}</link>"
            f"<description>arXiv:{p['id']}v{p['v']} Announce Type: {p['type']} \nAbstract: {escape(p['abstract'])}"
            f'</description><guid isPermaLink="false">oai:arXiv.org:{p["id"]}v{p["v"]}</guid>'
            + "".join(f"<category>{c}</category>" for c in p["cats"])
            + "<pubDate>Mon, 16 Nov 2026 00:00:00 -0500</pubDate>"
            f"<arxiv:announce_type>{p['type']}</arxiv:announce_type>"
            "<dc:rights>http://creativecommons.org/licenses/by/4.0/</dc:rights>"
            f"<dc:creator>{escape(', '.join(p['authors']))}</dc:creator></item>"
            for p in papers
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?><rss xmlns:arxiv="http://arxiv.org/schemas/atom" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" version="2.0"><channel><title>bench</title>'
            f"<pubDate>Mon, 16 Nov 2026 00:00:00 -0500</pubDate>{items}</channel></rss>"
        ).encode()
    if fmt == "arxiv-api":
        entries = "".join(
            f"<entry><id>http://arxiv.org/abs/{p['id']}v{p['v']}</id><title>{escape(p['title'])}</title>"
            f"<updated>2026-11-1{p['v']}T10:00:00Z</updated><published>2026-11-10T10:00:00Z</published>"
            f"<summary>{escape(p['abstract'])}</summary>"
            + "".join(f"<author><name>{escape(a)}</name></author>" for a in p["authors"])
            + f'<arxiv:primary_category term="{p["cats"][0]}"/>'
            + "".join(f'<category term="{c}"/>' for c in p["cats"])
            + "<arxiv:comment>12 pages</arxiv:comment></entry>"
            for p in papers
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
            'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" xmlns:arxiv="http://arxiv.org/schemas/atom">'
            f"<opensearch:totalResults>{n}</opensearch:totalResults><opensearch:startIndex>0</opensearch:startIndex>"
            f"<opensearch:itemsPerPage>{n}</opensearch:itemsPerPage>{entries}</feed>"
        ).encode()
    if fmt == "arxiv-oai":
        records = "".join(
            f"<record><header><identifier>oai:arXiv.org:{p['id']}</identifier><datestamp>2026-11-16</datestamp>"
            f'</header><metadata><arXivRaw xmlns="http://arxiv.org/OAI/arXivRaw/"><id>{p["id"]}</id>'
            + "".join(
                f'<version version="v{v}"><date>Mon, 1{v} Nov 2026 10:00:00 GMT</date><size>100kb</size></version>'
                for v in range(1, p["v"] + 1)
            )
            + f"<title>{escape(p['title'])}</title><authors>{escape(', '.join(p['authors']))}</authors>"
            f"<categories>{' '.join(p['cats'])}</categories><abstract>{escape(p['abstract'])}</abstract>"
            "</arXivRaw></metadata></record>"
            for p in papers
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
            f"<responseDate>2026-11-16T00:00:00Z</responseDate><ListRecords>{records}</ListRecords></OAI-PMH>"
        ).encode()
    return json.dumps(
        [
            {
                "paper": {
                    "id": p["id"],
                    "title": p["title"],
                    "summary": p["abstract"],
                    "authors": [{"name": a} for a in p["authors"]],
                    "upvotes": rng.randint(0, 300),
                    "submittedOnDailyAt": "2026-11-16T00:00:00.000Z",
                    "ai_summary": p["abstract"][:200],
                    "ai_keywords": p["title"].lower().split()[:5],
                    "githubRepo": f"https://github.com/example/{p['id']}",
                    "githubStars": rng.randint(0, 5000),
                },
                "numComments": rng.randint(0, 20),
            }
            for p in papers
        ]
    ).encode()


# --- one backend (child process) -------------------------------------------------------------------


def run_backend(n: int, repeat: int) -> dict:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from recommender.ingest import arxiv_api, arxiv_oai, arxiv_rss, hf_daily
    from recommender.ingest.services import ingest_run, paper_tldr_fill, paper_upsert_many

    parsers = {"arxiv-rss": arxiv_rss.parse, "arxiv-api": arxiv_api.parse, "arxiv-oai": arxiv_oai.parse}
    parsers["hf-daily"] = hf_daily.parse
    call_command("migrate", verbosity=0)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for index, fmt in enumerate(FORMATS):
            runs = []
            # Best of ``repeat`` (as timeit does): other processes on the machine only ever add time.
            for rep in range(repeat):
                data = generate(fmt, n, base=10000 + (index * repeat + rep) * n)
                path = Path(tmp) / f"{fmt}-{rep}.bin"
                path.write_bytes(data)
                # First ingestion, step by step as ingest_run does it: read + parse, upsert in
                # one transaction, then (after commit) the extractive TL;DRs.
                started = time.perf_counter()
                parsed = parsers[fmt](path.read_bytes())
                parse_s = time.perf_counter() - started
                with transaction.atomic():
                    counts = paper_upsert_many(entries=parsed, source=fmt)
                first_s = time.perf_counter() - started
                paper_tldr_fill(arxiv_ids=counts.tldr_ids)
                tldr_s = time.perf_counter() - started - first_s
                assert counts.created == n, counts
                # Re-ingestion of the same file through the full run (IngestRun bookkeeping included).
                started = time.perf_counter()
                again = ingest_run(source=fmt, path=path, refresh_trending=False)
                again_s = time.perf_counter() - started
                assert again.unchanged == n, again.unchanged
                runs.append((parse_s, first_s, tldr_s, again_s, len(data)))
            parse_s, first_s, tldr_s, again_s = (min(r[i] for r in runs) for i in range(4))
            results[fmt] = {
                "bytes": runs[0][4],
                "parse_s": round(parse_s, 3),
                "first_s": round(first_s, 3),
                "first_eps": round(n / first_s),
                "first_eps_worst": round(n / max(r[1] for r in runs)),
                "tldr_s": round(tldr_s, 3),
                "reingest_s": round(again_s, 3),
                "reingest_eps": round(n / again_s),
            }
    return {"vendor": connection.vendor, "formats": results}


def _pg_recreate() -> None:
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PG_DB}"')
        conn.execute(f'CREATE DATABASE "{PG_DB}"')


def _child(backend: str, n: int, repeat: int, tmp: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    # DEBUG off as in production: with DEBUG on Django keeps every SQL statement in memory.
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "digest_site.settings",
            "CACHE_REDIS": "0",
            "LOG_LEVEL": "WARNING",
            "DEBUG": "0",
            "SECRET_KEY": "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        }
    )
    if backend == "postgres":
        _pg_recreate()
        env["DATABASE_URL"] = f"{PG_SERVER}/{PG_DB}"
    else:
        env["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
    out = subprocess.run(
        [sys.executable, __file__, "--child", "--entries", str(n), "--repeat", str(repeat)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"{backend} run failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=5000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best is reported")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    if args.child:
        print(json.dumps(run_backend(args.entries, args.repeat)))
        return
    figures = {
        "entries": args.entries,
        "repeat": args.repeat,
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "backends": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends.split(","):
            figures["backends"][backend] = _child(backend, args.entries, args.repeat, tmp)["formats"]
    print(f"Ingest benchmark: {args.entries} generated entries per feed, best of {args.repeat} runs")
    print("p+u = read + parse + upsert (one transaction); tldr = extractive summaries after commit;")
    print(f"again = full re-ingest run (all unchanged). Load average at start: {figures['load_avg_1m']}")
    header = (
        f"{'backend':<9} {'source':<10} {'MB':>5} {'parse s':>8} {'p+u s':>7} {'p+u /s':>7} {'tldr s':>7} "
        f"{'again s':>8} {'again /s':>8}"
    )
    print(header)
    print("-" * len(header))
    for backend, formats in figures["backends"].items():
        for fmt, r in formats.items():
            print(
                f"{backend:<9} {fmt:<10} {r['bytes'] / 1e6:>5.1f} {r['parse_s']:>8.2f} {r['first_s']:>7.2f} "
                f"{r['first_eps']:>7} {r['tldr_s']:>7.2f} {r['reingest_s']:>8.2f} {r['reingest_eps']:>8}"
            )
    if "postgres" in figures["backends"]:
        worst = min(r["first_eps"] for r in figures["backends"]["postgres"].values())
        figures["postgres_min_first_eps"] = worst
        figures["postgres_target_met"] = worst >= 2000
        verdict = "met" if worst >= 2000 else "NOT met"
        print(f"PostgreSQL slowest first parse+upsert: {worst} entries/s (target >= 2000: {verdict})")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
