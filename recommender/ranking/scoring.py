"""The hybrid's score terms, as functions over fitted arrays (no model object, no state).

Score of user ``u`` for candidate ``j`` is a blend of z-scored terms (see ``hybrid.py``); each
function here computes one of them for a block of users and a set of candidates, from plain
arrays: the training papers' tf-idf rows and ALS factors, the candidates' tf-idf rows, the sparse
content-neighbour graph ``S`` (training papers x candidates) and, when affordable, every cosine
``G``. ``HybridRecommender`` and the blend validation call the same functions, so what is
validated is what is served.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .neighbours import neighbour_matrix

REASON_TRENDING = -1
"""Reason code: the item is recommended mainly because of the external prior."""
REASON_NONE = -2
"""Reason code: no positive item of the user to point at (e.g. brand-new user)."""
DENSE_COSINES_MAX = 3e7
"""Cells (training papers x candidates) up to which every cosine is kept as a dense array."""
_REASON_CELLS = 2**22  # float32 cells of one group of users in pick_reasons (~16 MB)


def half(a: np.ndarray) -> np.ndarray:
    """Round to float16 precision but keep float32, so a fitted and a loaded model agree."""
    return np.asarray(a).astype(np.float16).astype(np.float32)


def mean_row(X: sp.csr_matrix) -> np.ndarray:
    """Mean of the rows of a sparse matrix, as a dense float32 vector."""
    return np.asarray(X.mean(axis=0), dtype=np.float32).ravel()


def zscore(s: np.ndarray) -> np.ndarray:
    """Per-row standardisation over the candidates (constant rows become 0)."""
    mean = s.mean(axis=1, keepdims=True)
    std = s.std(axis=1, keepdims=True)
    return (s - mean) / np.where(std > 1e-12, std, 1.0)


def neighbour_graphs(item_tfidf: sp.csr_matrix, cand_tfidf: sp.csr_matrix, *, k: int, power: float, centroid: bool):
    """``(S, G)``: the top-``k`` neighbour graph sharpened by ``power`` (training papers x candidates)
    and, when the centroid term is on and the matrix affordable, every cosine as a dense array (else
    None: the centroid term then goes through user profiles)."""
    n_items, m = item_tfidf.shape[0], cand_tfidf.shape[0]
    G = np.empty((n_items, m), dtype=np.float32) if centroid and n_items * m <= DENSE_COSINES_MAX else None
    return neighbour_matrix(item_tfidf, cand_tfidf, k, power, dense=G), G


def known_mask(candidates: np.ndarray, n_items: int) -> np.ndarray:
    """Candidates that are training papers (the others are new: content only)."""
    return (candidates >= 0) & (candidates < n_items)


def candidate_factors(
    item_factors: np.ndarray, item_counts: np.ndarray, candidates: np.ndarray, S: sp.csr_matrix, smoothing: float
) -> np.ndarray:
    """Item factors for candidates: ALS for warm papers, content neighbours' for the rest.

    A candidate's content estimate is the similarity-weighted mean of the ALS factors of its
    content neighbours with readers ("papers that read like this one are liked by readers like
    these"). Warm papers blend their own factor with that estimate by evidence:
    ``(c_j v_j + smoothing * v_hat_j) / (c_j + smoothing)``.
    """
    # only neighbours with readers carry a factor (the others' are ~0 and would only shrink)
    S = (sp.diags((item_counts > 0).astype(np.float32)) @ S).tocsr()
    mass = np.asarray(S.sum(axis=0)).ravel()
    V_hat = ((S.T @ item_factors) / np.maximum(mass, 1e-12)[:, None]).astype(np.float32)
    known = np.flatnonzero(known_mask(candidates, len(item_counts)))
    if len(known):
        ids = candidates[known]
        c = item_counts[ids].astype(np.float32)[:, None]
        k = np.float32(smoothing)
        own = item_factors[ids]
        V_hat[known] = np.where(c > 0, (c * own + k * V_hat[known]) / np.maximum(c + k, 1e-12), V_hat[known])
    return V_hat


def knn_term(P: sp.csr_matrix, N: sp.csr_matrix, S: sp.csr_matrix, negative_weight: float) -> np.ndarray:
    """``sum_i r_ui s_ij - g sum_i n_ui s_ij`` over the neighbour graph (users x candidates)."""
    knn = np.asarray((P @ S).todense(), dtype=np.float32)
    if N.nnz:
        knn -= negative_weight * np.asarray((N @ S).todense(), dtype=np.float32)
    return knn


def category_term(Q: sp.csr_matrix | None, cand_tfidf_t: sp.csr_matrix, category_weight: float) -> np.ndarray | None:
    """Cosine of each candidate with the user's onboarding categories as text (None without them).

    ``cand_tfidf_t`` is the candidates' tf-idf transposed (features x candidates, CSR), made once
    per candidate set rather than in every call.
    """
    if Q is None:
        return None
    return category_weight * np.asarray((Q @ cand_tfidf_t).todense(), dtype=np.float32)


def centroid_term(
    P: sp.csr_matrix,
    N: sp.csr_matrix,
    cand_tfidf_t: sp.csr_matrix,
    *,
    G: np.ndarray | None,
    item_tfidf: sp.csr_matrix,
    mean_scores: np.ndarray,
    negative_weight: float,
    contrast: float,
    categories: np.ndarray | None,
    category_mass: float,
) -> np.ndarray:
    """Mean liked tf-idf (minus ``contrast`` x the mean paper) dotted with each candidate.

    Every feature of every liked paper counts (no neighbour cut-off), so it keeps ranking far
    down the list, where a single liked paper has no neighbours left; the mean liked paper minus
    the mean paper is about the direction a balanced linear SVM learns (cf. arxiv-sanity). A user
    with no profile (nothing liked, no categories) gets 0: no opinion.
    """
    C = (P - negative_weight * N).tocsr() if N.nnz else P
    if G is not None:
        cen = np.asarray(C @ G, dtype=np.float32)
    else:
        cen = np.asarray(((C @ item_tfidf).tocsr() @ cand_tfidf_t).todense(), dtype=np.float32)
    if categories is not None:
        cen += categories
    mass = np.asarray(P.sum(axis=1), dtype=np.float32) + category_mass
    cen /= np.maximum(mass, 1e-12)
    if contrast:
        cen -= contrast * mean_scores[None, :]
    cen[mass.ravel() <= 0] = 0.0
    return cen


def cf_term(U: np.ndarray, V: np.ndarray) -> np.ndarray:
    """Collaborative score ``U_u . V_j``."""
    return U @ V.T


def pick_reasons(
    P: sp.csr_matrix,
    pos: np.ndarray,
    cand_emb: np.ndarray,
    item_embeddings: np.ndarray,
    personal: np.ndarray,
    prior_term: np.ndarray | None,
    valid: np.ndarray,
) -> np.ndarray:
    """Per pick: the user's liked paper closest in content, or ``REASON_TRENDING`` when the prior
    outweighed everything personal, or ``REASON_NONE``.

    Users with liked papers go in groups of similar row length, padded, one batched product of
    their picks' and liked papers' embeddings per group (no loop over users).
    """
    out = np.full(pos.shape, REASON_NONE, dtype=np.int64)
    counts = np.diff(P.indptr)
    users = np.flatnonzero(counts > 0)
    users = users[np.argsort(counts[users], kind="stable")]
    per_cell = pos.shape[1] + cand_emb.shape[1]
    start = 0
    while start < len(users):
        stop = min(len(users), start + max(1, _REASON_CELLS // (int(counts[users[start]]) * per_cell)))
        while stop - start > 1 and int(counts[users[stop - 1]]) * per_cell * (stop - start) > _REASON_CELLS:
            stop = start + max(1, (stop - start) // 2)
        group = users[start:stop]
        width = int(counts[group].max())
        slot = np.arange(width)[None, :] < counts[group][:, None]
        liked = np.zeros(slot.shape, dtype=np.int64)
        liked[slot] = P.indices[(P.indptr[group][:, None] + np.arange(width)[None, :])[slot]]
        sims = np.matmul(cand_emb[pos[group]], np.swapaxes(item_embeddings[liked], 1, 2))  # (k, n, width)
        sims[~np.broadcast_to(slot[:, None, :], sims.shape)] = -np.inf
        out[group] = np.take_along_axis(liked, np.argmax(sims, axis=2), axis=1)
        start = stop
    if prior_term is not None:
        rows = prior_term if prior_term.shape[0] == pos.shape[0] else np.broadcast_to(prior_term[:1], personal.shape)
        pt = np.take_along_axis(rows, pos, axis=1)
        out[(pt > 0) & (pt > np.take_along_axis(personal, pos, axis=1))] = REASON_TRENDING
    out[~valid] = REASON_NONE
    return out
