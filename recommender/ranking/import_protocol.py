"""The ``import`` protocol: does a library imported by title cost recall against knowing the ids?

Each user's P=10 training papers (the data's ``splits/train_P10_1.dat``, else a
generated P=10 split) are written as one BibTeX file per user with the titles
only (no ids, no authors, no year: what CiteULike holds), read by the real
BibTeX parser and matched against the catalogue (``titles.txt``) by the real
matching module (``recommender.library.matching``: the part of an import that
can lose or confuse papers). The matched papers become that user's training
row; each method is fitted on those rows and ranks every paper but the matched
ones; recall@50/100/300 of the user's test papers, next to the same methods on
the true P=10 rows (warm P10). The Django write path (saves, fold-in) is
exercised by the tests, not here: it cannot lose a matched paper.

No Django imports (like the rest of ``recommender.ranking``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from ..library import matching, parsers
from .datasets import Dataset, DatasetError, make_p_split
from .protocols import rows_of, warm_task

SPLIT = "P10"
_BIB_ESCAPES = str.maketrans({"{": "", "}": "", "&": "\\&", "%": "\\%", "#": "\\#"})


def bibtex_for(titles: Sequence[str], items: Sequence[int], user: int) -> str:
    """One user's library as a reference manager would export it with titles only."""
    return "".join(
        f"@article{{u{user}i{item},\n  title = {{{titles[item].translate(_BIB_ESCAPES)}}}\n}}\n" for item in items
    )


def import_rows(titles: Sequence[str], train: sp.csr_matrix) -> tuple[sp.csr_matrix, dict]:
    """Every user's training row as matched from a titles-only BibTeX file, and the matching counts."""
    t0 = time.perf_counter()
    catalogue = matching.Catalogue(matching.CatalogueItem(pk=i, arxiv_id="", title=t) for i, t in enumerate(titles))
    index_s = time.perf_counter() - t0
    stats = {"entries": 0, "matched": 0, "correct": 0, "same_title": 0, "wrong": 0, "unmatched": 0}
    rows, cols = [], []
    for user, items in enumerate(rows_of(train, np.arange(train.shape[0]))):
        if len(items) == 0:
            continue
        entries = parsers.parse_bibtex(bibtex_for(titles, items, user), max_entries=10_000)
        truth = {f"u{user}i{item}": int(item) for item in items}
        for outcome in matching.match(catalogue, entries).outcomes:
            stats["entries"] += 1
            if outcome.status not in ("title", "duplicate") or outcome.pk is None:
                stats["unmatched"] += 1
                continue
            stats["matched"] += 1
            true_item = truth[outcome.ref]
            if outcome.pk == true_item:
                stats["correct"] += 1
            elif catalogue.keys[outcome.pk] == catalogue.keys[true_item]:
                stats["same_title"] += 1  # two catalogue rows with one title (the data's own duplicates)
            else:
                stats["wrong"] += 1
            rows.append(user)
            cols.append(outcome.pk)
    stats["match_s"] = round(time.perf_counter() - t0, 1)
    stats["index_s"] = round(index_s, 2)
    matrix = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=train.shape)
    matrix.sum_duplicates()
    matrix.data[:] = 1.0  # a paper matched twice (duplicate titles) is one interaction
    return matrix, stats


def evaluate_import(ds: Dataset, methods: Sequence[str], cfg) -> list[dict]:
    """Warm P10 on the true rows, then on the rows a titles-only import recovers; same users, same test."""
    from . import evaluation, tuning  # here: evaluation imports this module for its protocol table

    if ds.content_kind != "titles":
        raise DatasetError("the import protocol matches titles: run it with --content titles (titles.txt)")
    train, test = ds.splits.get(SPLIT) or make_p_split(ds.interactions, 10, cfg.seed)
    imported, stats = import_rows(ds.content, train)
    cfg.log(f"[import] matching: {stats}")
    eligible = np.flatnonzero(np.diff(test.indptr) > 0)
    users = evaluation.sample_users(eligible, cfg.max_users, cfg.seed)
    meta = {"n_users": int(len(users))}
    cutoffs = evaluation.CUTOFFS["warm"]
    results = []
    for name, rows in ((SPLIT, train), (f"{SPLIT}-import", imported)):
        task = warm_task(name, rows, test, ds.content, users, cutoffs, ds.vocabulary)
        validation = tuning.warm_validation(rows, ds.content, cfg.seed, cfg.tune_users, ds.vocabulary)
        results += evaluation.run_methods(task, validation, methods, cfg, meta)
    warm = {r["method"]: r for r in results if r["split"] == SPLIT}
    for row in results:
        if row["split"] != SPLIT and row["method"] in warm:
            for k in cutoffs:
                ref = warm[row["method"]].get(f"recall@{k}") or 0.0
                row[f"vs_warm@{k}"] = round(row[f"recall@{k}"] / ref, 4) if ref else None
            row.update({f"match_{key}": value for key, value in stats.items()})
    return results
