"""The production recommender: collaborative filtering + content, one class.

``HybridRecommender`` owns scoring. It is the single model used by the Django
digest builder and by the offline evaluation, so the numbers in
``docs/recommender.md`` are the numbers of what ships.

Score of user ``u`` for candidate ``j`` (each term z-scored per user over the
candidates, so that terms on different scales blend predictably)::

    w_knn  * z(sum_i r_ui s_ij - g sum_i n_ui s_ij)
                                    content item-kNN, negatives pushed away
  + w_cen  * z(mean liked tf-idf . x_j - mean paper . x_j)
                                    contrastive centroid (a balanced linear SVM's direction)
  + w_cf * n_u/(n_u+cf_shrink) * z(U_u . V_j)
                                    collaborative (implicit ALS)
  + w_pop  * z(log(1 + readers_j))  new papers: predicted from content neighbours
  + w_prior * z(prior_j)            external prior, e.g. "trending"

* ``V_j`` is the ALS item factor for papers with interactions; for papers
  never seen (announced today) or without interactions it is the
  similarity-weighted mean of the factors of its content neighbours with
  readers ("what kind of readers does text like this attract").
* ``s_ij`` is the cosine of sublinear tf-idf vectors, keeping the
  ``knn_neighbors`` most similar training papers of each candidate, raised to
  ``knn_power`` (sharpening).
* The weights ``blend_`` (one row for candidates with readers, one for the
  rest) are chosen at fit time by an inner validation split of the training
  interactions (see :meth:`HybridRecommender._select_blend`); the
  hyperparameters give the defaults used when nothing can be held out.
* Negatives (thumbs down / not interested) enter ALS as negative confidence and
  subtract from the content terms.

All learned state is plain arrays, persisted with ``np.savez`` and
``allow_pickle=False`` (see :mod:`recommender.ranking.persistence`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from .content import Content, ContentEncoder
from .diversity import mmr
from .neighbours import neighbour_matrix
from .persistence import atomic_write_bytes, load_arrays, save_arrays
from .selection import Exclude, exclusion_mask, top_n

REASON_TRENDING = -1
"""Reason code: the item is recommended mainly because of the external prior."""
REASON_NONE = -2
"""Reason code: no positive item of the user to point at (e.g. brand-new user)."""

_HYPERPARAMS = (
    "factors",
    "regularization",
    "alpha",
    "iterations",
    "knn_neighbors",
    "knn_power",
    "knn_weight",
    "centroid_weight",
    "centroid_contrast",
    "cf_weight",
    "cf_shrink",
    "cf_evidence",
    "factor_smoothing",
    "prior_weight",
    "popularity_weight",
    "negative_weight",
    "category_weight",
    "n_components",
    "min_df",
    "ngram_range",
    "char_ngrams",
    "n_features",
    "random_state",
    "num_threads",
    "large_scale",
    "validation",
    "validation_users",
    "validation_candidates",
)

FORMAT = "paperboy-hybrid-v3"
"""Artifact format written by :meth:`HybridRecommender.to_arrays`; v1 and v2 still load."""
_READABLE_FORMATS = ("paperboy-hybrid-v1", "paperboy-hybrid-v2", FORMAT)
TERMS = ("knn", "centroid", "cf", "popularity")
"""Blend terms, in the column order of ``blend_`` (rows: warm candidates, cold candidates)."""
_MIN_VALIDATION_USERS = 20
_CONTENT_MIX = (0.0, 0.25, 0.5, 0.75, 1.0)
_CF_GRID = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
_POP_GRID = (0.0, 0.1, 0.3, 0.6, 1.0)
_LARGE_FACTORS = 128
_LARGE_ITERATIONS = 10


def _half(a: np.ndarray) -> np.ndarray:
    """Round to float16 precision but keep float32, so a fitted and a loaded model agree."""
    return np.asarray(a).astype(np.float16).astype(np.float32)


def _mean_row(X: sp.csr_matrix) -> np.ndarray:
    """Mean of the rows of a sparse matrix, as a dense float32 vector."""
    return np.asarray(X.mean(axis=0), dtype=np.float32).ravel()


def _zscore(s: np.ndarray) -> np.ndarray:
    """Per-row standardisation over the candidates (constant rows become 0)."""
    mean = s.mean(axis=1, keepdims=True)
    std = s.std(axis=1, keepdims=True)
    return (s - mean) / np.where(std > 1e-12, std, 1.0)


class HybridRecommender:
    """Hybrid collaborative + content recommender for new and old papers.

    Parameters
    ----------
    factors, regularization, alpha, iterations :
        implicit ALS hyperparameters (alpha scales the confidence matrix).
    knn_neighbors : int
        Training papers kept as content neighbours of each candidate.
    knn_power : float
        Exponent applied to content cosine similarities.
    knn_weight, centroid_weight, cf_weight, prior_weight : float
        Blend weights of the z-scored terms (knn, centroid, cf: the defaults
        when validation cannot run; a weight of 0 keeps the term off even
        then).
    centroid_contrast : float
        How much of the mean training paper the centroid term subtracts
        (1 = the balanced-SVM direction, 0 = plain cosine to the user's profile).
    cf_shrink : float
        Interactions at which a user's CF weight reaches half of ``cf_weight``.
    cf_evidence : float
        Training interactions at which collaborative terms (CF and
        popularity) get half their weight: with a few hundred interactions
        (a new deployment) ALS factors are noise and content must lead.
    factor_smoothing : float
        Pseudo-count pulling a warm paper's ALS factor towards the factor
        predicted from its content neighbours (0 = use ALS only).
    popularity_weight : float
        Weight of the z-scored log interaction count of each candidate
        (papers new since training count 0).
    negative_weight : float
        Strength of negatives relative to positives (ALS and content term).
    category_weight : float
        Weight of onboarding categories (as text) in a folded-in user's profile.
    n_components, min_df, ngram_range, char_ngrams, n_features :
        Content encoder settings (see :class:`ContentEncoder`).
    random_state : int
        Seed for ALS and the SVD.
    num_threads : int
        Threads for ALS (0 = all cores).
    large_scale : int
        Training interactions above which ALS uses at most 128 factors and
        10 iterations, so that 1M interactions train within a minute on two
        cores (0 = never cap).
    validation : bool
        Choose the blend by inner validation at fit time (False: fixed blend
        from the weights above, as before v3).
    validation_users, validation_candidates : int
        Held-out users and candidate papers per validation task (bounds its cost).
    """

    def __init__(
        self,
        factors: int = 256,
        regularization: float = 10.0,
        alpha: float = 20.0,
        iterations: int = 15,
        knn_neighbors: int = 100,
        knn_power: float = 2.0,
        knn_weight: float = 0.25,
        centroid_weight: float = 0.75,
        centroid_contrast: float = 1.0,
        cf_weight: float = 2.0,
        cf_shrink: float = 10.0,
        cf_evidence: float = 20000.0,
        factor_smoothing: float = 5.0,
        prior_weight: float = 0.3,
        popularity_weight: float = 0.1,
        negative_weight: float = 1.0,
        category_weight: float = 1.0,
        n_components: int = 128,
        min_df: int = 2,
        ngram_range: tuple[int, int] = (1, 2),
        char_ngrams: bool | str = "auto",
        n_features: int = 2**18,
        random_state: int = 0,
        num_threads: int = 0,
        large_scale: int = 500_000,
        validation: bool = True,
        validation_users: int = 1000,
        validation_candidates: int = 1000,
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.knn_neighbors = knn_neighbors
        self.knn_power = knn_power
        self.knn_weight = knn_weight
        self.centroid_weight = centroid_weight
        self.centroid_contrast = centroid_contrast
        self.cf_weight = cf_weight
        self.cf_shrink = cf_shrink
        self.cf_evidence = cf_evidence
        self.factor_smoothing = factor_smoothing
        self.prior_weight = prior_weight
        self.popularity_weight = popularity_weight
        self.negative_weight = negative_weight
        self.category_weight = category_weight
        self.n_components = n_components
        self.min_df = min_df
        self.ngram_range = ngram_range
        self.char_ngrams = char_ngrams
        self.n_features = n_features
        self.random_state = random_state
        self.num_threads = num_threads
        self.large_scale = large_scale
        self.validation = validation
        self.validation_users = validation_users
        self.validation_candidates = validation_candidates

    def get_params(self, deep: bool = True) -> dict:
        """Hyperparameters, scikit-learn style."""
        return {name: getattr(self, name) for name in _HYPERPARAMS}

    def set_params(self, **params) -> HybridRecommender:
        """Set hyperparameters, scikit-learn style."""
        for name, value in params.items():
            if name not in _HYPERPARAMS:
                raise ValueError(f"unknown hyperparameter {name!r}")
            setattr(self, name, value)
        return self

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        interactions: sp.spmatrix,
        item_content: Content,
        *,
        negatives: sp.spmatrix | None = None,
        vocabulary: Sequence[str] | None = None,
    ) -> HybridRecommender:
        """Learn from ``interactions`` (users x items, confidence >= 0) and item content.

        ``item_content`` is a list of texts (title + abstract) or a sparse
        count matrix (items x vocabulary). ``negatives`` (same shape,
        magnitudes >= 0) are disliked items. ``vocabulary`` names the columns
        of a count matrix, so that text (e.g. categories) can be encoded too.
        """
        R = sp.csr_matrix(interactions, dtype=np.float32)
        R.eliminate_zeros()
        n_users, n_items = R.shape
        N = (
            sp.csr_matrix((n_users, n_items), dtype=np.float32)
            if negatives is None
            else sp.csr_matrix(negatives, dtype=np.float32)
        )
        if N.shape != R.shape:
            raise ValueError(f"negatives shape {N.shape} != interactions shape {R.shape}")
        n_content = len(item_content) if not sp.issparse(item_content) else item_content.shape[0]
        if n_content != n_items:
            raise ValueError(f"{n_content} content rows for {n_items} items")

        self.encoder_ = ContentEncoder(
            n_features=self.n_features,
            ngram_range=self.ngram_range,
            char_ngrams=self.char_ngrams,
            min_df=self.min_df,
            n_components=self.n_components,
            random_state=self.random_state,
        )
        self.item_tfidf_ = self.encoder_.fit_transform_sparse(item_content, vocabulary=vocabulary)
        # per-paper features are stored as float16 (half the artifact); round now
        # so that the fitted model scores exactly like the loaded one
        self.item_tfidf_.data = _half(self.item_tfidf_.data)
        self.item_embeddings_ = _half(self.encoder_.embed(self.item_tfidf_))
        self.mean_tfidf_ = _mean_row(self.item_tfidf_)

        self.user_items_ = R
        self.user_negatives_ = N
        self.item_counts_ = np.asarray((R > 0).sum(axis=0)).ravel().astype(np.int64)
        self.user_counts_ = np.diff(R.indptr).astype(np.int64)
        self.n_users_, self.n_items_ = n_users, n_items
        self.n_interactions_ = int(R.nnz)

        self.blend_ = self._default_blend()
        self.blend_source_ = np.array(["defaults", "defaults"], dtype="<U10")
        validated = self._select_blend(R, N) if self.validation else False
        self.item_counts_ = np.asarray((R > 0).sum(axis=0)).ravel().astype(np.int64)
        self.n_interactions_ = int(R.nnz)
        self._fit_als(R, N, warm_start=validated)
        return self

    # ---------------------------------------------------------------- blend
    def _default_blend(self) -> np.ndarray:
        """Blend weights from the hyperparameters (used when validation cannot run)."""
        rel = self._cf_reliability()
        row = [self.knn_weight, self.centroid_weight, self.cf_weight * rel, self.popularity_weight * rel]
        return np.array([row, row], dtype=np.float32)

    def _blend_grid(self) -> list[tuple[float, float, float, float]]:
        """Candidate (knn, centroid, cf, popularity) weights; a term switched off (0) stays off."""
        grid = []
        for lam in _CONTENT_MIX:
            knn, cen = (1.0 - lam) * (self.knn_weight > 0), lam * (self.centroid_weight > 0)
            for cf in _CF_GRID:
                cf = cf * (self.cf_weight > 0)
                if knn + cen + cf == 0:
                    continue
                grid.append((knn, cen, cf, 0.0))
        return sorted(set(grid), key=grid.index)

    def _select_blend(self, R: sp.csr_matrix, N: sp.csr_matrix) -> bool:
        """Choose ``blend_`` by an inner validation split of the training interactions.

        Two held-out tasks on one ALS model fitted without them: *warm* (one
        random item per user with at least two, its other readers kept) and
        *cold* (10% of the papers with interactions, removed with all of
        them, ranked as new papers). Each task scores a grid of blends by
        re-weighting the same score components (no refit); the winner of
        each task becomes the weights for warm / cold candidates. Small data
        sets (users + papers + interactions under 30,000) repeat the split up
        to 5 times (ALS is cheap there) to reduce the variance of the choice.
        A task with fewer than 20 users keeps the defaults (e.g. one item per
        user: nothing to hold out).
        """
        # ALS cost grows with users + items + interactions: repeat only where a fit is cheap
        repeats = int(np.clip(60_000 // max(R.nnz + R.shape[0] + R.shape[1], 1), 1, 5))
        tasks: dict[str, list] = {"warm": [], "cold": []}
        for rep in range(repeats):
            rng = np.random.default_rng(self.random_state + 17 + rep)
            split = self._inner_split(R, N, rng)
            if split is None:
                break
            R_in, N_in, warm, cold = split
            self.item_counts_ = np.asarray((R_in > 0).sum(axis=0)).ravel().astype(np.int64)
            self.n_interactions_ = int(R_in.nnz)
            self._fit_als(R_in, N_in)
            if warm is not None:
                tasks["warm"].append(self._validation_task(R_in, N_in, *warm, exclude=True))
            if cold is not None:
                tasks["cold"].append(self._validation_task(R_in, N_in, *cold, exclude=False))
        for row, kind in enumerate(("warm", "cold")):
            if tasks[kind]:
                self.blend_[row] = self._grid_search(tasks[kind], self.blend_[row].copy())
                self.blend_source_[row] = "validation"
        return bool(tasks["warm"] or tasks["cold"])

    def _inner_split(self, R: sp.csr_matrix, N: sp.csr_matrix, rng: np.random.Generator):
        """One inner split: ``(R_in, N_in, warm, cold)``, a task being ``(users, cands, rel, ks)`` or None."""
        n_users, n_items = R.shape
        counts = np.asarray((R > 0).sum(axis=0)).ravel()
        pool = np.flatnonzero(counts > 0)
        # candidates per task: the neighbour graph costs n_items x candidates cells (2.5e7: ~2.5 s per task;
        # 1,000 candidates up to 25k papers, 250 at 100k, where 1M interactions must fit in under a minute)
        budget = int(min(self.validation_candidates, max(200, 2.5e7 // max(n_items, 1))))
        n_cold = min(int(round(0.1 * len(pool))), budget)
        cold = np.sort(rng.choice(pool, n_cold, replace=False)) if n_cold >= 20 else np.zeros(0, np.int64)
        is_cold = np.zeros(n_items, dtype=bool)
        is_cold[cold] = True
        rows = np.repeat(np.arange(n_users), np.diff(R.indptr))
        cols = R.indices
        entry_cold = is_cold[cols]
        key = rng.random(len(cols))
        key[entry_cold] = -1.0
        order = np.lexsort((key, rows))  # by user, then key: each user's last entry is its pick
        n_warm_entries = np.bincount(rows[~entry_cold], minlength=n_users)
        eligible = np.flatnonzero(n_warm_entries >= 2)
        picks = order[R.indptr[eligible + 1] - 1]
        keep = ~entry_cold
        keep[picks] = False
        R_in = sp.csr_matrix((R.data[keep], (rows[keep], cols[keep])), shape=R.shape, dtype=np.float32)
        # every warm user brings its held-out paper into the candidates: at most half of them
        warm_users = self._sample(rng, eligible, budget // 2 if budget < n_items else None)
        held_warm = np.full(n_users, -1, dtype=np.int64)
        held_warm[eligible] = cols[picks]
        ones = np.ones(int(entry_cold.sum()), np.float32)
        cold_rows = sp.csr_matrix((ones, (rows[entry_cold], cols[entry_cold])), shape=R.shape)
        has_cold = np.diff(cold_rows.indptr) > 0
        has_train = np.diff(R_in.indptr) > 0
        cold_users = self._sample(rng, np.flatnonzero(has_cold & has_train))
        warm = cold_task = None
        if len(warm_users) >= _MIN_VALIDATION_USERS:
            m = min(n_items, budget)
            if m < n_items:
                held = np.unique(held_warm[warm_users])
                rest = rng.choice(np.setdiff1d(np.arange(n_items), held), max(0, m - len(held)), replace=False)
                cands = np.sort(np.concatenate([held, rest]))
            else:
                cands = np.arange(n_items)
            at = np.searchsorted(cands, held_warm[warm_users])
            rel = sp.csr_matrix(
                (np.ones(len(warm_users), np.float32), (np.arange(len(warm_users)), at)),
                shape=(len(warm_users), len(cands)),
            )
            scale = len(cands) / n_items
            warm = (warm_users, cands, rel, (max(5, round(50 * scale)), max(20, round(300 * scale))))
        if len(cold_users) >= _MIN_VALIDATION_USERS and len(cold) >= 20:
            rel = cold_rows[cold_users][:, cold].tocsr()
            ks = (max(5, round(0.01 * len(cold))), max(10, round(0.05 * len(cold))))
            cold_task = (cold_users, cold, rel, ks)
        if warm is None and cold_task is None:
            return None
        N_in = N
        if len(cold):
            N_in = (N @ sp.diags((~is_cold).astype(np.float32))).tocsr()
        return R_in, N_in, warm, cold_task

    def _sample(self, rng: np.random.Generator, users: np.ndarray, limit: int | None = None) -> np.ndarray:
        limit = self.validation_users if limit is None else min(limit, self.validation_users)
        if len(users) > limit:
            users = np.sort(rng.choice(users, limit, replace=False))
        return users

    def _validation_task(self, R_in, N_in, users, cands, rel: sp.csr_matrix, ks, *, exclude: bool) -> dict:
        """z-scored score components of the held-out users over the task's candidates."""
        cand_tfidf = self.item_tfidf_[cands]
        S, G = self._graphs(cand_tfidf)
        V = self._candidate_factors(cands, S)
        P, Nn = R_in[users], N_in[users]
        knn, cen, cf = self._components(P, Nn, self.user_factors_[users], None, cands, cand_tfidf, S, V, G)
        n_u = np.diff(P.indptr).astype(np.float32)
        rel_d = rel.toarray() > 0
        return {
            "Z": (_zscore(knn), _zscore(cen), _zscore(cf) * (n_u / (n_u + self.cf_shrink))[:, None]),
            "pop": self._popularity_z(cands, S),
            "mask": P[:, cands].toarray() > 0 if exclude else None,
            "rel": rel_d,
            "n_rel": np.maximum(rel_d.sum(axis=1), 1),
            "ks": ks,
        }

    def _grid_search(self, tasks: list[dict], default: np.ndarray) -> np.ndarray:
        """Blend weights for one kind of held-out task (see :meth:`_select_blend`).

        Each grid point gets its per-user held-out recall (mean over the
        task's cut-offs and repeats). The choice follows the one-standard-error
        rule: among the blends whose mean is within one standard error (of the
        paired per-user difference) of the best, the one closest to the
        default blend. On small data the differences are noise and the
        defaults stay; on large data the best blend wins.
        """

        def per_user(w) -> np.ndarray:
            out = []
            for t in tasks:
                Z = t["Z"]
                total = w[0] * Z[0] + w[1] * Z[1] + w[2] * Z[2]
                if w[3]:
                    total = total + w[3] * t["pop"]
                if t["mask"] is not None:
                    total = np.where(t["mask"], -np.inf, total)
                kmax = min(max(t["ks"]), total.shape[1])
                hits = np.take_along_axis(t["rel"], top_n(total, kmax), axis=1)
                out.append(np.mean([hits[:, : min(k, kmax)].sum(axis=1) / t["n_rel"] for k in t["ks"]], axis=0))
            return np.concatenate(out)

        def distance(w) -> float:
            d = np.asarray(w[:3], np.float64), np.asarray(default[:3], np.float64)
            d[0][:2] /= max(d[0][:2].sum(), 1e-12)
            d[1][:2] /= max(d[1][:2].sum(), 1e-12)
            return float(np.abs(d[0][:2] - d[1][:2]).sum() + abs(np.log2((1 + d[0][2]) / (1 + d[1][2]))))

        def choose(grid) -> tuple:
            scores = np.array([per_user(w) for w in grid])
            best = int(np.argmax(scores.mean(axis=1)))
            diff = scores[best] - scores
            se = diff.std(axis=1, ddof=1) / np.sqrt(scores.shape[1]) if scores.shape[1] > 1 else 0.0
            near = np.flatnonzero(diff.mean(axis=1) <= se)
            return grid[min(near, key=lambda i: (distance(grid[i]), i))]

        best = choose(self._blend_grid())
        if self.popularity_weight > 0:
            best = choose([(*best[:3], p) for p in _POP_GRID])
        return np.asarray(best, dtype=np.float32)

    def _fit_als(self, R: sp.csr_matrix, N: sp.csr_matrix, warm_start: bool = False) -> None:
        """Implicit ALS; ``warm_start`` continues from the current factors with a third of
        the iterations (the final fit after the inner validation fit, on the same users
        and items, starts close to its solution)."""
        from implicit.cpu.als import AlternatingLeastSquares

        C = (R - self.negative_weight * N).tocsr()
        C.eliminate_zeros()
        factors, iterations = self.factors, self.iterations
        if self.large_scale and R.nnz > self.large_scale:
            factors, iterations = min(factors, _LARGE_FACTORS), min(iterations, _LARGE_ITERATIONS)
        if warm_start:
            iterations = max(3, -(-iterations // 3))
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                factors=factors,
                regularization=self.regularization,
                alpha=self.alpha,
                iterations=iterations,
                calculate_training_loss=False,
                random_state=self.random_state,
                num_threads=self.num_threads,
            )
            if warm_start:
                model.user_factors = self.user_factors_.copy()
                model.item_factors = self.item_factors_.copy()
            model.fit(C, show_progress=False)
        self.user_factors_ = _half(model.user_factors)
        self.item_factors_ = _half(model.item_factors)

    def _cf_reliability(self) -> float:
        """Trust in collaborative terms, from the amount of training data."""
        nnz = float(self.n_interactions_)
        return nnz / (nnz + self.cf_evidence) if self.cf_evidence > 0 else 1.0

    # --------------------------------------------------------------- encode
    def encode_items(self, item_content: Content) -> np.ndarray:
        """Dense L2-normalised content embeddings (n x n_components) for any papers."""
        return self.encoder_.transform(item_content)

    def _candidate_factors(self, candidates: np.ndarray, S: sp.csr_matrix) -> np.ndarray:
        """Item factors for candidates: ALS for warm papers, content neighbours' for the rest.

        A candidate's content estimate is the similarity-weighted mean of the
        ALS factors of its content neighbours among the training papers
        ("papers that read like this one are liked by readers like these").
        Warm papers blend their own factor with that estimate by evidence:
        ``(c_j v_j + factor_smoothing * v_hat_j) / (c_j + factor_smoothing)``.
        """
        # only neighbours with readers carry a factor (the others' are ~0 and would only shrink)
        S = (sp.diags((self.item_counts_ > 0).astype(np.float32)) @ S).tocsr()
        mass = np.asarray(S.sum(axis=0)).ravel()
        V_hat = (S.T @ self.item_factors_) / np.maximum(mass, 1e-12)[:, None]
        V_hat = V_hat.astype(np.float32)
        known = np.flatnonzero((candidates >= 0) & (candidates < self.n_items_))
        if len(known):
            ids = candidates[known]
            c = self.item_counts_[ids].astype(np.float32)[:, None]
            k = np.float32(self.factor_smoothing)
            own = self.item_factors_[ids]
            V_hat[known] = np.where(c > 0, (c * own + k * V_hat[known]) / np.maximum(c + k, 1e-12), V_hat[known])
        return V_hat

    def _graphs(self, cand_tfidf: sp.csr_matrix, centroid: bool = True):
        """``(S, G)``: sparse top-k sharpened content neighbours (n_items_ x m) and, when
        the centroid term is on and the matrix affordable (<= 3e7 cells), every cosine
        as a dense array (else None: the centroid term then goes through user profiles)."""
        m = cand_tfidf.shape[0]
        G = None
        if centroid and self.n_items_ * m <= 3e7:
            G = np.empty((self.n_items_, m), dtype=np.float32)
        S = neighbour_matrix(self.item_tfidf_, cand_tfidf, self.knn_neighbors, self.knn_power, dense=G)
        return S, G

    # ------------------------------------------------------------ recommend
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
        return_reasons: bool = False,
    ):
        """Top-``n`` candidates for known (training) users.

        ``exclude`` is aligned with ``user_ids``: one array of item ids per
        requested user, or a sparse matrix whose row ``i`` belongs to
        ``user_ids[i]``. ``prior`` is one value per candidate (or a
        ``(len(user_ids), len(candidates))`` array).

        Returns ``(ids, scores)`` arrays of shape ``(len(user_ids), n)`` (padded
        with id -1 / score -inf when fewer candidates remain), plus ``reasons``
        when ``return_reasons``: the id of the user's positive item most
        similar to the recommendation, ``REASON_TRENDING`` (-1) when the prior
        dominated, ``REASON_NONE`` (-2) when there is nothing to point at.
        """
        if self.user_items_ is None:
            raise ValueError(
                "this model was loaded without its training users (to_arrays(include_users=False)); "
                "use recommend_for_rows with the users' interaction rows, or save with include_users=True"
            )
        user_ids = np.asarray(user_ids, dtype=np.int64)
        return self._recommend(
            self.user_items_[user_ids],
            self.user_negatives_[user_ids],
            self.user_factors_[user_ids],
            None,
            candidates,
            n,
            candidate_content=candidate_content,
            exclude=exclude,
            prior=prior,
            diversity=diversity,
            return_reasons=return_reasons,
        )

    def recommend_for_rows(
        self,
        user_rows: sp.spmatrix,
        candidates: np.ndarray | None = None,
        n: int = 10,
        *,
        negative_rows: sp.spmatrix | None = None,
        categories: Sequence[Sequence[str] | str | None] | None = None,
        candidate_content: Content | None = None,
        exclude: Exclude = None,
        prior: np.ndarray | None = None,
        diversity: float = 0.0,
        return_reasons: bool = False,
    ):
        """Like :meth:`recommend` for users given by their interaction rows (fold-in).

        ``user_rows`` (and ``negative_rows``) are sparse over the training item
        indices, with KIND_WEIGHTS confidences; ``categories`` is an optional
        list (one per user) of onboarding category strings such as
        ``["cs.LG", "stat.ML"]``, used as extra profile text. No retraining.
        """
        P = sp.csr_matrix(user_rows, dtype=np.float32)
        P = self._pad_columns(P)
        Nn = (
            sp.csr_matrix(P.shape, dtype=np.float32)
            if negative_rows is None
            else self._pad_columns(sp.csr_matrix(negative_rows, dtype=np.float32))
        )
        U = self.fold_in_users(P, Nn)
        Q = None
        if categories is not None:
            texts = [(c if isinstance(c, str) else " ".join(c)) if c is not None else "" for c in categories]
            Q = self.encoder_.transform_sparse(texts)
        return self._recommend(
            P,
            Nn,
            U,
            Q,
            candidates,
            n,
            candidate_content=candidate_content,
            exclude=exclude,
            prior=prior,
            diversity=diversity,
            return_reasons=return_reasons,
        )

    def _pad_columns(self, M: sp.csr_matrix) -> sp.csr_matrix:
        if M.shape[1] == self.n_items_:
            return M
        if M.shape[1] > self.n_items_:
            return M[:, : self.n_items_].tocsr()
        M = M.copy()
        M.resize((M.shape[0], self.n_items_))
        return M

    def fold_in_users(self, user_rows: sp.spmatrix, negative_rows: sp.spmatrix | None = None) -> np.ndarray:
        """ALS user factors for new users from their rows, item factors fixed.

        Solves the same weighted least squares as implicit's ALS user step
        (confidence ``alpha * r``, negatives as negative confidence).
        """
        P = self._pad_columns(sp.csr_matrix(user_rows, dtype=np.float32))
        C = P
        if negative_rows is not None:
            C = (P - self.negative_weight * self._pad_columns(sp.csr_matrix(negative_rows, dtype=np.float32))).tocsr()
        C = (self.alpha * C).tocsr()
        C.eliminate_zeros()
        Y = self.item_factors_.astype(np.float64)
        f = Y.shape[1]
        YtY = Y.T @ Y + self.regularization * np.eye(f)
        out = np.zeros((C.shape[0], f), dtype=np.float32)
        for u in range(C.shape[0]):
            sl = slice(C.indptr[u], C.indptr[u + 1])
            idx, conf = C.indices[sl], C.data[sl].astype(np.float64)
            if len(idx) == 0:
                continue
            Yi = Y[idx]
            c = np.abs(conf)
            A = YtY + (Yi.T * (c - 1.0)) @ Yi
            b = (Yi * np.where(conf > 0, c, 0.0)[:, None]).sum(axis=0)
            out[u] = np.linalg.solve(A, b)
        return out

    def _recommend(
        self,
        P: sp.csr_matrix,
        Nn: sp.csr_matrix,
        U: np.ndarray,
        Q: sp.csr_matrix | None,
        candidates: np.ndarray | None,
        n: int,
        *,
        candidate_content: Content | None,
        exclude,
        prior: np.ndarray | None,
        diversity: float,
        return_reasons: bool,
    ):
        if candidates is None:
            candidates = np.arange(self.n_items_)
        candidates = np.asarray(candidates, dtype=np.int64)
        m = len(candidates)
        if np.any(candidates < 0):
            raise ValueError("candidate ids must be >= 0 (-1 is the padding id of the result)")
        if candidate_content is not None:
            cand_tfidf = self.encoder_.transform_sparse(candidate_content)
            if cand_tfidf.shape[0] != m:
                raise ValueError("candidate_content must have one row per candidate")
        else:
            if np.any((candidates < 0) | (candidates >= self.n_items_)):
                raise ValueError("candidates outside the training items need candidate_content")
            cand_tfidf = self.item_tfidf_[candidates]
        cand_emb = self.encoder_.embed(cand_tfidf)
        cold = np.ones(m, dtype=bool)
        known = (candidates >= 0) & (candidates < self.n_items_)
        cold[known] = self.item_counts_[candidates[known]] == 0
        W = np.where(cold[None, :, None], self.blend_[1][None, None, :], self.blend_[0][None, None, :])[0]
        use_centroid = bool(W[:, 1].any())
        S, G = self._graphs(cand_tfidf, use_centroid)
        V = self._candidate_factors(candidates, S)
        prior_arr = None if prior is None else np.asarray(prior, dtype=np.float32)
        if prior_arr is not None and prior_arr.shape[-1] != m:
            raise ValueError("prior must have one value per candidate")

        # near-duplicates are judged on sparse tf-idf (sharper than LSA) when affordable
        cand_sim = None
        if diversity > 0 and m <= 5000:
            cand_sim = (cand_tfidf @ cand_tfidf.T).toarray()
        pop_z = self._popularity_z(candidates, S)
        n_rows = P.shape[0]
        counts = np.diff(P.indptr)
        ids = np.full((n_rows, n), -1, dtype=np.int64)
        scores = np.full((n_rows, n), -np.inf, dtype=np.float32)
        reasons = np.full((n_rows, n), REASON_NONE, dtype=np.int64) if return_reasons else None
        block = max(1, min(4096, int(4e6 // max(m, 1))))
        for start in range(0, n_rows, block):
            rows = np.arange(start, min(n_rows, start + block))
            Pb = P[rows]
            knn, cen, cf = self._components(
                Pb, Nn[rows], U[rows], None if Q is None else Q[rows], candidates, cand_tfidf, S, V, G, use_centroid
            )
            shrink = (counts[rows] / (counts[rows] + self.cf_shrink)).astype(np.float32)[:, None]
            personal = W[:, 0] * _zscore(knn) + (W[:, 2] * shrink) * _zscore(cf)
            if cen is not None:
                personal += W[:, 1] * _zscore(cen)
            if pop_z is not None:
                personal += W[:, 3] * pop_z
            personal = personal.astype(np.float32)
            total = personal
            prior_term = None
            if prior_arr is not None and self.prior_weight:
                pb = prior_arr if prior_arr.ndim == 1 else prior_arr[rows]
                prior_term = self.prior_weight * _zscore(np.atleast_2d(pb).astype(np.float32))
                total = personal + prior_term
            mask = exclusion_mask(exclude, rows, candidates)
            if mask is not None:
                total = np.where(mask, -np.inf, total)
            pos = mmr(total, cand_emb, n, diversity, similarity=cand_sim) if diversity > 0 else top_n(total, n)
            sc = np.take_along_axis(total, pos, axis=1)
            valid = np.isfinite(sc)
            k = pos.shape[1]
            ids[rows, :k] = np.where(valid, candidates[pos], -1)
            scores[rows, :k] = np.where(valid, sc, -np.inf)
            if return_reasons:
                reasons[rows, :k] = self._reasons(Pb, pos, cand_emb, personal, prior_term, valid)
        if return_reasons:
            return ids, scores, reasons
        return ids, scores

    def _popularity_z(self, candidates: np.ndarray, S: sp.csr_matrix) -> np.ndarray:
        """z-scored log readership per candidate (1 x m).

        Papers with readers: their own ``log(1 + count)``. Papers without (new
        ones): the similarity-weighted mean over their content neighbours
        (themselves excluded), i.e. how many readers papers like this one get.
        """
        m = len(candidates)
        known = (candidates >= 0) & (candidates < self.n_items_)
        counts = np.zeros(m, dtype=np.int64)
        counts[known] = self.item_counts_[candidates[known]]
        logc = np.log1p(self.item_counts_).astype(np.float32)
        S = S.tocoo()
        keep = ~(known[S.col] & (S.row == np.where(known, candidates, -1)[S.col]))
        w = np.bincount(S.col[keep], weights=S.data[keep], minlength=m)
        num = np.bincount(S.col[keep], weights=S.data[keep] * logc[S.row[keep]], minlength=m)
        pop = np.where(counts > 0, np.log1p(counts), num / np.maximum(w, 1e-12))
        return _zscore(pop[None, :].astype(np.float32))

    def _mean_scores(self, cand_tfidf: sp.csr_matrix) -> np.ndarray:
        """Candidates' dot product with the mean training paper (tf-idf)."""
        return np.asarray(cand_tfidf @ self.mean_tfidf_, dtype=np.float32).ravel()

    def _components(self, Pb, Nb, Ub, Qb, candidates, cand_tfidf, S, V, G=None, centroid=True):
        """Raw (unscaled) knn, centroid and CF scores of a block of users over the candidates.

        * knn: ``sum_i r_ui s_ij - g sum_i n_ui s_ij`` over the top-k sharpened
          neighbour graph ``S`` (plus onboarding categories as text);
        * centroid: cosine of the candidate with the user's summed tf-idf profile
          (every feature of every liked paper, no neighbour cut-off: it keeps
          ranking far down the list, where a single liked paper has no
          neighbours left);
        * cf: ``U_u . V_j``.
        """
        knn = np.asarray((Pb @ S).todense(), dtype=np.float32)
        Cb = Pb
        if Nb.nnz:
            knn -= self.negative_weight * np.asarray((Nb @ S).todense(), dtype=np.float32)
            Cb = (Pb - self.negative_weight * Nb).tocsr()
        cat = None
        if Qb is not None:
            cat = self.category_weight * np.asarray((Qb @ cand_tfidf.T).todense(), dtype=np.float32)
            knn += cat
        cen = None
        if centroid:
            if G is not None:
                cen = np.asarray(Cb @ G, dtype=np.float32)
            else:
                profile = (Cb @ self.item_tfidf_).tocsr()
                cen = np.asarray((profile @ cand_tfidf.T).todense(), dtype=np.float32)
            if cat is not None:
                cen += cat
            # mean liked paper minus the mean paper: what sets the user apart (a
            # balanced linear SVM learns about this direction, cf. arxiv-sanity)
            mass = np.asarray(Pb.sum(axis=1), dtype=np.float32) + (0.0 if Qb is None else self.category_weight)
            cen /= np.maximum(mass, 1e-12)
            if self.centroid_contrast:
                cen -= self.centroid_contrast * self._mean_scores(cand_tfidf)[None, :]
            cen[mass.ravel() <= 0] = 0.0  # no profile (nothing liked, no categories): no opinion
        cf = Ub @ V.T
        return knn, cen, cf

    def _reasons(
        self,
        Pb: sp.csr_matrix,
        pos: np.ndarray,
        cand_emb: np.ndarray,
        personal: np.ndarray,
        prior_term: np.ndarray | None,
        valid: np.ndarray,
    ) -> np.ndarray:
        out = np.full(pos.shape, REASON_NONE, dtype=np.int64)
        for r in range(pos.shape[0]):
            liked = Pb.indices[Pb.indptr[r] : Pb.indptr[r + 1]]
            if len(liked):
                sims = cand_emb[pos[r]] @ self.item_embeddings_[liked].T
                out[r] = liked[np.argmax(sims, axis=1)]
            if prior_term is not None:
                pt = prior_term[min(r, prior_term.shape[0] - 1), pos[r]]
                trending = (pt > 0) & (pt > personal[r, pos[r]])
                out[r, trending] = REASON_TRENDING
        out[~valid] = REASON_NONE
        return out

    # ---------------------------------------------------------- persistence
    def to_arrays(self, include_users: bool = False) -> dict[str, np.ndarray]:
        """All fitted state and hyperparameters as plain arrays.

        Per-paper features and factors are stored as float16. The training
        users' rows and factors are only needed by :meth:`recommend` (serving
        folds users in from fresh rows with :meth:`recommend_for_rows`), so
        they are left out unless ``include_users``: at 1M interactions that
        and float16 cut the artifact from ~400 MB to a fraction of it.
        """
        X = self.item_tfidf_
        arrays = {
            "format": np.array(FORMAT),
            "params": np.array(json.dumps(self.get_params())),
            "shape": np.array([self.n_users_, self.n_items_]),
            "n_interactions": np.array(self.n_interactions_),
            "X_data": X.data.astype(np.float16),
            "X_indices": X.indices,
            "X_indptr": X.indptr,
            "X_shape": np.array(X.shape),
            "item_counts": self.item_counts_,
            "item_factors": self.item_factors_.astype(np.float16),
            "blend": self.blend_.astype(np.float32),
            "blend_source": np.asarray(self.blend_source_, dtype=str),
        }
        if include_users:
            if self.user_items_ is None:
                raise ValueError("this model was loaded without its training users")
            R, N = self.user_items_, self.user_negatives_
            arrays.update(
                {
                    "R_data": R.data,
                    "R_indices": R.indices,
                    "R_indptr": R.indptr,
                    "N_data": N.data,
                    "N_indices": N.indices,
                    "N_indptr": N.indptr,
                    "user_factors": self.user_factors_.astype(np.float16),
                }
            )
        arrays.update(self.encoder_.to_arrays())
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> HybridRecommender:
        """Inverse of :meth:`to_arrays`; also reads v1 artifacts (float32, users always included)."""
        fmt = str(arrays["format"])
        if fmt not in _READABLE_FORMATS:
            raise ValueError(f"unknown artifact format {fmt!r} (this code reads {', '.join(_READABLE_FORMATS)})")
        params = json.loads(str(arrays["params"]))
        params["ngram_range"] = tuple(params["ngram_range"])
        model = cls(**params)
        n_users, n_items = (int(x) for x in arrays["shape"])
        model.n_users_, model.n_items_ = n_users, n_items
        f32 = np.float32
        model.user_items_ = model.user_negatives_ = model.user_factors_ = None
        if "R_data" in arrays:
            model.user_items_ = sp.csr_matrix(
                (arrays["R_data"], arrays["R_indices"], arrays["R_indptr"]), shape=(n_users, n_items)
            )
            model.user_negatives_ = sp.csr_matrix(
                (arrays["N_data"], arrays["N_indices"], arrays["N_indptr"]), shape=(n_users, n_items)
            )
            model.user_factors_ = arrays["user_factors"].astype(f32)
        if "n_interactions" in arrays:
            model.n_interactions_ = int(arrays["n_interactions"])
        else:
            model.n_interactions_ = int(model.user_items_.nnz)
        model.item_tfidf_ = sp.csr_matrix(
            (arrays["X_data"].astype(f32), arrays["X_indices"], arrays["X_indptr"]),
            shape=tuple(int(x) for x in arrays["X_shape"]),
        )
        model.item_counts_ = arrays["item_counts"]
        model.item_factors_ = arrays["item_factors"].astype(f32)
        model.encoder_ = ContentEncoder.from_arrays(arrays)
        model.mean_tfidf_ = _mean_row(model.item_tfidf_)
        if "blend" in arrays:
            model.blend_ = arrays["blend"].astype(f32)
            model.blend_source_ = arrays["blend_source"].astype(str)
        else:
            # v1/v2: fixed weights, no centroid term (scores as those versions did)
            model.centroid_weight = 0.0
            model.blend_ = model._default_blend()
            model.blend_source_ = np.array(["defaults", "defaults"], dtype="<U10")
        if "item_embeddings" in arrays:
            model.item_embeddings_ = arrays["item_embeddings"].astype(f32)
        else:
            # v2 recomputes them (a fraction of a second) rather than storing n_items x 128
            model.item_embeddings_ = _half(model.encoder_.embed(model.item_tfidf_))
        return model

    def to_bytes(self, include_users: bool = False) -> bytes:
        """Serialise to ``.npz`` bytes (no pickle), e.g. for a database column."""
        return save_arrays(self.to_arrays(include_users=include_users))

    @classmethod
    def from_bytes(cls, data: bytes) -> HybridRecommender:
        """Load from :meth:`to_bytes` output; refuses pickled content."""
        return cls.from_arrays(load_arrays(data))

    def save(self, path: str | os.PathLike, include_users: bool = False) -> None:
        """Write the artifact atomically (temp file + ``os.replace``)."""
        atomic_write_bytes(path, self.to_bytes(include_users=include_users))

    @classmethod
    def load(cls, path: str | os.PathLike) -> HybridRecommender:
        """Read an artifact written by :meth:`save`."""
        with open(path, "rb") as fh:
            return cls.from_bytes(fh.read())
