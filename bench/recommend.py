"""Serving-time benchmark: top-20 of 500 new candidates for many users.

Fits HybridRecommender on generated data (Zipf popularity, 20-50
interactions per active user, synthetic texts), then times one batched
``recommend`` call over a day's 500 brand-new papers (with content, a trending
prior, per-user exclusions and MMR diversity) for ``--users`` users.

    python bench/recommend.py --users 100000 --candidates 500 --n 20

Prints a table; the last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from bench.train import generate  # noqa: E402
from recommender.ranking.hybrid import HybridRecommender  # noqa: E402
from recommender.ranking.synthetic import make_texts  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=17_000)
    parser.add_argument("--interactions", type=int, default=0, help="default: 30 per user")
    parser.add_argument("--candidates", type=int, default=500)
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--diversity", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    n_inter = args.interactions or 30 * args.users
    X, texts = generate(args.users, args.items, n_inter, args.seed)
    t0 = time.perf_counter()
    model = HybridRecommender(random_state=args.seed).fit(X, texts)
    fit_s = time.perf_counter() - t0
    n_topics = max(10, args.items // 500)
    new_texts = make_texts(rng.integers(0, n_topics, args.candidates), n_topics, rng, length=60)
    candidates = args.items + np.arange(args.candidates)
    prior = rng.exponential(1.0, args.candidates)
    users = np.arange(args.users)
    exclude = [candidates[rng.integers(0, args.candidates, 2)] for _ in users]
    rows = []
    for diversity in (0.0, args.diversity):
        t0 = time.perf_counter()
        ids, scores, reasons = model.recommend(
            users,
            candidates,
            args.n,
            candidate_content=new_texts,
            exclude=exclude,
            prior=prior,
            diversity=diversity,
            return_reasons=True,
        )
        rec_s = time.perf_counter() - t0
        assert ids.shape == (args.users, args.n) and (ids >= 0).all()
        rows.append({"diversity": diversity, "recommend_s": round(rec_s, 2), "users_per_s": round(args.users / rec_s)})
    print(
        f"users={args.users} items={args.items} interactions={X.nnz} "
        f"candidates={args.candidates} n={args.n} fit_s={fit_s:.1f}"
    )
    print(f"{'diversity':>9} {'recommend_s':>11} {'users_per_s':>11}")
    for r in rows:
        print(f"{r['diversity']:>9} {r['recommend_s']:>11} {r['users_per_s']:>11}")
    print(
        json.dumps(
            {
                "bench": "recommend",
                "users": args.users,
                "items": args.items,
                "interactions": int(X.nnz),
                "candidates": args.candidates,
                "n": args.n,
                "fit_s": round(fit_s, 2),
                "runs": rows,
                "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
