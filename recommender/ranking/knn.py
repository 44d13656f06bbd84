"""Neighbourhood baselines of Dacrema et al. (TOIS 2021): item-kNN CF, item-kNN CBF, their hybrid, RP3beta.

They are the baselines that paper found hardest to beat on CiteULike, so the
offline evaluation runs them tuned, beside the production model. All share
one scoring rule, ``score(u, j) = sum_i r_ui W_ij`` over a sparse item graph
``W`` (training items x candidates), and differ only in how ``W`` is built:

* ``ItemKNNCF``: cosine of the items' user vectors with shrinkage,
  ``x_i . x_j / (|x_i| |x_j| + shrink)``, top ``k`` neighbours per candidate.
* ``ItemKNNCBF``: cosine of tf-idf content vectors (shrinkage as above),
  sharpened by ``power``; ranks new papers from their text.
* ``ItemKNNCFCBF``: the same cosine over ``[user vector, icm_weight * tf-idf]``
  stacked (Dacrema et al.'s ItemKNN_CFCBF_Hybrid); new papers have only the
  content half.
* ``RP3beta``: three-step random walk item -> user -> item with transition
  probabilities raised to ``alpha``, the target's popularity divided out by
  ``popularity ** beta``, top ``k`` per source item (Paudel et al. 2017).

A candidate is never its own neighbour (the diagonal is zero), as in the
reference implementation.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .baselines import _Ranker
from .neighbours import top_k_per_column


def topk_per_row(S: sp.spmatrix, k: int) -> sp.csr_matrix:
    """Keep the ``k`` largest positive entries of each row of a sparse matrix."""
    S = sp.csr_matrix(S, dtype=np.float32)
    S.data[S.data <= 0] = 0
    S.eliminate_zeros()
    counts = np.diff(S.indptr)
    keep = np.ones(S.nnz, dtype=bool)
    for r in np.flatnonzero(counts > k):
        start, stop = S.indptr[r], S.indptr[r + 1]
        drop = np.argpartition(-S.data[start:stop], k - 1)[k:]
        keep[start + drop] = False
    rows = np.repeat(np.arange(S.shape[0]), counts)
    return sp.csr_matrix((S.data[keep], (rows[keep], S.indices[keep])), shape=S.shape)


def shrunk_cosine_graph(
    items: sp.spmatrix,
    cands: sp.spmatrix,
    k: int,
    shrink: float = 0.0,
    power: float = 1.0,
    self_index: np.ndarray | None = None,
) -> sp.csc_matrix:
    """Sparse (n_items x m): per candidate column its ``k`` best ``x_i . x_c / (|x_i||x_c| + shrink)``.

    ``self_index[c]`` is the training row of candidate ``c`` (-1 for a new
    paper); that entry is zeroed so a paper is never its own neighbour.
    Computed in candidate blocks to bound memory.
    """
    items, cands = sp.csr_matrix(items, dtype=np.float32), sp.csr_matrix(cands, dtype=np.float32)
    n, m = items.shape[0], cands.shape[0]
    k = max(1, min(k, n))
    n_items = np.sqrt(np.asarray(items.multiply(items).sum(axis=1)).ravel())
    n_cands = np.sqrt(np.asarray(cands.multiply(cands).sum(axis=1)).ravel())
    rows, cols, vals = [], [], []
    block = max(1, int(2e7 // max(n, 1)))
    for start in range(0, m, block):
        stop = min(m, start + block)
        sims = (items @ cands[start:stop].T).toarray()
        sims /= n_items[:, None] * n_cands[None, start:stop] + shrink + 1e-9
        if self_index is not None:
            own = self_index[start:stop]
            at = np.flatnonzero(own >= 0)
            sims[own[at], at] = 0.0
        block_rows, block_cols, block_vals = top_k_per_column(sims, k, start, power)
        rows.append(block_rows), cols.append(block_cols), vals.append(block_vals)
    if not vals:
        return sp.csc_matrix((n, m), dtype=np.float32)
    data = np.concatenate(vals).astype(np.float32)
    return sp.csc_matrix((data, (np.concatenate(rows), np.concatenate(cols))), shape=(n, m))


def _self_index(candidates: np.ndarray, n_items: int, new: bool) -> np.ndarray:
    """Training row of each candidate, -1 for papers not in training (or given as new content)."""
    if new:
        return np.full(len(candidates), -1, dtype=np.int64)
    return np.where((candidates >= 0) & (candidates < n_items), candidates, -1)


class _GraphRanker(_Ranker):
    """``score = R_u @ W[:, candidates]``; subclasses build ``W`` for a candidate set."""

    def recommend(self, user_ids, candidates=None, n=10, **kwargs):
        """As the shared loop, with the candidates' neighbour graph built once per call."""
        cand = np.arange(self.n_items_) if candidates is None else np.asarray(candidates, dtype=np.int64)
        self._graph_ = self._graph(cand, kwargs.get("candidate_content"))
        try:
            return super().recommend(user_ids, candidates, n, **kwargs)
        finally:
            self._graph_ = None

    def _scores(self, users, candidates, cand_X):
        return np.asarray((self.user_items_[users] @ self._graph_).todense())


class ItemKNNCF(_GraphRanker):
    """Item-kNN collaborative filtering: shrunk cosine of user vectors, top-k (cannot rank new papers)."""

    needs_content = False

    def __init__(self, k: int = 100, shrink: float = 10.0) -> None:
        self.k = k
        self.shrink = shrink

    def fit(self, interactions, item_content, *, negatives=None) -> ItemKNNCF:
        self._fit_common(interactions, item_content)
        self.item_users_ = (self.user_items_ > 0).astype(np.float32).T.tocsr()
        return self

    def _graph(self, candidates, candidate_content):
        """Sparse all the way: co-occurrence counts are sparse, unlike content similarities."""
        known = (candidates >= 0) & (candidates < self.n_items_)
        idx = np.where(known, candidates, 0)
        co = (self.item_users_ @ (sp.diags(known.astype(np.float32)) @ self.item_users_[idx]).T).tocoo()
        norms = np.sqrt(np.asarray(self.item_users_.sum(axis=1)).ravel())
        data = co.data / (norms[co.row] * norms[idx[co.col]] + self.shrink + 1e-9)
        data[co.row == idx[co.col]] = 0.0  # never its own neighbour
        per_candidate = sp.csr_matrix((data, (co.col, co.row)), shape=(len(candidates), self.n_items_))
        return topk_per_row(per_candidate, max(1, self.k)).T.tocsc()


class ItemKNNCBF(_GraphRanker):
    """Item-kNN on tf-idf content (the best published CiteULike result at P=10, Dacrema et al. 2021)."""

    def __init__(self, k: int = 100, shrink: float = 0.0, power: float = 1.0) -> None:
        self.k = k
        self.shrink = shrink
        self.power = power

    def fit(self, interactions, item_content, *, negatives=None) -> ItemKNNCBF:
        self._fit_common(interactions, item_content)
        return self

    def _graph(self, candidates, candidate_content):
        new = candidate_content is not None
        cand_X = self.encoder_.transform_sparse(candidate_content) if new else self.item_tfidf_[candidates]
        return shrunk_cosine_graph(
            self.item_tfidf_,
            cand_X,
            self.k,
            self.shrink,
            self.power,
            self_index=_self_index(candidates, self.n_items_, new),
        )


class ItemKNNCFCBF(_GraphRanker):
    """Dacrema et al.'s ItemKNN_CFCBF_Hybrid: shrunk cosine over stacked [user vector, w * tf-idf]."""

    def __init__(self, k: int = 100, shrink: float = 10.0, icm_weight: float = 1.0) -> None:
        self.k = k
        self.shrink = shrink
        self.icm_weight = icm_weight

    def fit(self, interactions, item_content, *, negatives=None) -> ItemKNNCFCBF:
        self._fit_common(interactions, item_content)
        self.item_users_ = (self.user_items_ > 0).astype(np.float32).T.tocsr()
        self.item_vectors_ = sp.hstack([self.item_users_, self.icm_weight * self.item_tfidf_], format="csr")
        return self

    def _graph(self, candidates, candidate_content):
        new = candidate_content is not None
        if new:
            cf = sp.csr_matrix((len(candidates), self.n_users_), dtype=np.float32)
            cand = sp.hstack([cf, self.icm_weight * self.encoder_.transform_sparse(candidate_content)], format="csr")
        else:
            cand = self.item_vectors_[candidates]
        return shrunk_cosine_graph(
            self.item_vectors_, cand, self.k, self.shrink, self_index=_self_index(candidates, self.n_items_, new)
        )


class RP3beta(_GraphRanker):
    """Random walk item -> user -> item, popularity-penalised (cannot rank new papers)."""

    needs_content = False

    def __init__(self, alpha: float = 1.0, beta: float = 0.5, k: int = 100) -> None:
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def fit(self, interactions, item_content, *, negatives=None) -> RP3beta:
        self._fit_common(interactions, item_content)
        X = (self.user_items_ > 0).astype(np.float32).tocsr()
        user_deg = np.asarray(X.sum(axis=1)).ravel()
        item_deg = np.asarray(X.sum(axis=0)).ravel()
        P_ui = (sp.diags(1.0 / np.maximum(user_deg, 1)) @ X).tocsr()
        P_iu = (sp.diags(1.0 / np.maximum(item_deg, 1)) @ X.T).tocsr()
        P_ui.data **= self.alpha
        P_iu.data **= self.alpha
        W = (P_iu @ P_ui).tocsr()
        penalty = np.where(item_deg > 0, np.maximum(item_deg, 1.0) ** -self.beta, 0.0).astype(np.float32)
        W = (W @ sp.diags(penalty)).tocsr()
        W.setdiag(0)
        self.W_ = topk_per_row(W, self.k).tocsc()
        return self

    def _graph(self, candidates, candidate_content):
        known = (candidates >= 0) & (candidates < self.n_items_)
        G = self.W_[:, np.where(known, candidates, 0)]
        return (G @ sp.diags(known.astype(np.float32))).tocsc()
