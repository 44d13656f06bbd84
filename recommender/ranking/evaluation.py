"""Offline evaluation protocols (warm, cold, digest) and their command line.

This module owns how the recommender is judged on real CiteULike-format data,
side by side with the baselines in one run, one table, one seed:

* ``warm``: per split P (the data's ``splits/`` or generated P=1 and P=10),
  rank all items except the user's training items; recall@50/100/300 over
  users with test items.
* ``cold``: 20% of items held out with all their interactions; rank only the
  held-out items (given as new content) for users who have one and at least
  one training item; recall@20/50/100.
* ``digest``: the held-out items in batches of 200 (a day's announcements);
  per (user, batch) with a positive: recall@10 and nDCG@10.

Users are a fixed random sample (``--max-users``, default 1000; 0 = all), the
same users for every method. Run without Django::

    python -m recommender.ranking.evaluation --data-dir DIR --protocol warm --json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sp

from .baselines import ALSRanker, ItemKNNTfidf, PopularRanker, RandomRanker, SVMTfidf
from .content import Content
from .datasets import Dataset, DatasetError, load_dataset, make_cold_split, make_p_split
from .hybrid import HybridRecommender
from .metrics import ndcg_at_k, recall_at_k

METHODS = ("random", "popular", "itemknn-tfidf", "svm-tfidf", "als", "ours")
WARM_ONLY = frozenset({"popular", "als"})
CUTOFFS = {"warm": (50, 100, 300), "cold": (20, 50, 100), "digest": (10,)}
DIGEST_BATCH = 200


def make_ranker(name: str, seed: int = 0):
    """A fresh, unfitted ranker for a method name."""
    factories: dict[str, Callable[[], object]] = {
        "random": lambda: RandomRanker(random_state=seed),
        "popular": PopularRanker,
        "itemknn-tfidf": ItemKNNTfidf,
        "svm-tfidf": SVMTfidf,
        "als": lambda: ALSRanker(random_state=seed),
        "ours": lambda: HybridRecommender(random_state=seed),
    }
    return factories[name]()


def subset_content(content: Content, idx: np.ndarray) -> Content:
    """Content rows ``idx`` of a list of texts or a sparse count matrix."""
    if sp.issparse(content):
        return sp.csr_matrix(content)[idx]
    return [content[i] for i in idx]


def sample_users(eligible: np.ndarray, max_users: int, seed: int) -> np.ndarray:
    """Fixed random sample (sorted) of at most ``max_users`` users; 0 = all."""
    if max_users and len(eligible) > max_users:
        rng = np.random.default_rng(seed)
        return np.sort(rng.choice(eligible, max_users, replace=False))
    return np.asarray(eligible)


def _fit(name: str, ranker, train: sp.csr_matrix, content: Content, ds: Dataset) -> float:
    t0 = time.perf_counter()
    if name == "ours" and ds.vocabulary is not None and sp.issparse(content):
        ranker.fit(train, content, vocabulary=ds.vocabulary)
    else:
        ranker.fit(train, content)
    return time.perf_counter() - t0


def _fit_seconds(ranker, seconds: float) -> float:
    return round(seconds + getattr(ranker, "lazy_fit_seconds_", 0.0), 3)


def _blend_info(ranker) -> dict:
    """The blend ``ours`` chose at fit (warm row, cold row) and where it came from."""
    if not hasattr(ranker, "blend_"):
        return {}
    return {
        "blend": [[round(float(x), 4) for x in row] for row in ranker.blend_],
        "blend_source": [str(x) for x in ranker.blend_source_],
    }


def evaluate_warm(ds: Dataset, methods: Sequence[str], seed: int = 0, max_users: int = 1000, log=print) -> list[dict]:
    """Warm protocol over the dataset's P splits (or generated P=1 and P=10)."""
    splits = dict(ds.splits)
    if not splits:
        for p in (1, 10):
            splits[f"P{p}"] = make_p_split(ds.interactions, p, seed)
    results = []
    for split_name in sorted(splits, key=lambda s: int(s[1:])):
        train, test = splits[split_name]
        eligible = np.flatnonzero(np.diff(test.indptr) > 0)
        users = sample_users(eligible, max_users, seed)
        relevant = [test.indices[test.indptr[u] : test.indptr[u + 1]] for u in users]
        log(f"[warm {split_name}] {len(users)} users, {train.nnz} train pairs")
        for name in methods:
            ranker = make_ranker(name, seed)
            fit_s = _fit(name, ranker, train, ds.content, ds)
            t0 = time.perf_counter()
            ids, _ = ranker.recommend(users, None, max(CUTOFFS["warm"]), exclude=train[users])
            rank_s = time.perf_counter() - t0
            row = {"split": split_name, "method": name}
            for k in CUTOFFS["warm"]:
                row[f"recall@{k}"] = round(
                    float(np.mean([recall_at_k(ids[i], rel, k) for i, rel in enumerate(relevant)])),
                    4,
                )
            row["fit_s"] = _fit_seconds(ranker, fit_s)
            row["rank_s"] = round(rank_s, 3)
            row.update(_blend_info(ranker))
            log(f"  {name:14s} {row}")
            results.append(row)
    return results


def _cold_setup(ds: Dataset, seed: int, max_users: int):
    warm_items, cold_items = make_cold_split(ds.interactions, 0.2, seed)
    X = ds.interactions.tocsc()
    train = X[:, warm_items].tocsr()
    held = X[:, cold_items].tocsr()
    has_train = np.diff(train.indptr) > 0
    has_held = np.diff(held.indptr) > 0
    users = sample_users(np.flatnonzero(has_train & has_held), max_users, seed)
    train_content = subset_content(ds.content, warm_items)
    cold_content = subset_content(ds.content, cold_items)
    cand_ids = len(warm_items) + np.arange(len(cold_items))
    return train, held, users, train_content, cold_content, cand_ids


def evaluate_cold(ds: Dataset, methods: Sequence[str], seed: int = 0, max_users: int = 1000, log=print) -> list[dict]:
    """Cold protocol: held-out items (20%) ranked from content only."""
    train, held, users, train_content, cold_content, cand_ids = _cold_setup(ds, seed, max_users)
    n_warm = train.shape[1]
    relevant = [n_warm + held.indices[held.indptr[u] : held.indptr[u + 1]] for u in users]
    log(f"[cold] {len(users)} users, {len(cand_ids)} held-out items")
    results = []
    for name in methods:
        if name in WARM_ONLY:
            continue
        ranker = make_ranker(name, seed)
        fit_s = _fit(name, ranker, train, train_content, ds)
        t0 = time.perf_counter()
        ids, _ = ranker.recommend(users, cand_ids, max(CUTOFFS["cold"]), candidate_content=cold_content)
        rank_s = time.perf_counter() - t0
        row = {"split": "cold", "method": name}
        for k in CUTOFFS["cold"]:
            row[f"recall@{k}"] = round(
                float(np.mean([recall_at_k(ids[i], rel, k) for i, rel in enumerate(relevant)])), 4
            )
        row["fit_s"] = _fit_seconds(ranker, fit_s)
        row["rank_s"] = round(rank_s, 3)
        row.update(_blend_info(ranker))
        log(f"  {name:14s} {row}")
        results.append(row)
    return results


def evaluate_digest(ds: Dataset, methods: Sequence[str], seed: int = 0, max_users: int = 1000, log=print) -> list[dict]:
    """Digest protocol: held-out items in daily batches of 200, top 10 per user and day."""
    train, held, users, train_content, cold_content, cand_ids = _cold_setup(ds, seed, max_users)
    rng = np.random.default_rng(seed + 1)
    order = rng.permutation(len(cand_ids))
    batches = [order[i : i + DIGEST_BATCH] for i in range(0, len(order), DIGEST_BATCH)]
    heldc = held[users].tocsc()
    log(f"[digest] {len(users)} users, {len(batches)} batches of {DIGEST_BATCH}")
    results = []
    for name in methods:
        if name in WARM_ONLY:
            continue
        ranker = make_ranker(name, seed)
        fit_s = _fit(name, ranker, train, train_content, ds)
        t0 = time.perf_counter()
        recalls, ndcgs = [], []
        for batch in batches:
            sub = heldc[:, batch].tocsr()
            active = np.flatnonzero(np.diff(sub.indptr) > 0)
            if len(active) == 0:
                continue
            ids, _ = ranker.recommend(
                users[active],
                cand_ids[batch],
                10,
                candidate_content=subset_content(cold_content, batch),
            )
            for i, r in enumerate(active):
                rel = cand_ids[batch][sub.indices[sub.indptr[r] : sub.indptr[r + 1]]]
                recalls.append(recall_at_k(ids[i], rel, 10))
                ndcgs.append(ndcg_at_k(ids[i], rel, 10))
        rank_s = time.perf_counter() - t0
        row = {
            "split": "digest",
            "method": name,
            "recall@10": round(float(np.mean(recalls)), 4),
            "ndcg@10": round(float(np.mean(ndcgs)), 4),
            "fit_s": _fit_seconds(ranker, fit_s),
            "rank_s": round(rank_s, 3),
            **_blend_info(ranker),
        }
        log(f"  {name:14s} {row}")
        results.append(row)
    return results


PROTOCOLS = {"warm": evaluate_warm, "cold": evaluate_cold, "digest": evaluate_digest}


def format_table(results: list[dict]) -> str:
    """Plain-text table, one row per (split, method), of the numeric columns only.

    Rows carry non-numeric fields too (the blend ``ours`` chose, where it came
    from); those stay in the JSON. Columns are the union over all rows, so a
    method that reports more (or fewer) figures than the first never breaks it.
    """
    if not results:
        return "(no results)"
    keys: list[str] = []
    for row in results:
        for k, v in row.items():
            if k not in ("split", "method") and k not in keys and _is_number(v):
                keys.append(k)
    header = f"{'split':8s} {'method':14s} " + " ".join(f"{k:>10s}" for k in keys)
    lines = [header, "-" * len(header)]
    for row in results:
        cells = [f"{row[k]:10.4f}" if _is_number(row.get(k)) else f"{'-':>10s}" for k in keys]
        lines.append(f"{row['split']:8s} {row['method']:14s} " + " ".join(cells))
    return "\n".join(lines)


def _is_number(value) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def build_parser() -> argparse.ArgumentParser:
    """Arguments shared by the module CLI and the Django management command."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the evaluation options to ``parser``."""
    parser.add_argument("--data-dir", required=True, help="CiteULike-format data directory")
    parser.add_argument("--protocol", choices=sorted(PROTOCOLS), required=True)
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-users", type=int, default=1000, help="fixed user sample for all methods (0 = all)")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset of " + ",".join(METHODS))
    parser.add_argument(
        "--content",
        default="auto",
        choices=["auto", "mult", "raw", "titles"],
        help="item content source (auto: raw-data.csv, then mult.dat, then titles.txt)",
    )


def run(
    data_dir: str,
    protocol: str,
    *,
    seed: int = 0,
    max_users: int = 1000,
    methods: Sequence[str] = METHODS,
    content: str = "auto",
    log=print,
) -> dict:
    """Run one protocol and return ``{"protocol": ..., "results": [...]}``."""
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f"unknown methods: {sorted(unknown)}")
    ds = load_dataset(data_dir, content=content)
    log(
        f"dataset {ds.name}: {ds.n_users} users, {ds.n_items} items, "
        f"{ds.interactions.nnz} pairs, content={ds.content_kind}"
    )
    results = PROTOCOLS[protocol](ds, list(methods), seed=seed, max_users=max_users, log=log)
    return {"protocol": protocol, "dataset": ds.name, "content": ds.content_kind, "results": results}


def main(argv: Sequence[str] | None = None, out=None) -> int:
    """Command-line entry point; the JSON object (``--json``) is the last line."""
    out = out or sys.stdout
    args = build_parser().parse_args(argv)
    try:
        return run_from_args(args, out)
    except DatasetError as exc:
        print(f"evaluate: {exc}", file=sys.stderr)
        return 2


def run_from_args(args: argparse.Namespace, out) -> int:
    """Execute parsed arguments, printing progress, the table and optional JSON."""

    def log(msg: str) -> None:
        out.write(msg + "\n")
        out.flush()

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    report = run(
        args.data_dir,
        args.protocol,
        seed=args.seed,
        max_users=args.max_users,
        methods=methods,
        content=args.content,
        log=log,
    )
    # The JSON is the product of a long run and stays the last line; the table is only a view of it,
    # so a table that cannot be drawn must never cost the JSON.
    try:
        log(format_table(report["results"]))
    except (TypeError, ValueError, KeyError) as exc:
        log(f"(table not drawn: {exc}; the JSON below has every figure)")
    if args.json:
        log(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
