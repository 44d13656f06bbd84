"""Offline evaluation protocols (warm, cold, digest) and their command line.

This module owns how the recommender is judged on real CiteULike-format data,
side by side with tuned baselines in one run, one table, one seed:

* ``warm``: per split P (the data's ``splits/`` or generated P=1 and P=10),
  rank all items except the user's training items; recall@50/100/300 over
  users with test items.
* ``cold``: 20% of items held out with all their interactions; rank only the
  held-out items (given as new content) for users who have one and at least
  one training item; recall@20/50/100.
* ``digest``: the held-out items in batches of 200 (a day's announcements);
  per (user, batch) with a positive: recall@10 and nDCG@10.

Every method, ``ours`` included, is tuned with the same budget on a
validation split of the training interactions (:mod:`.tuning`), refitted on
all training data and scored on the test split once. Means are over all
eligible users (``--max-users`` samples, and the rows say so); each row
carries a 95% paired-bootstrap interval of ``ours`` minus the method
(:mod:`.bootstrap`). ``--ablation`` scores ``ours`` with each term switched
off in turn. Run without Django::

    python -m recommender.ranking.evaluation --data-dir DIR --protocol warm --json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

import numpy as np

from . import tuning
from .baselines import EASE, ALSRanker, PopularRanker, RandomRanker, SVMTfidf
from .bootstrap import N_RESAMPLES, paired_bootstrap
from .datasets import Dataset, DatasetError, load_dataset, make_cold_split, make_p_split
from .hybrid import HybridRecommender
from .import_protocol import evaluate_import
from .knn import ItemKNNCBF, ItemKNNCF, ItemKNNCFCBF, RP3beta
from .protocols import DIGEST_BATCH, Task, cold_task, digest_task, fit_ranker, subset_content, warm_task

METHODS = (
    "random",
    "popular",
    "itemknn-cf",
    "rp3beta",
    "ease",
    "ials",
    "itemknn-cbf",
    "itemknn-cfcbf",
    "svm-tfidf",
    "ours",
)
WARM_ONLY = frozenset({"popular", "itemknn-cf", "rp3beta", "ease", "ials"})
"""Collaborative-only methods: they cannot rank a paper nobody has read, so cold and digest skip them."""
CUTOFFS = {"warm": (50, 100, 300), "cold": (20, 50, 100), "digest": (10,)}
REFERENCE = "ours"

_FACTORIES = {
    "random": RandomRanker,
    "popular": PopularRanker,
    "itemknn-cf": ItemKNNCF,
    "rp3beta": RP3beta,
    "ease": EASE,
    "ials": ALSRanker,
    "itemknn-cbf": ItemKNNCBF,
    "itemknn-cfcbf": ItemKNNCFCBF,
    "svm-tfidf": SVMTfidf,
    "ours": HybridRecommender,
}
_SEEDED = frozenset({"random", "ials", "ours"})

ABLATIONS = {
    "knn": {"knn_weight": 0.0},
    "centroid": {"centroid_weight": 0.0},
    "cf": {"cf_weight": 0.0},
    "factor-map": {"factor_smoothing": 0.0},
    "validation": {"validation": False},
}
"""``ours`` with one term off, through constructor parameters only (a weight of 0 stays 0 through the
blend validation). ``factor-map`` removes the content-to-factor estimate from *warm* papers only: the
constructor has no switch for new papers, whose CF term is that estimate (``cf`` removes both). The prior
and MMR are not scored offline (no prior, diversity 0), so they have no variant."""


def ablation_methods() -> list[str]:
    """``ours`` then ``ours-no-<term>`` for every term HybridRecommender's constructor can switch off."""
    params = HybridRecommender().get_params()
    return [REFERENCE] + [f"ours-no-{t}" for t, sw in ABLATIONS.items() if set(sw) <= set(params)]


def _base(name: str) -> tuple[str, dict]:
    """Method name -> (factory name, fixed parameters) (ablation variants are ``ours`` plus a switch)."""
    if name.startswith("ours-no-"):
        return REFERENCE, ABLATIONS[name.removeprefix("ours-no-")]
    return name, {}


def make_ranker(name: str, seed: int = 0, **params):
    """A fresh, unfitted ranker for a method name, with constructor ``params`` over its defaults."""
    base, fixed = _base(name)
    if base in _SEEDED:
        params = {"random_state": seed, **params}
    return _FACTORIES[base](**{**params, **fixed})


def sample_users(eligible: np.ndarray, max_users: int, seed: int) -> np.ndarray:
    """Fixed random sample (sorted) of at most ``max_users`` users; 0 = all."""
    if max_users and len(eligible) > max_users:
        rng = np.random.default_rng(seed)
        return np.sort(rng.choice(eligible, max_users, replace=False))
    return np.asarray(eligible)


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


class Settings:
    """Run-wide options every protocol shares (seed, user sample, tuning budget, bootstrap)."""

    def __init__(
        self,
        seed: int = 0,
        max_users: int = 0,
        tune_budget: int = tuning.DEFAULT_BUDGET,
        tune_users: int = tuning.DEFAULT_USERS,
        resamples: int = N_RESAMPLES,
        log=print,
    ) -> None:
        self.seed = seed
        self.max_users = max_users
        self.tune_budget = tune_budget
        self.tune_users = tune_users
        self.resamples = resamples
        self.log = log


def _tune(name: str, validation: Task | None, cfg: Settings, chosen: dict) -> tuning.Tuned:
    """Tune a method; ablation variants reuse what ``ours`` chose in this split (same budget spent once)."""
    base, _ = _base(name)
    if base != name and REFERENCE in chosen:
        return tuning.Tuned(chosen[REFERENCE].params, f"as {REFERENCE}", 0)
    return tuning.tune(
        lambda params: make_ranker(name, cfg.seed, **params),
        tuning.SPACES.get(base, {}),
        validation,
        cfg.tune_budget,
        cfg.seed,
        log=cfg.log,
    )


def run_methods(
    tasks: Task | Sequence[Task], validation: Task | None, methods: Sequence[str], cfg: Settings, meta: dict
) -> list[dict]:
    """Tune, fit and score every method; then the paired intervals against ``ours``, per task.

    Several tasks on the same training data (cold and digest) share one tuning and one fit per method:
    only the scoring differs.
    """
    tasks = [tasks] if isinstance(tasks, Task) else list(tasks)
    rows: dict[str, list[dict]] = {t.split: [] for t in tasks}
    scores: dict[str, dict] = {t.split: {} for t in tasks}
    chosen: dict[str, tuning.Tuned] = {}
    for name in methods:
        if tasks[0].kind != "warm" and _base(name)[0] in WARM_ONLY:
            continue
        tuned = chosen[name] = _tune(name, validation, cfg, chosen)
        ranker = make_ranker(name, cfg.seed, **tuned.params)
        fit_s = fit_ranker(ranker, tasks[0])
        for task in tasks:
            if task.train is not tasks[0].train:
                raise ValueError("tasks scored together must share their training data")
            t0 = time.perf_counter()
            obs, groups = task.score(ranker)
            rank_s = time.perf_counter() - t0
            row = {"split": task.split, "method": name}
            row.update({k: round(float(np.mean(v)), 4) for k, v in obs.items()})
            row.update({"fit_s": _fit_seconds(ranker, fit_s), "rank_s": round(rank_s, 3), **meta, **tuned.row()})
            row.update(_blend_info(ranker))
            cfg.log(f"  {name:14s} {_short(row)}")
            rows[task.split].append(row)
            scores[task.split][name] = (obs, groups)
    for split in rows:
        add_intervals(rows[split], scores[split], cfg.resamples)
    return [row for split in rows for row in rows[split]]


def _short(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in ("split", "method", "blend", "blend_source")}


def add_intervals(rows: list[dict], scores: dict, resamples: int = N_RESAMPLES) -> None:
    """Add ``d_<metric>`` (ours - method) and its 95% paired-bootstrap ``_lo`` / ``_hi`` to each row."""
    if REFERENCE not in scores:
        return
    ref, groups = scores[REFERENCE]
    for row in rows:
        if row["method"] == REFERENCE:
            continue
        obs, _ = scores[row["method"]]
        for metric, values in obs.items():
            d, lo, hi = paired_bootstrap(ref[metric], values, groups, n_resamples=resamples)
            row[f"d_{metric}"], row[f"d_{metric}_lo"], row[f"d_{metric}_hi"] = round(d, 4), round(lo, 4), round(hi, 4)


def _users_meta(users: np.ndarray, eligible: np.ndarray) -> dict:
    meta = {"n_users": int(len(users))}
    if len(users) < len(eligible):
        meta["sampled"] = f"{len(users)} of {len(eligible)} eligible users (--max-users)"
    return meta


def evaluate_warm(ds: Dataset, methods: Sequence[str], cfg: Settings, splits: Sequence[str] = ()) -> list[dict]:
    """Warm protocol over the dataset's P splits (or generated P=1 and P=10); ``splits`` picks some."""
    available = dict(ds.splits)
    if not available:
        for p in (1, 10):
            available[f"P{p}"] = make_p_split(ds.interactions, p, cfg.seed)
    unknown = set(splits) - set(available)
    if unknown:
        raise DatasetError(f"no split {sorted(unknown)} in {ds.name} (it has {sorted(available)})")
    results = []
    for split_name in sorted(splits or available, key=lambda s: int(s[1:])):
        train, test = available[split_name]
        eligible = np.flatnonzero(np.diff(test.indptr) > 0)
        users = sample_users(eligible, cfg.max_users, cfg.seed)
        cfg.log(f"[warm {split_name}] {len(users)} users, {train.nnz} train pairs")
        task = warm_task(split_name, train, test, ds.content, users, CUTOFFS["warm"], ds.vocabulary)
        validation = tuning.warm_validation(train, ds.content, cfg.seed, cfg.tune_users, ds.vocabulary)
        results += run_methods(task, validation, methods, cfg, _users_meta(users, eligible))
    return results


def _cold_setup(ds: Dataset, cfg: Settings):
    warm_items, cold_items = make_cold_split(ds.interactions, 0.2, cfg.seed)
    X = ds.interactions.tocsc()
    train = X[:, warm_items].tocsr()
    held = X[:, cold_items].tocsr()
    eligible = np.flatnonzero((np.diff(train.indptr) > 0) & (np.diff(held.indptr) > 0))
    users = sample_users(eligible, cfg.max_users, cfg.seed)
    train_content = subset_content(ds.content, warm_items)
    cold_content = subset_content(ds.content, cold_items)
    validation = tuning.cold_validation(train, train_content, cfg.seed, cfg.tune_users, ds.vocabulary)
    return train, held, users, train_content, cold_content, validation, _users_meta(users, eligible)


def evaluate_cold(ds: Dataset, methods: Sequence[str], cfg: Settings) -> list[dict]:
    """Cold protocol: held-out items (20%) ranked from content only."""
    train, held, users, train_content, cold_content, validation, meta = _cold_setup(ds, cfg)
    cfg.log(f"[cold] {len(users)} users, {held.shape[1]} held-out items")
    task = cold_task("cold", train, held, train_content, cold_content, users, CUTOFFS["cold"], ds.vocabulary)
    return run_methods(task, validation, methods, cfg, meta)


def evaluate_digest(ds: Dataset, methods: Sequence[str], cfg: Settings) -> list[dict]:
    """Digest protocol: held-out items in daily batches of 200, top 10 per user and day."""
    train, held, users, train_content, cold_content, validation, meta = _cold_setup(ds, cfg)
    cfg.log(f"[digest] {len(users)} users, batches of {DIGEST_BATCH}")
    task = digest_task(train, held, train_content, cold_content, users, cfg.seed, ds.vocabulary)
    return run_methods(task, validation, methods, cfg, meta)


def evaluate_cold_digest(ds: Dataset, methods: Sequence[str], cfg: Settings) -> list[dict]:
    """``cold`` and ``digest`` in one run: the same split, tuning and fits, two scorings (the same rows)."""
    train, held, users, train_content, cold_content, validation, meta = _cold_setup(ds, cfg)
    cfg.log(f"[cold+digest] {len(users)} users, {held.shape[1]} held-out items")
    tasks = [
        cold_task("cold", train, held, train_content, cold_content, users, CUTOFFS["cold"], ds.vocabulary),
        digest_task(train, held, train_content, cold_content, users, cfg.seed, ds.vocabulary),
    ]
    return run_methods(tasks, validation, methods, cfg, meta)


PROTOCOLS = {
    "warm": evaluate_warm,
    "cold": evaluate_cold,
    "digest": evaluate_digest,
    "cold+digest": evaluate_cold_digest,
    "import": evaluate_import,  # a titles-only library import vs warm P10 (import_protocol.py)
}


def format_table(results: list[dict]) -> str:
    """Plain-text table, one row per (split, method), of the numeric columns only.

    Rows carry non-numeric fields too (the blend ``ours`` chose, the tuned
    parameters); those stay in the JSON, as do the interval columns
    (``d_*``, drawn by :func:`format_intervals`). Columns are the union over
    all rows, so a method that reports more (or fewer) figures than the first
    never breaks it.
    """
    if not results:
        return "(no results)"
    keys: list[str] = []
    for row in results:
        for k, v in row.items():
            if k not in ("split", "method") and not k.startswith("d_") and k not in keys and _is_number(v):
                keys.append(k)
    width = {k: max(10, len(k)) for k in keys}
    name_w = max([14] + [len(str(r["method"])) for r in results])
    header = f"{'split':10s} {'method':{name_w}s} " + " ".join(f"{k:>{width[k]}s}" for k in keys)
    lines = [header, "-" * len(header)]
    for row in results:
        cells = [_cell(row.get(k), width[k]) for k in keys]
        lines.append(f"{row['split']:10s} {row['method']:{name_w}s} " + " ".join(cells))
    return "\n".join(lines)


def _cell(value, width: int) -> str:
    if not _is_number(value):
        return f"{'-':>{width}s}"
    if isinstance(value, int | np.integer):
        return f"{value:{width}d}"
    return f"{value:{width}.4f}"


def format_intervals(results: list[dict]) -> str:
    """``ours`` minus each method per metric, with the 95% paired-bootstrap interval: ``+0.012 [+0.005, +0.019]``."""
    metrics: list[str] = []
    for row in results:
        for k in row:
            if k.startswith("d_") and not k.endswith(("_lo", "_hi")) and k[2:] not in metrics:
                metrics.append(k[2:])
    rows = [r for r in results if any(f"d_{m}" in r for m in metrics)]
    if not rows:
        return "(no paired intervals: ours was not run)"
    name_w = max([14] + [len(str(r["method"])) for r in rows])
    header = f"{'split':10s} {'ours minus':{name_w}s} " + " ".join(f"{m:>26s}" for m in metrics)
    lines = [header, "-" * len(header)]
    for row in rows:
        cells = []
        for m in metrics:
            if f"d_{m}" in row:
                cells.append(f"{row[f'd_{m}']:+.4f} [{row[f'd_{m}_lo']:+.4f}, {row[f'd_{m}_hi']:+.4f}]".rjust(26))
            else:
                cells.append(f"{'-':>26s}")
        lines.append(f"{row['split']:10s} {row['method']:{name_w}s} " + " ".join(cells))
    return "\n".join(lines)


def _is_number(value) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def build_parser() -> argparse.ArgumentParser:
    """Arguments shared by the module CLI and the Django management command."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> list[str]:
    """Add the evaluation options to ``parser``; returns their destination names."""
    actions = [
        parser.add_argument("--data-dir", required=True, help="CiteULike-format data directory"),
        parser.add_argument("--protocol", choices=sorted(PROTOCOLS), required=True),
        parser.add_argument("--json", action="store_true", help="print one JSON object last"),
        parser.add_argument("--seed", type=int, default=0),
        parser.add_argument(
            "--max-users", type=int, default=0, help="score a fixed sample of users (0 = all eligible, the default)"
        ),
        parser.add_argument(
            "--methods", default=",".join(METHODS), help="comma-separated subset of " + ",".join(METHODS)
        ),
        parser.add_argument(
            "--content",
            default="auto",
            choices=["auto", "mult", "raw", "titles"],
            help="item content source (auto: raw-data.csv, then mult.dat, then titles.txt)",
        ),
        parser.add_argument(
            "--tune-budget",
            type=int,
            default=tuning.DEFAULT_BUDGET,
            help="configurations tried per method on the validation split (defaults first; 1 = no tuning)",
        ),
        parser.add_argument(
            "--tune-users", type=int, default=tuning.DEFAULT_USERS, help="validation users scored per configuration"
        ),
        parser.add_argument(
            "--splits", default="", help="warm only: comma-separated splits, e.g. P1,P10 (default all)"
        ),
        parser.add_argument("--resamples", type=int, default=N_RESAMPLES, help="paired bootstrap resamples"),
        parser.add_argument(
            "--ablation", action="store_true", help="evaluate ours with each term switched off (replaces --methods)"
        ),
    ]
    return [a.dest for a in actions]


def option_names() -> list[str]:
    """Destination names of every evaluation option (for the Django command's hand-over)."""
    return add_arguments(argparse.ArgumentParser())


def run(
    data_dir: str,
    protocol: str,
    *,
    methods: Sequence[str] = METHODS,
    content: str = "auto",
    splits: Sequence[str] = (),
    settings: Settings | None = None,
    log=print,
) -> dict:
    """Run one protocol and return ``{"protocol": ..., "results": [...]}``."""
    cfg = settings or Settings(log=log)
    known = set(METHODS) | set(ablation_methods())
    unknown = {m for m in methods if m not in known}
    if unknown:
        raise ValueError(f"unknown methods: {sorted(unknown)}")
    ds = load_dataset(data_dir, content=content)
    cfg.log(
        f"dataset {ds.name}: {ds.n_users} users, {ds.n_items} items, "
        f"{ds.interactions.nnz} pairs, content={ds.content_kind}; tune budget {cfg.tune_budget}"
    )
    if protocol == "warm":
        results = evaluate_warm(ds, list(methods), cfg, splits)
    else:
        results = PROTOCOLS[protocol](ds, list(methods), cfg)
    return {
        "protocol": protocol,
        "dataset": ds.name,
        "content": ds.content_kind,
        "tune_budget": cfg.tune_budget,
        "tune_users": cfg.tune_users,
        "max_users": cfg.max_users,
        "resamples": cfg.resamples,
        "results": results,
    }


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
    """Execute parsed arguments, printing progress, the tables and optional JSON."""

    def log(msg: str) -> None:
        out.write(msg + "\n")
        out.flush()

    ablation = getattr(args, "ablation", False)
    methods = ablation_methods() if ablation else [m.strip() for m in args.methods.split(",") if m.strip()]
    settings = Settings(
        seed=args.seed,
        max_users=args.max_users,
        tune_budget=getattr(args, "tune_budget", tuning.DEFAULT_BUDGET),
        tune_users=getattr(args, "tune_users", tuning.DEFAULT_USERS),
        resamples=getattr(args, "resamples", N_RESAMPLES),
        log=log,
    )
    t0 = time.perf_counter()
    report = run(
        args.data_dir,
        args.protocol,
        methods=methods,
        content=args.content,
        splits=[s.strip() for s in (getattr(args, "splits", "") or "").split(",") if s.strip()],
        settings=settings,
    )
    report["wall_s"] = round(time.perf_counter() - t0, 1)
    # The JSON is the product of a long run and stays the last line; the tables are only a view of it,
    # so a table that cannot be drawn must never cost the JSON.
    for draw in (format_table, format_intervals):
        try:
            log(draw(report["results"]))
        except (TypeError, ValueError, KeyError) as exc:
            log(f"(table not drawn: {exc}; the JSON below has every figure)")
    if args.json:
        log(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
