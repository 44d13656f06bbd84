"""Turn the live database into the recommender's matrices.

This module owns the mapping between database ids and matrix indices: users
are rows, papers are columns, interaction kinds become confidences through
``recommender.ranking.weights``. The ranking code never sees Django.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from django.utils import timezone

from ..models import Interaction, Paper
from ..ranking.weights import KIND_WEIGHTS, NEGATIVE_KINDS, build_matrices

# Recent papers are part of every training set even without interactions, so
# the content encoder has seen today's vocabulary and their columns exist for
# users who vote on them before the next training.
RECENT_DAYS = 30
MAX_ITEMS = 200_000


def paper_text(title: str, abstract: str) -> str:
    return f"{title}. {abstract}"


@dataclass
class TrainingData:
    user_ids: np.ndarray  # row -> auth user id
    paper_ids: np.ndarray  # column -> Paper.id
    texts: list[str]
    events: list[tuple[int, int, str, float]]  # (row, column, kind, created_at timestamp)

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.user_ids), len(self.paper_ids)

    def matrices(self, events=None) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        events = self.events if events is None else events
        return build_matrices(((u, i, k) for u, i, k, _ in events), *self.shape)


def training_data_load(*, now: dt.datetime | None = None) -> TrainingData:
    """Load every interaction plus recent papers into index-mapped arrays."""
    now = now or timezone.now()
    rows = list(
        Interaction.objects.filter(kind__in=list(KIND_WEIGHTS)).values_list("user_id", "paper_id", "kind", "created_at")
    )
    since = (now - dt.timedelta(days=RECENT_DAYS)).date()
    paper_ids = {p for _, p, _, _ in rows}
    paper_ids.update(Paper.objects.filter(announced_on__gte=since).values_list("id", flat=True)[:MAX_ITEMS])
    papers = dict(Paper.objects.filter(pk__in=paper_ids).values_list("id", "title").order_by())
    abstracts = dict(Paper.objects.filter(pk__in=paper_ids).values_list("id", "abstract").order_by())
    ordered_papers = np.array(sorted(papers), dtype=np.int64)
    col = {pid: j for j, pid in enumerate(ordered_papers.tolist())}
    ordered_users = np.array(sorted({u for u, _, _, _ in rows}), dtype=np.int64)
    row = {uid: i for i, uid in enumerate(ordered_users.tolist())}
    events = [(row[u], col[p], k, t.timestamp()) for u, p, k, t in rows if p in col]
    texts = [paper_text(papers[pid], abstracts[pid]) for pid in ordered_papers.tolist()]
    return TrainingData(user_ids=ordered_users, paper_ids=ordered_papers, texts=texts, events=events)


def split_holdout(data: TrainingData, *, fraction: float = 0.2, min_positives: int = 3, seed: int = 0):
    """Hold out each user's most recent positive interactions (time-ordered split).

    Returns ``(train_events, heldout)`` where ``heldout`` maps a row to the
    set of columns to recover. Users with fewer than ``min_positives``
    positives keep everything in training.
    """

    by_user: dict[int, list[tuple[float, int]]] = {}
    for u, i, k, t in data.events:
        if k not in NEGATIVE_KINDS:
            by_user.setdefault(u, []).append((t, i))
    held: dict[int, set[int]] = {}
    for u, items in by_user.items():
        unique = sorted({i: t for t, i in sorted(items)}.items(), key=lambda kv: kv[1])
        if len(unique) < min_positives:
            continue
        k = max(1, int(round(len(unique) * fraction)))
        held[u] = {i for i, _ in unique[-k:]}
    train = [e for e in data.events if e[1] not in held.get(e[0], ())]
    return train, held
