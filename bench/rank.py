"""Plan-phase ranking benchmark: ``recommend_for_rows`` as serving calls it, for many folded-in users.

Fits (or loads, ``--model``) a HybridRecommender on generated data, then ranks ``--users`` subscribers
who are not training users (fold-in from their rows, as ``recommend_for_users`` does every morning)
over ``--candidates`` new papers with text: onboarding categories, negatives, per-user exclusion
lists (seen papers and papers outside the subscriber's fields, as serving builds them), a trending
prior with include-keyword boosts, MMR diversity 0.3 and reasons. Users go in blocks of
``--block`` (one ``recommend_for_rows`` call each, as the plan phase chunks them) over one
``prepare_candidates``.

    python bench/rank.py --users 5000 --candidates 1000 --n 20
    python bench/rank.py --users 5000 --profile cprofile      # top functions by cumulative time

Prints a table (ms per user by phase, from ``recommend_for_rows(timings=...)``), then one JSON line.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

from bench.train import generate  # noqa: E402
from recommender.ranking.hybrid import HybridRecommender  # noqa: E402
from recommender.ranking.synthetic import make_texts  # noqa: E402

FIELDS = ("cs.LG", "cs.CL", "cs.CV", "stat.ML", "math.OC", "physics.data-an", "q-bio.NC", "econ.EM")


def load_or_fit(args) -> tuple[HybridRecommender, float]:
    """The model: loaded from ``--model`` when it exists, else fitted (and saved there when given)."""
    if args.model and os.path.exists(args.model):
        return HybridRecommender.load(args.model), 0.0
    X, texts = generate(args.train_users, args.items, args.interactions, args.seed)
    t0 = time.perf_counter()
    model = HybridRecommender(random_state=args.seed).fit(X, texts)
    fit_s = time.perf_counter() - t0
    if args.model:
        model.save(args.model)
    return model, fit_s


def subscribers(model: HybridRecommender, n_users: int, n_cands: int, rng: np.random.Generator):
    """Rows, negatives, categories, exclusions and prior of ``n_users`` subscribers, shaped like serving's.

    30% are active (20-50 positives over the training papers, 0-3 negatives); every subscriber has
    1-3 fields and never sees candidates outside them (serving's category rule), 10% have an include
    keyword that boosts 5% of the candidates.
    """
    n_items = model.n_items_
    pop = np.maximum(model.item_counts_, 0).astype(np.float64) + 0.5
    pop /= pop.sum()
    active = rng.random(n_users) < 0.3
    pr, pc, nr, nc = [], [], [], []
    for u in np.flatnonzero(active):
        k = int(rng.integers(20, 51))
        items = np.unique(rng.choice(n_items, size=k, p=pop))
        pr.append(np.full(len(items), u)), pc.append(items)
        neg = rng.integers(0, n_items, int(rng.integers(0, 4)))
        nr.append(np.full(len(neg), u)), nc.append(neg)

    def rows(r, c):
        r = np.concatenate(r) if r else np.zeros(0, np.int64)
        c = np.concatenate(c) if c else np.zeros(0, np.int64)
        return sp.csr_matrix((np.ones(len(r), np.float32), (r, c)), shape=(n_users, n_items))

    P, N = rows(pr, pc), rows(nr, nc)
    N = N - N.multiply(P > 0)  # a paper is liked or disliked, not both
    N.eliminate_zeros()
    cand_field = rng.integers(0, len(FIELDS), n_cands)
    user_fields = [rng.choice(len(FIELDS), int(rng.integers(1, 4)), replace=False) for _ in range(n_users)]
    categories = [[FIELDS[f] for f in fs] for fs in user_fields]
    excluded = np.array([~np.isin(cand_field, fs) for fs in user_fields])
    excluded |= rng.random((n_users, n_cands)) < 0.002  # already sent / seen
    prior = np.tile(rng.exponential(1.0, n_cands).astype(np.float32), (n_users, 1))
    boosted = rng.random(n_users) < 0.1
    prior[boosted] += 2.0 * (rng.random((int(boosted.sum()), n_cands)) < 0.05)
    return P.tocsr(), N.tocsr(), categories, excluded, prior


def run(model, prepared, data, candidates, args) -> tuple[dict, float, np.ndarray]:
    P, N, categories, excluded, prior = data
    timings: dict[str, float] = {}
    ids = []
    t0 = time.perf_counter()
    for start in range(0, P.shape[0], args.block):
        stop = min(P.shape[0], start + args.block)
        block_ids, _, _ = model.recommend_for_rows(
            P[start:stop],
            n=args.n,
            negative_rows=N[start:stop],
            categories=categories[start:stop],
            exclude=[candidates[np.flatnonzero(row)] for row in excluded[start:stop]],
            prior=prior[start:stop],
            diversity=args.diversity,
            return_reasons=True,
            prepared=prepared,
            timings=timings,
        )
        ids.append(block_ids)
    return timings, time.perf_counter() - t0, np.concatenate(ids)


def check(ids: np.ndarray, candidates: np.ndarray, excluded: np.ndarray, n: int) -> None:
    """The list invariants on every subscriber: unique, never excluded, as long as eligible candidates allow."""
    pos_of = {int(c): j for j, c in enumerate(candidates.tolist())}
    for r in range(len(ids)):
        k = min(n, int((~excluded[r]).sum()))
        head = ids[r, :k]
        assert (head >= 0).all() and (ids[r, k:] == -1).all(), f"row {r}: {k} expected"
        assert len(set(head.tolist())) == k, f"row {r}: a paper twice"
        assert not excluded[r, [pos_of[int(c)] for c in head]].any(), f"row {r}: an excluded paper"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--candidates", type=int, default=1000)
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--diversity", type=float, default=0.3)
    parser.add_argument("--block", type=int, default=2000, help="subscribers per recommend_for_rows call")
    parser.add_argument("--train-users", type=int, default=3000)
    parser.add_argument("--items", type=int, default=11000)
    parser.add_argument("--interactions", type=int, default=100_000)
    parser.add_argument("--model", default="", help="artifact path: loaded if it exists, else written after fit")
    parser.add_argument("--profile", choices=("none", "cprofile", "pyinstrument"), default="none")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed + 1)
    model, fit_s = load_or_fit(args)
    model.fold_in_gram()  # serving warms it at load
    n_topics = max(10, args.items // 500)
    texts = make_texts(rng.integers(0, n_topics, args.candidates), n_topics, rng, length=60)
    candidates = model.n_items_ + np.arange(args.candidates)
    t0 = time.perf_counter()
    prepared = model.prepare_candidates(candidates, candidate_content=texts, diversity=args.diversity)
    prepare_s = time.perf_counter() - t0
    data = subscribers(model, args.users, args.candidates, rng)
    load_1m = os.getloadavg()[0]
    profiler = None
    if args.profile == "cprofile":
        profiler = cProfile.Profile()
        profiler.enable()
    elif args.profile == "pyinstrument":
        from pyinstrument import Profiler

        profiler = Profiler()
        profiler.start()
    cpu0 = time.process_time()
    timings, wall_s, ids = run(model, prepared, data, candidates, args)
    cpu_s = time.process_time() - cpu0
    if args.profile == "cprofile":
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(35)
        print(out.getvalue())
    elif args.profile == "pyinstrument":
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False, show_all=False))
    check(ids, candidates, data[3], args.n)
    per_user = {k: round(1000 * v / args.users, 4) for k, v in timings.items() if not k.startswith("cpu:")}
    cpu_per_user = {k[4:]: round(1000 * v / args.users, 4) for k, v in timings.items() if k.startswith("cpu:")}
    print(
        f"users={args.users} candidates={args.candidates} n={args.n} diversity={args.diversity} "
        f"block={args.block} training papers={model.n_items_} prepare_s={prepare_s:.2f} "
        f"fit_s={fit_s:.1f} load_1m={load_1m:.2f}"
    )
    print(f"{'phase':<10} {'wall ms/user':>12} {'CPU ms/user':>12}")
    for k, v in per_user.items():
        print(f"{k:<10} {v:>12.4f} {cpu_per_user[k]:>12.4f}")
    print(f"{'total':<10} {1000 * wall_s / args.users:>12.4f} {1000 * cpu_s / args.users:>12.4f}")
    print(
        json.dumps(
            {
                "bench": "rank",
                "users": args.users,
                "candidates": args.candidates,
                "n": args.n,
                "diversity": args.diversity,
                "block": args.block,
                "training_papers": int(model.n_items_),
                "users_per_s": round(args.users / wall_s, 1),
                "ms_per_user": round(1000 * wall_s / args.users, 4),
                "cpu_ms_per_user": round(1000 * cpu_s / args.users, 4),
                "ms_per_user_by_phase": per_user,
                "cpu_ms_per_user_by_phase": cpu_per_user,
                "prepare_s": round(prepare_s, 2),
                "fit_s": round(fit_s, 2),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "load_avg_1m_at_start": round(load_1m, 2),
                "profile": args.profile,
            }
        )
    )


if __name__ == "__main__":
    main()
