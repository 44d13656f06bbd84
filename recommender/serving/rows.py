"""One fold-in row per reader topic: whose votes it folds in, what it must not show, and its prior.

A topic ("RL theory", "LLM evaluation") is ranked as its own profile. Its row folds in the votes cast
under it plus the reader's account-wide votes (``Interaction.topic`` NULL: imports without a topic,
everything from before topics), applies its categories and include/exclude keywords and authors, and
weighs the trending prior by its personal <-> trending dial. A reader without a topic yet is one row
with every vote and no rules (what a reader without preferences always got).

Whatever a row folds in, it never shows a paper the reader acted on under any topic: a paper voted down
under one topic does not come back under another.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from ..models import TOPIC_TRENDING_WEIGHT_DEFAULT, Interaction, Topic
from .candidates import Candidates, matches

# Papers matching an "include" keyword or author get this many prior units.
INCLUDE_BOOST = 3.0
# The dial's far end, "what the community upvotes": the trending part of the prior weighs this many times
# what it weighs at the default (the personal terms then only break ties between equally trending papers).
TRENDING_SCALE_MAX = 50.0


def trending_scale(weight: float) -> float:
    """How many times its default weight the trending prior gets at dial ``weight`` (0 ... 1).

    The dial's odds over the default's: ``(w / (1 - w)) / (w0 / (1 - w0))`` with ``w0`` the default
    (``TOPIC_TRENDING_WEIGHT_DEFAULT``, 0.5): 0 gives 0 (no trending at all, only my taste), the default
    exactly 1 (the blend as it ranked before topics), 0.75 three times, 0.25 a third, 1 (and anything
    past ``TRENDING_SCALE_MAX``) ``TRENDING_SCALE_MAX``. Odds make each step of the slider a constant
    factor, so both halves of the slider feel alike.
    """
    w = min(max(float(weight), 0.0), 1.0)
    if w == TOPIC_TRENDING_WEIGHT_DEFAULT:
        return 1.0
    if w >= 1.0:
        return TRENDING_SCALE_MAX
    w0 = TOPIC_TRENDING_WEIGHT_DEFAULT
    return min(TRENDING_SCALE_MAX, (w / (1.0 - w)) / (w0 / (1.0 - w0)))


@dataclass(frozen=True)
class Row:
    """One list to rank: a reader's topic, or the reader alone (``topic`` None) before they have one."""

    user_id: int
    topic: Topic | None = None
    named: bool = False  # the reader has several topics: reasons name this one
    trending_weight: float = TOPIC_TRENDING_WEIGHT_DEFAULT
    exclude: frozenset[int] = frozenset()  # never shown (e.g. already sent), besides what the reader acted on

    @property
    def categories(self) -> list[str] | None:
        return list(self.topic.categories or []) if self.topic is not None else None

    def folds_in(self, topic_id: int | None) -> bool:
        """Whether a vote cast under ``topic_id`` (None: account-wide) counts for this row."""
        return topic_id is None or self.topic is None or topic_id == self.topic.pk


@dataclass
class RowInputs:
    """What ranking reads for a list of rows, one entry (or matrix row) per row."""

    events: list[list[tuple[int, str]]]  # (paper id, kind) folded in
    excluded: np.ndarray  # rows x candidates: never shown
    prior: np.ndarray  # rows x candidates: dial-scaled trending + include boosts
    prior_weights: np.ndarray | None = None  # per row, the model's prior weight multiplier (None: all default)


def rows_inputs(rows: list[Row], cands: Candidates) -> RowInputs:
    """Read the rows' votes (one query for all of them) and build their exclusions and priors."""
    votes: dict[int, list[tuple[int, str, int | None]]] = defaultdict(list)
    for uid, pid, kind, tid in Interaction.objects.filter(user_id__in={r.user_id for r in rows}).values_list(
        "user_id", "paper_id", "kind", "topic_id"
    ):
        votes[uid].append((pid, kind, tid))
    events = [[(pid, kind) for pid, kind, tid in votes.get(row.user_id, []) if row.folds_in(tid)] for row in rows]
    pos_of = {int(p): j for j, p in enumerate(cands.ids.tolist())}
    fields = _CategoryColumns(cands)
    excluded = np.zeros((len(rows), len(cands.ids)), dtype=bool)
    boost = np.zeros((len(rows), len(cands.ids)), dtype=bool)
    for r, row in enumerate(rows):
        seen = {pid for pid, _, _ in votes.get(row.user_id, [])} | set(row.exclude)
        excluded[r, [pos_of[pid] for pid in seen if pid in pos_of]] = True
        if row.topic is not None:
            excluded[r] |= _ruled_out(row.topic, cands, fields)
            boost[r] = matches(row.topic.include_keywords, cands.haystacks) | matches(
                row.topic.include_authors, cands.authors
            )
    scales = np.array([trending_scale(row.trending_weight) for row in rows], dtype=np.float32)
    prior = (scales[:, None] * cands.trending[None, :]).astype(np.float32)
    prior += INCLUDE_BOOST * boost  # float32 throughout, as before the dial: the default's prior is bit-identical
    weights = None
    if np.any(scales != 1.0):
        default_prior = cands.trending[None, :] + INCLUDE_BOOST * boost
        weights = _prior_weights(prior, default_prior)
    return RowInputs(events=events, excluded=excluded, prior=prior, prior_weights=weights)


def _prior_weights(prior: np.ndarray, default_prior: np.ndarray) -> np.ndarray:
    """Per row ``std(prior) / std(default prior)``: the model z-scores each prior row, which would cancel the
    dial's scale; weighting the z-scored row by this ratio gives ``(prior - mean) / std(default prior)``, i.e.
    today's prior term with only its trending part scaled (include boosts keep their weight; 1 at the default)."""
    spread, default_spread = prior.std(axis=1), default_prior.std(axis=1)
    ok = default_spread > 1e-12
    return np.where(ok, spread / np.where(ok, default_spread, 1.0), 1.0).astype(np.float32)


class _CategoryColumns:
    """The candidates' categories as a boolean matrix (candidates x distinct categories), built once per
    call, so that a topic's category rule is one column selection instead of a set test per candidate."""

    def __init__(self, cands: Candidates) -> None:
        vocabulary = sorted(set().union(*cands.categories)) if cands.categories else []
        self.column = {c: j for j, c in enumerate(vocabulary)}
        self.matrix = np.zeros((len(cands.categories), len(vocabulary)), dtype=bool)
        for i, cats in enumerate(cands.categories):
            self.matrix[i, [self.column[c] for c in cats]] = True

    def outside(self, wanted) -> np.ndarray:
        """Candidates in none of the ``wanted`` categories."""
        cols = [self.column[c] for c in set(wanted) if c in self.column]
        return ~self.matrix[:, cols].any(axis=1) if cols else np.ones(self.matrix.shape[0], dtype=bool)


def _ruled_out(topic: Topic, cands: Candidates, fields: _CategoryColumns) -> np.ndarray:
    """Candidates outside the topic's categories (when it chose some) or matching its exclude keywords/authors."""
    out = matches(topic.exclude_keywords, cands.haystacks) | matches(topic.exclude_authors, cands.authors)
    if topic.categories:
        out |= fields.outside(topic.categories)
    return out
