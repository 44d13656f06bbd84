"""Readers for CiteULike-format data directories and the splits used offline.

This module owns the on-disk format (``users.dat``, ``mult.dat`` +
``vocabulary.dat``, ``raw-data.csv``, ``titles.txt``, ``splits/``) so that the
evaluation code only sees matrices and lists of texts. ``item-tag.dat`` is
derived from interactions and is deliberately never read as content.
"""

from __future__ import annotations

import csv
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

LAYOUT = (
    "a CiteULike-format folder holds users.dat (one line per user: count item_id ...) and the item content: "
    "raw-data.csv, mult.dat (+ vocabulary.dat) or titles.txt; optional splits/train_P<N>_1.dat + test_P<N>_1.dat"
)


class DatasetError(ValueError):
    """A data folder that is missing or not in the CiteULike layout; the message says what it must contain."""


@dataclass
class Dataset:
    """Interactions plus item content of one data directory."""

    name: str
    interactions: sp.csr_matrix
    content: list[str] | sp.csr_matrix
    content_kind: str
    vocabulary: list[str] | None = None
    splits: dict[str, tuple[sp.csr_matrix, sp.csr_matrix]] = field(default_factory=dict)

    @property
    def n_users(self) -> int:
        return self.interactions.shape[0]

    @property
    def n_items(self) -> int:
        return self.interactions.shape[1]


def read_user_lists(path: Path) -> list[np.ndarray]:
    """One array of 0-based item ids per line (``count id id ...``)."""
    rows = []
    with open(path) as fh:
        for line in fh:
            parts = line.split()
            rows.append(np.asarray([int(p) for p in parts[1:]], dtype=np.int64))
    return rows


def lists_to_csr(rows: list[np.ndarray], n_items: int) -> sp.csr_matrix:
    """Binary user x item matrix from per-user item lists."""
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(r) for r in rows])
    indices = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    data = np.ones(len(indices), dtype=np.float32)
    m = sp.csr_matrix((data, indices, indptr), shape=(len(rows), n_items))
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


def read_mult(path: Path, n_words: int | None = None) -> sp.csr_matrix:
    """LDA-C bag of words (``N word:count ...`` per line) as a count matrix."""
    indptr, indices, data = [0], [], []
    with open(path) as fh:
        for line in fh:
            parts = line.split()
            for tok in parts[1:]:
                w, c = tok.split(":")
                indices.append(int(w))
                data.append(float(c))
            indptr.append(len(indices))
    width = max(indices) + 1 if indices else 0
    if n_words is not None:
        width = max(width, n_words)
    return sp.csr_matrix(
        (np.asarray(data, np.float32), np.asarray(indices, np.int64), np.asarray(indptr)),
        shape=(len(indptr) - 1, width),
    )


def read_raw_csv(path: Path) -> list[str]:
    """Title + abstract per paper from ``raw-data.csv`` (row order = item id)."""
    csv.field_size_limit(sys.maxsize)
    texts = []
    with open(path, newline="", encoding="utf-8", errors="replace") as fh:
        for row in csv.DictReader(fh):
            title = row.get("raw.title") or row.get("title") or ""
            texts.append(f"{title}. {title}. {row.get('raw.abstract') or ''}")
    return texts


def find_vocabulary(data_dir: Path) -> Path | None:
    """``vocabulary.dat`` in the directory or a sibling (e.g. ../citeulike-a)."""
    own = data_dir / "vocabulary.dat"
    if own.exists():
        return own
    parent = data_dir.resolve().parent
    for sibling in sorted(parent.iterdir()) if parent.exists() else []:
        cand = sibling / "vocabulary.dat"
        if sibling.is_dir() and cand.exists() and data_dir.name.startswith(sibling.name):
            return cand
    return None


def load_dataset(data_dir: str | Path, content: str = "auto") -> Dataset:
    """Load a CiteULike-format directory.

    ``content`` picks the item content: ``"auto"`` prefers raw text
    (``raw-data.csv``: title + abstract, which also yields bigrams), then the
    bag of words (``mult.dat``), then ``titles.txt``; or force one of
    ``"mult"``, ``"raw"``, ``"titles"``.
    """
    d = Path(data_dir)
    if not d.is_dir():
        raise DatasetError(f"{d} is not a folder: {LAYOUT}")
    if not (d / "users.dat").is_file():
        raise DatasetError(f"{d} has no users.dat: {LAYOUT}")
    users = read_user_lists(d / "users.dat")
    candidates = {
        "raw": d / "raw-data.csv",
        "mult": d / "mult.dat",
        "titles": d / "titles.txt",
    }
    kind = content
    if kind == "auto":
        kind = next((k for k, p in candidates.items() if p.exists()), "")
        if not kind:
            raise DatasetError(f"{d} has no item content: {LAYOUT}")
    vocabulary = None
    if kind == "mult":
        vocab_path = find_vocabulary(d)
        if vocab_path is not None:
            vocabulary = vocab_path.read_text().split()
        item_content: list[str] | sp.csr_matrix = read_mult(candidates["mult"], len(vocabulary) if vocabulary else None)
        n_items = item_content.shape[0]
    elif kind == "raw":
        item_content = read_raw_csv(candidates["raw"])
        n_items = len(item_content)
    else:
        item_content = candidates["titles"].read_text(errors="replace").split("\n")
        if item_content and item_content[-1] == "":
            item_content = item_content[:-1]
        n_items = len(item_content)
    max_id = max((int(r.max()) for r in users if len(r)), default=-1)
    if max_id >= n_items:
        raise DatasetError(f"users.dat refers to item {max_id} but the {kind} content has {n_items} items")
    ds = Dataset(
        name=d.name,
        interactions=lists_to_csr(users, n_items),
        content=item_content,
        content_kind=kind,
        vocabulary=vocabulary,
    )
    split_dir = d / "splits"
    if split_dir.is_dir():
        for train_path in sorted(split_dir.glob("train_P*_1.dat")):
            p = train_path.stem.split("_")[1]
            test_path = split_dir / f"test_{p}_1.dat"
            if test_path.exists():
                train = lists_to_csr(read_user_lists(train_path), n_items)
                test = lists_to_csr(read_user_lists(test_path), n_items)
                ds.splits[p] = (_pad_rows(train, ds.n_users), _pad_rows(test, ds.n_users))
    return ds


def _pad_rows(m: sp.csr_matrix, n_rows: int) -> sp.csr_matrix:
    if m.shape[0] == n_rows:
        return m
    m = m.tocsr().copy()
    m.resize((n_rows, m.shape[1]))
    return m


def make_p_split(interactions: sp.csr_matrix, p: int, seed: int = 0) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """P items per user in train, the rest in test (users with <= P items: all in train)."""
    rng = np.random.default_rng(seed)
    X = interactions.tocsr()
    train_rows, test_rows = [], []
    for u in range(X.shape[0]):
        items = X.indices[X.indptr[u] : X.indptr[u + 1]].copy()
        rng.shuffle(items)
        train_rows.append(np.sort(items[:p]))
        test_rows.append(np.sort(items[p:]))
    return lists_to_csr(train_rows, X.shape[1]), lists_to_csr(test_rows, X.shape[1])


def make_cold_split(interactions: sp.csr_matrix, fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Hold out ``fraction`` of items with all their interactions.

    Returns ``(warm_items, cold_items)`` as sorted index arrays.
    """
    rng = np.random.default_rng(seed)
    n_items = interactions.shape[1]
    perm = rng.permutation(n_items)
    n_cold = int(round(fraction * n_items))
    return np.sort(perm[n_cold:]), np.sort(perm[:n_cold])
