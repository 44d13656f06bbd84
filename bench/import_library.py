"""Benchmark library import: a 5,000-entry BibTeX file into a 20,000-paper catalogue (SQLite), twice.

Half the entries carry an arXiv id (in the fields reference managers use), half
only a title with its case, punctuation and TeX perturbed, plus authors and
year; 1% name ids the catalogue lacks (counted as "fetched"; the fetch itself
is the worker's and is not timed: ``fetch=False``). Times
``services.library_import`` as the web page and the command call it: parse,
catalogue load, matching, saves in one transaction. The second import of the
same file writes nothing (every paper already saved) and reuses the catalogue
index. Runs in a child process on a scratch SQLite file. Prints a table and,
last, one JSON line. Target: < 10 s for 5,000 entries.

    nice .venv/bin/python bench/import_library.py [--entries 5000] [--catalogue 20000]
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

REPO = Path(__file__).resolve().parent.parent
WORDS = [
    "learning",
    "neural",
    "network",
    "graph",
    "attention",
    "transformer",
    "sparse",
    "bayesian",
    "inference",
    "optimisation",
    "convex",
    "reinforcement",
    "policy",
    "gradient",
    "language",
    "model",
    "vision",
    "segmentation",
    "diffusion",
    "generative",
    "adversarial",
    "robust",
    "causal",
    "kernel",
    "spectral",
    "clustering",
    "manifold",
    "embedding",
    "contrastive",
    "federated",
    "privacy",
    "quantum",
    "stochastic",
    "variational",
    "recurrent",
    "memory",
    "retrieval",
    "ranking",
    "recommendation",
    "benchmark",
    "scaling",
    "laws",
    "efficient",
    "pruning",
    "distillation",
    "alignment",
    "reasoning",
    "planning",
    "control",
    "theory",
    "estimation",
    "sampling",
    "markov",
    "chain",
    "monte",
    "carlo",
]
SURNAMES = [
    "Smith",
    "Chen",
    "Garcia",
    "Müller",
    "Rossi",
    "Nakamura",
    "Dubois",
    "Kowalski",
    "Novak",
    "Silva",
    "Okafor",
    "Haddad",
    "Ivanova",
    "Larsen",
]


def _catalogue(rng: random.Random, n: int) -> list[dict]:
    papers, seen = [], set()
    while len(papers) < n:
        title = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 11))).capitalize()
        if title in seen:
            continue
        seen.add(title)
        i = len(papers)
        year = rng.randint(2008, 2026)
        papers.append(
            {
                "arxiv_id": f"{year % 100:02d}{rng.randint(1, 12):02d}.{i:05d}",
                "title": title,
                "authors": [f"{rng.choice('ABCDEFGHJK')}. {rng.choice(SURNAMES)}" for _ in range(rng.randint(1, 5))],
                "year": year,
            }
        )
    return papers


def _perturb(title: str, rng: random.Random) -> str:
    out = []
    for word in title.split():
        r = rng.random()
        out.append(word.upper() if r < 0.2 else "{" + word + "}" if r < 0.35 else word.lower())
    return " ".join(out).replace("ü", '{\\"u}') + rng.choice(["", ".", " :"])


def bibtex(rng: random.Random, papers: list[dict], n: int) -> str:
    chosen = rng.sample(papers, n)
    parts = []
    for k, p in enumerate(chosen):
        authors = " and ".join(a.split()[-1] + ", " + a.split()[0] for a in p["authors"])
        if k % 100 == 0:
            extra = f"eprint = {{2699.{k:05d}}}, archivePrefix = {{arXiv}}"  # not in the catalogue
            title = "Unknown paper " + str(k)
        elif k % 2 == 0:
            extra = rng.choice(
                [
                    f"eprint = {{{p['arxiv_id']}}}, archivePrefix = {{arXiv}}",
                    f"url = {{https://arxiv.org/abs/{p['arxiv_id']}v2}}",
                    f"doi = {{10.48550/arXiv.{p['arxiv_id']}}}",
                    f"journal = {{arXiv preprint arXiv:{p['arxiv_id']}}}",
                ]
            )
            title = p["title"]
        else:
            extra, title = "", _perturb(p["title"], rng)
        fields = [f"title = {{{title}}}", f"author = {{{authors}}}", f"year = {{{p['year']}}}"] + (
            [extra] if extra else []
        )
        parts.append(f"@article{{e{k},\n  " + ",\n  ".join(fields) + "\n}\n")
    return "".join(parts)


def run_child(entries: int, catalogue_size: int) -> dict:
    import django

    django.setup()
    import datetime as dt

    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from recommender.library import services
    from recommender.models import Interaction, Paper

    call_command("migrate", verbosity=0)
    rng = random.Random(0)
    papers = _catalogue(rng, catalogue_size)
    Paper.objects.bulk_create(
        [
            Paper(
                arxiv_id=p["arxiv_id"],
                title=p["title"],
                authors=p["authors"],
                submitted_at=dt.datetime(p["year"], 6, 1, tzinfo=dt.UTC),
                versions=[],
                sources=[],
                ai_keywords=[],
            )
            for p in papers
        ],
        batch_size=1000,
    )
    user = get_user_model().objects.create_user(username="bench", email="bench@example.org")
    data = bibtex(rng, papers, entries).encode()
    timings = []
    for label in ("first import", "same file again"):
        t0 = time.perf_counter()
        report = services.library_import(user=user, data=data, filename="library.bib", fetch=False)
        timings.append((label, time.perf_counter() - t0, report))
    first, again = timings[0][2], timings[1][2]
    assert again.saved == 0, again.saved
    return {
        "entries": entries,
        "catalogue": catalogue_size,
        "bytes": len(data),
        "first_s": round(timings[0][1], 3),
        "again_s": round(timings[1][1], 3),
        "counts": first.counts,
        "saved": first.saved,
        "saves_in_db": Interaction.objects.filter(user=user).count(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=5000)
    parser.add_argument("--catalogue", type=int, default=20000)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args.entries, args.catalogue)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "digest_site.settings",
                "DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
                "CACHE_REDIS": "0",
                "LOG_LEVEL": "WARNING",
                "DEBUG": "0",
                "SECRET_KEY": "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
                "LIBRARY_MAX_BYTES": str(50 * 1024 * 1024),
                "LIBRARY_MAX_ENTRIES": str(max(args.entries, 10_000)),
            }
        )
        cmd = [sys.executable, __file__, "--child", "--entries", str(args.entries), "--catalogue", str(args.catalogue)]
        out = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"benchmark failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["load_avg"] = [round(x, 2) for x in os.getloadavg()]
    result["target_s"] = 10.0
    n = result["entries"]
    print(f"{'phase':<18}{'seconds':>10}{'entries/s':>12}")
    print(f"{'first import':<18}{result['first_s']:>10.2f}{n / result['first_s']:>12,.0f}")
    print(f"{'same file again':<18}{result['again_s']:>10.2f}{n / result['again_s']:>12,.0f}")
    print("counts: " + ", ".join(f"{k} {v}" for k, v in result["counts"].items()))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
