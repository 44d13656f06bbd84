"""Reference rankers for the offline evaluation, sharing HybridRecommender's API.

Each baseline implements ``fit(interactions, item_content, *, negatives=None)``
and ``recommend(user_ids, candidates=None, n=10, *, candidate_content=None,
exclude=None, prior=None, diversity=0.0)`` so the same evaluation loop and the
same contract tests run against all of them:

* ``RandomRanker``: a seeded hash of (user, item): the floor.
* ``PopularRanker``: interaction counts (new items score 0).
* ``EASE``: Steck's closed-form item-item regression (cannot score new items),
  on the items with interactions only.
* ``SVMTfidf``: arxiv-sanity's method, one LinearSVC (C=0.01, balanced) per
  user on tf-idf, positives vs every other training item.
* ``ALSRanker``: plain implicit ALS, iALS (cannot score new items).

The neighbourhood baselines (item-kNN CF / CBF / CF+CBF, RP3beta) are in
:mod:`recommender.ranking.knn`; the evaluation tunes every one of them on a
validation split of the training interactions (:mod:`recommender.ranking.tuning`).
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from .content import Content, ContentEncoder
from .selection import Exclude, exclusion_mask, select


class _Ranker:
    """Shared recommend loop: subclasses provide ``_scores(rows, candidates, cand_X)``."""

    needs_content = True

    def _fit_common(self, interactions: sp.spmatrix, item_content: Content) -> None:
        self.user_items_ = sp.csr_matrix(interactions, dtype=np.float32)
        self.n_users_, self.n_items_ = self.user_items_.shape
        if self.needs_content:
            self.encoder_ = ContentEncoder(n_components=2, char_ngrams=False, random_state=0)
            self.item_tfidf_ = self.encoder_.fit_transform_sparse(item_content)

    def recommend(
        self,
        user_ids: np.ndarray,
        candidates: np.ndarray | None = None,
        n: int = 10,
        *,
        candidate_content: Content | None = None,
        exclude: Exclude = None,
        prior: np.ndarray | None = None,
        diversity: float = 0.0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``n`` ``(ids, scores)``; ``exclude`` aligned with ``user_ids``."""
        user_ids = np.asarray(user_ids, dtype=np.int64)
        if candidates is None:
            candidates = np.arange(self.n_items_)
        candidates = np.asarray(candidates, dtype=np.int64)
        cand_X = None
        if self.needs_content:
            if candidate_content is not None:
                cand_X = self.encoder_.transform_sparse(candidate_content)
            else:
                cand_X = self.item_tfidf_[candidates]
        ids_out, sc_out = [], []
        block = max(1, min(2048, int(4e6 // max(len(candidates), 1))))
        for start in range(0, len(user_ids), block):
            rows = np.arange(start, min(len(user_ids), start + block))
            scores = self._scores(user_ids[rows], candidates, cand_X).astype(np.float32)
            ids, sc = select(scores, candidates, n, exclusion_mask(exclude, rows, candidates))
            ids_out.append(ids)
            sc_out.append(sc)
        if not ids_out:
            return np.zeros((0, n), np.int64), np.zeros((0, n), np.float32)
        return np.vstack(ids_out), np.vstack(sc_out)


class RandomRanker(_Ranker):
    """Uniformly random but reproducible ranking."""

    needs_content = False

    def __init__(self, random_state: int = 0) -> None:
        self.random_state = random_state

    def fit(self, interactions, item_content, *, negatives=None) -> RandomRanker:
        self._fit_common(interactions, item_content)
        return self

    def _scores(self, users, candidates, cand_X):
        x = (
            users.astype(np.uint64)[:, None] * np.uint64(0x9E3779B97F4A7C15)
            + candidates.astype(np.uint64)[None, :] * np.uint64(0xBF58476D1CE4E5B9)
            + np.uint64(self.random_state) * np.uint64(0x94D049BB133111EB)
        )
        x ^= x >> np.uint64(31)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(29)
        return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


class PopularRanker(_Ranker):
    """Most-interacted items first; items unseen in training score 0."""

    needs_content = False

    def fit(self, interactions, item_content, *, negatives=None) -> PopularRanker:
        self._fit_common(interactions, item_content)
        self.item_counts_ = np.asarray((self.user_items_ > 0).sum(axis=0)).ravel()
        return self

    def _scores(self, users, candidates, cand_X):
        known = (candidates >= 0) & (candidates < self.n_items_)
        pop = np.zeros(len(candidates))
        pop[known] = self.item_counts_[candidates[known]]
        return np.tile(pop, (len(users), 1))


class SVMTfidf(_Ranker):
    """Per-user LinearSVC on tf-idf (arxiv-sanity). Models are trained lazily and cached."""

    def __init__(self, C: float = 0.01) -> None:
        self.C = C

    def fit(self, interactions, item_content, *, negatives=None) -> SVMTfidf:
        self._fit_common(interactions, item_content)
        self.coef_cache_: dict[int, tuple[np.ndarray, float]] = {}
        self.lazy_fit_seconds_ = 0.0
        return self

    def _user_model(self, u: int) -> tuple[np.ndarray, float] | None:
        from sklearn.svm import LinearSVC

        if u in self.coef_cache_:
            return self.coef_cache_[u]
        row = self.user_items_[u]
        y = np.zeros(self.n_items_, dtype=np.int64)
        y[row.indices[row.data > 0]] = 1
        if y.sum() == 0 or y.sum() == len(y):
            self.coef_cache_[u] = None
            return None
        t0 = time.perf_counter()
        clf = LinearSVC(C=self.C, class_weight="balanced", tol=1e-5, max_iter=10000)
        with threadpool_limits(1):
            clf.fit(self.item_tfidf_, y)
        self.lazy_fit_seconds_ += time.perf_counter() - t0
        model = (clf.coef_.ravel().astype(np.float32), float(clf.intercept_[0]))
        self.coef_cache_[u] = model
        return model

    def _scores(self, users, candidates, cand_X):
        out = np.zeros((len(users), len(candidates)))
        for r, u in enumerate(users):
            model = self._user_model(int(u))
            if model is not None:
                w, b = model
                out[r] = cand_X @ w + b
        return out


class ALSRanker(_Ranker):
    """Plain implicit ALS on the interaction matrix; unseen items score 0.

    The defaults are the production model's ALS settings (the issue-17 audit
    found the earlier 64 factors / reg 0.1 / alpha 2 far weaker); the
    evaluation tunes them anyway.
    """

    needs_content = False

    def __init__(
        self,
        factors: int = 256,
        regularization: float = 10.0,
        alpha: float = 20.0,
        iterations: int = 15,
        random_state: int = 0,
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.random_state = random_state

    def fit(self, interactions, item_content, *, negatives=None) -> ALSRanker:
        from implicit.cpu.als import AlternatingLeastSquares

        self._fit_common(interactions, item_content)
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=self.alpha,
                iterations=self.iterations,
                calculate_training_loss=False,
                random_state=self.random_state,
            )
            model.fit(self.user_items_, show_progress=False)
        self.user_factors_ = np.asarray(model.user_factors)
        self.item_factors_ = np.asarray(model.item_factors)
        return self

    def _scores(self, users, candidates, cand_X):
        known = (candidates >= 0) & (candidates < self.n_items_)
        V = np.zeros((len(candidates), self.item_factors_.shape[1]), dtype=np.float32)
        V[known] = self.item_factors_[candidates[known]]
        return self.user_factors_[users] @ V.T


class EASE(_Ranker):
    """Steck's EASE: ``B = I - P / diag(P)``, ``P = (X'X + l2 I)^-1``, over the items with interactions.

    Scores are ``x_u B = x_u - (x_u P) / diag(P)`` (B itself is never formed).
    When fewer users than items have interactions (CiteULike's P-splits:
    5,551 users, 15,227 items), ``P`` comes from the Woodbury identity,
    ``l2 P = I - X' (l2 I + X X')^-1 X``, a users x users solve instead of an
    items x items one (the same matrix, several times cheaper).
    """

    needs_content = False

    def __init__(self, l2: float = 500.0) -> None:
        self.l2 = l2

    def fit(self, interactions, item_content, *, negatives=None) -> EASE:
        from scipy.linalg import cho_factor, cho_solve

        self._fit_common(interactions, item_content)
        X = (self.user_items_ > 0).astype(np.float64).tocsr()
        self.items_ = np.flatnonzero(np.diff(X.tocsc().indptr) > 0)
        users = np.flatnonzero(np.diff(X.indptr) > 0)
        Xw = X[users][:, self.items_].tocsr()
        lam = float(self.l2)
        if len(users) < len(self.items_):
            gram = (Xw @ Xw.T).toarray() + lam * np.eye(len(users))
            K = cho_solve(cho_factor(gram, overwrite_a=True), np.eye(len(users)), overwrite_b=True)
            T = np.asarray(Xw.T @ K, dtype=np.float32)  # X' K, items x users
            P = -np.asarray(Xw.T.astype(np.float32) @ T.T)  # -X' K X, items x items
            P[np.diag_indices_from(P)] += 1.0
        else:
            gram = (Xw.T @ Xw).toarray() + lam * np.eye(len(self.items_))
            P = (lam * cho_solve(cho_factor(gram, overwrite_a=True), np.eye(len(self.items_)))).astype(np.float32)
        self.P_ = P
        self.diag_ = np.diag(P).astype(np.float32).copy()
        self.position_ = np.full(self.n_items_, -1, dtype=np.int64)
        self.position_[self.items_] = np.arange(len(self.items_))
        return self

    def _scores(self, users, candidates, cand_X):
        out = np.zeros((len(users), len(candidates)), dtype=np.float32)
        known = (candidates >= 0) & (candidates < self.n_items_)
        pos = np.full(len(candidates), -1, dtype=np.int64)
        pos[known] = self.position_[candidates[known]]
        cols = np.flatnonzero(pos >= 0)
        if len(cols) == 0:
            return out
        rows = (self.user_items_[users] > 0).astype(np.float32)[:, self.items_].tocsr()
        XP = np.asarray(rows @ self.P_)[:, pos[cols]]
        out[:, cols] = rows[:, pos[cols]].toarray() - XP / self.diag_[pos[cols]][None, :]
        return out
