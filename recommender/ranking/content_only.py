"""The ranker used before any model is trained: content similarity to liked papers plus a prior.

Serving falls back to it on a fresh install (no interactions to train on yet),
so the first votes already change what a subscriber sees. It reads papers as
rows of the encoder serving reads every paper with (before any model: the one
fitted on the archive, which semantic search and similar papers use too), so a
pick "similar to" a liked paper is similar in the same sense as on the paper's
page. It lives here, next to the model, so that it obeys the same list contract
(unique positions, never an excluded one, padded with -1) and is tested by the
same property tests.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from . import REASON_NONE, REASON_TRENDING
from .selection import top_n

# The encoder's cosines run about 2.5x lower than those of the unigram tf-idf this ranker once fitted on each
# call's candidates (word bigrams dilute them, idf is the archive's): between distinct papers of
# citeulike-a-abstracts-subset (1,929) and of the sample feed (41), quantiles 0.9-0.999 and the median best
# match are 1.9-2.8x lower, while the liked papers' nearest neighbours hold as many of a reader's other papers
# (docs/recommender.md, "One encoder"). Both constants were 3.0 and 0.1 on the old scale, kept in step with it.
CONTENT_WEIGHT = 7.5
PRIOR_WEIGHT = 0.3
# A pick is "similar to" a liked paper only above this cosine; below it the prior explains it.
REASON_SIMILARITY = 0.04


def content_only_rank(
    *,
    candidate_rows: sp.spmatrix | np.ndarray,
    liked_rows: sp.spmatrix | np.ndarray,
    liked: Sequence[Sequence[int]],
    excluded: np.ndarray,
    prior: np.ndarray,
    n: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top ``n`` candidate positions per user: ``7.5 * max cosine to a liked paper + 0.3 * prior``.

    ``candidate_rows`` and ``liked_rows`` are the papers as unit-length rows of one encoder
    (``ContentEncoder.transform_sparse``: L2-normalised tf-idf, sparse; dense unit rows work too), so a
    dot product is a cosine; a zero row (no known word) is similar to nothing. ``liked[r]`` lists user
    ``r``'s liked papers as indices into ``liked_rows``; ``excluded`` and ``prior`` are (users x
    candidates). Returns ``(positions, scores, reasons)`` of shape (users x n): positions into the
    candidates (-1 padding, score -inf), reasons an index into ``liked_rows`` or ``REASON_TRENDING`` /
    ``REASON_NONE``.
    """
    n_users, m = len(liked), candidate_rows.shape[0]
    sim, best = _similarity_to_liked(candidate_rows, liked_rows, liked)
    total = CONTENT_WEIGHT * sim + PRIOR_WEIGHT * np.asarray(prior, dtype=np.float32).reshape(n_users, m)
    total = np.where(np.asarray(excluded, dtype=bool).reshape(n_users, m), -np.inf, total)
    pos = top_n(total, n)
    picked = np.take_along_axis(total, pos, axis=1)
    valid = np.isfinite(picked)
    k = pos.shape[1]
    positions = np.full((n_users, n), -1, dtype=np.int64)
    scores = np.full((n_users, n), -np.inf, dtype=np.float32)
    reasons = np.full((n_users, n), REASON_NONE, dtype=np.int64)
    positions[:, :k] = np.where(valid, pos, -1)
    scores[:, :k] = np.where(valid, picked, -np.inf)
    similar = np.take_along_axis(sim, pos, axis=1) > REASON_SIMILARITY
    why = np.where(similar, np.take_along_axis(best, pos, axis=1), REASON_TRENDING)
    reasons[:, :k] = np.where(valid, why, REASON_NONE)
    return positions, scores, reasons


def _similarity_to_liked(candidate_rows, liked_rows, liked) -> tuple[np.ndarray, np.ndarray]:
    """Per user and candidate: the best cosine to one of their liked papers, and which one (-1: none).

    One user at a time: a (candidates x their likes) block stays small however many users a batch holds.
    """
    n_users, m = len(liked), candidate_rows.shape[0]
    if candidate_rows.shape[1] != liked_rows.shape[1]:
        raise ValueError(f"candidate rows have {candidate_rows.shape[1]} columns, liked rows {liked_rows.shape[1]}")
    sim = np.zeros((n_users, m), dtype=np.float32)
    best = np.full((n_users, m), -1, dtype=np.int64)
    if m == 0:
        return sim, best
    C = sp.csr_matrix(candidate_rows, dtype=np.float32) if sp.issparse(candidate_rows) else candidate_rows
    L = sp.csr_matrix(liked_rows, dtype=np.float32) if sp.issparse(liked_rows) else np.asarray(liked_rows)
    for r, mine in enumerate(liked):
        mine = np.asarray(mine, dtype=np.int64)
        if len(mine) == 0:
            continue
        S = C @ L[mine].T
        S = S.toarray() if sp.issparse(S) else np.asarray(S)
        sim[r] = S.max(axis=1)
        best[r] = mine[S.argmax(axis=1)]
    return sim, best
