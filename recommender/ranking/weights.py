"""Confidence weights per interaction kind: the one place that says how much each signal counts.

The Django side turns interaction events into two sparse matrices with these
weights: positive kinds summed into ``interactions`` (confidence >= 0) and
negative kinds summed into ``negatives`` (stored as positive magnitudes).
Keeping the numbers here, next to the model that consumes them, means a change
of weighting is reviewed together with its effect on the offline evaluation.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import scipy.sparse as sp

KIND_WEIGHTS: dict[str, float] = {
    # Saving a paper to the library is the strongest, most deliberate signal:
    # it is what CiteULike libraries (our offline data) consist of.
    "save": 4.0,
    # An upvote is public and explicit, but cheaper than a save.
    "upvote": 3.0,
    # Thumbs-up in the digest email: explicit, but given with little effort
    # and often in bulk while skimming.
    "thumbs_up": 2.0,
    # A click only says the title was intriguing; many clicks end in a quick
    # bounce, so it is weak positive evidence.
    "click": 1.0,
    # Negative kinds are magnitudes for the separate ``negatives`` matrix.
    # A thumbs-down is explicit dislike of this very paper, so it pushes the
    # item (and its near neighbours in content space) down firmly.
    "thumbs_down": 3.0,
    # "Not interested" is usually about the topic rather than the paper's
    # quality: slightly weaker, but still a deliberate click.
    "not_interested": 2.0,
}

NEGATIVE_KINDS: frozenset[str] = frozenset({"thumbs_down", "not_interested"})


def build_matrices(
    events: Iterable[tuple[int, int, str]],
    n_users: int,
    n_items: int,
    weights: dict[str, float] | None = None,
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Turn ``(user_index, item_index, kind)`` events into ``(interactions, negatives)``.

    Repeated events of the same user and item add up. Unknown kinds raise
    ``KeyError`` so that a new kind is never silently ignored.
    """
    w = KIND_WEIGHTS if weights is None else weights
    pos_r, pos_c, pos_v, neg_r, neg_c, neg_v = [], [], [], [], [], []
    for user, item, kind in events:
        value = w[kind]
        if kind in NEGATIVE_KINDS:
            neg_r.append(user)
            neg_c.append(item)
            neg_v.append(value)
        else:
            pos_r.append(user)
            pos_c.append(item)
            pos_v.append(value)
    shape = (n_users, n_items)
    pos = sp.csr_matrix((np.asarray(pos_v, dtype=np.float32), (pos_r, pos_c)), shape=shape)
    neg = sp.csr_matrix((np.asarray(neg_v, dtype=np.float32), (neg_r, neg_c)), shape=shape)
    pos.sum_duplicates()
    neg.sum_duplicates()
    return pos, neg
