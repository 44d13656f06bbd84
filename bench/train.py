"""Training-time benchmark of HybridRecommender on generated data of realistic shape.

Generates Zipf-popular interactions (20-50 per active user) and synthetic
texts, then times ``fit`` and measures peak memory (tracemalloc for Python
allocations plus the process's peak RSS) for growing interaction counts.

    python bench/train.py                       # 10k .. 1M interactions
    python bench/train.py --users 5500 --items 17000 --interactions 200000

Prints a table; the last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

from recommender.ranking.hybrid import HybridRecommender  # noqa: E402
from recommender.ranking.synthetic import make_texts  # noqa: E402


def generate(n_users: int, n_items: int, n_interactions: int, seed: int = 0):
    """Interactions with Zipf popularity and topic structure, plus texts."""
    rng = np.random.default_rng(seed)
    n_topics = max(10, n_items // 500)
    item_topics = rng.integers(0, n_topics, n_items)
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.9
    popularity = popularity[rng.permutation(n_items)]
    per_user = rng.integers(20, 51, n_users)
    per_user = np.maximum(1, (per_user * n_interactions / per_user.sum()).astype(int))
    by_topic = [np.flatnonzero(item_topics == t) for t in range(n_topics)]
    user_topic = rng.integers(0, n_topics, (n_users, 2))
    rows, cols = [], []
    for u in range(n_users):
        pool = np.concatenate([by_topic[t] for t in user_topic[u]])
        k = min(len(pool), int(per_user[u]))
        # 80% from the user's topics, 20% anywhere, both Zipf-weighted
        k_in = int(0.8 * k)
        p = popularity[pool] / popularity[pool].sum()
        a = rng.choice(pool, size=k_in, replace=False, p=p)
        b = rng.choice(n_items, size=k - k_in, replace=True, p=popularity / popularity.sum())
        items = np.unique(np.concatenate([a, b]))
        rows.append(np.full(len(items), u))
        cols.append(items)
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    X = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n_users, n_items))
    texts = make_texts(item_topics, n_topics, rng, length=60)
    return X, texts


def run_one(
    n_users: int, n_items: int, n_interactions: int, seed: int = 0, factors: int = 256, trace: bool = False
) -> dict:
    X, texts = generate(n_users, n_items, n_interactions, seed)
    # fit is timed untraced: tracemalloc slows the Python-heavy text hashing ~3x
    # (1M interactions: 56 s traced, 20 s not); the traced peak comes from a second fit
    t0 = time.perf_counter()
    model = HybridRecommender(random_state=seed, factors=factors).fit(X, texts)
    fit_s = time.perf_counter() - t0
    peak = float("nan")
    if trace:
        tracemalloc.start()
        HybridRecommender(random_state=seed, factors=factors).fit(X, texts)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    size = len(model.to_bytes())  # what production stores: no training users
    size_full = len(model.to_bytes(include_users=True))
    return {
        "factors": factors,
        "users": n_users,
        "items": n_items,
        "interactions": int(X.nnz),
        "fit_s": round(fit_s, 2),
        "peak_py_mb": round(peak / 2**20, 1),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "artifact_mb": round(size / 2**20, 1),
        "artifact_with_users_mb": round(size_full / 2**20, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, nargs="*", help="users per run")
    parser.add_argument("--items", type=int, nargs="*", help="papers per run")
    parser.add_argument("--interactions", type=int, nargs="*", help="interactions per run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--factors", type=int, default=256, help="ALS factors")
    parser.add_argument("--trace", action="store_true", help="also report the tracemalloc peak (second fit)")
    parser.add_argument("--single", action="store_true", help="internal: one run, JSON only")
    args = parser.parse_args()
    if args.single:
        print(
            json.dumps(run_one(args.users[0], args.items[0], args.interactions[0], args.seed, args.factors, args.trace))
        )
        return
    inter = args.interactions or [10_000, 100_000, 200_000, 1_000_000]
    users = args.users or [max(300, i // 36) for i in inter]
    items = args.items or [max(1000, i // 10) for i in inter]
    if not (len(users) == len(items) == len(inter)):
        n = len(inter)
        users = (users * n)[:n]
        items = (items * n)[:n]
    rows = []
    for u, it, i in zip(users, items, inter, strict=True):
        # one subprocess per size so that peak RSS is per run
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--single",
                "--users",
                str(u),
                "--items",
                str(it),
                "--interactions",
                str(i),
                "--seed",
                str(args.seed),
                "--factors",
                str(args.factors),
                *(["--trace"] if args.trace else []),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(
        f"{'users':>8} {'items':>8} {'interactions':>12} {'fit_s':>8} {'peak_py_mb':>10} "
        f"{'max_rss_mb':>10} {'artifact_mb':>11} {'with_users_mb':>13}"
    )
    for r in rows:
        print(
            f"{r['users']:>8} {r['items']:>8} {r['interactions']:>12} {r['fit_s']:>8} "
            f"{r['peak_py_mb']:>10} {r['max_rss_mb']:>10} {r['artifact_mb']:>11} {r['artifact_with_users_mb']:>13}"
        )
    print(json.dumps({"bench": "train", "runs": rows}))


if __name__ == "__main__":
    main()
