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
  + w_prior * z(prior_j)            external prior, e.g. "trending"

(A popularity term, z(log(1 + readers_j)), was removed in artifact format v4: inner validation gave it
weight 0 on both CiteULike datasets and the ablation measured no effect; see docs/recommender.md.)

* ``V_j`` is the ALS item factor for papers with interactions; for papers
  never seen (announced today) or without interactions it is the
  similarity-weighted mean of the factors of its content neighbours with
  readers ("what kind of readers does text like this attract").
* ``s_ij`` is the cosine of sublinear tf-idf vectors, keeping the
  ``knn_neighbors`` most similar training papers of each candidate, raised to
  ``knn_power`` (sharpening).
* The weights ``blend_`` (one row for candidates with readers, one for the
  rest) are chosen at fit time by an inner validation split of the training
  interactions (see :mod:`recommender.ranking.blend`); the
  hyperparameters give the defaults used when nothing can be held out.
* Negatives (thumbs down / not interested) enter ALS as negative confidence and
  subtract from the content terms.

Each term is a function over fitted arrays in :mod:`recommender.ranking.scoring`; ALS
training and fold-in are in :mod:`recommender.ranking.als`. All learned state is plain
arrays, persisted with ``np.savez`` and ``allow_pickle=False`` (see
:mod:`recommender.ranking.artifact`). To rank many batches of users over the same
candidates, :meth:`HybridRecommender.prepare_candidates` once and pass ``prepared=``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator

from . import als, artifact, blend, scoring
from .content import Content, ContentEncoder
from .diversity import mmr
from .scoring import REASON_NONE, REASON_TRENDING, zscore
from .selection import Exclude, exclusion_mask, top_n

__all__ = ["REASON_NONE", "REASON_TRENDING", "HybridRecommender", "PreparedCandidates"]

FORMAT = artifact.FORMAT
TERMS = blend.TERMS
# near-duplicates are judged on sparse tf-idf (sharper than LSA) up to this many candidates
_DIVERSITY_SPARSE_MAX = 5000
_CATEGORY_MEMO_SIZE = 4096


class _Phases:
    """Seconds per ranking phase, added into the caller's ``timings`` dict (nothing when it is None):
    wall time under the phase's name, the process's CPU time under ``"cpu:" + name``."""

    def __init__(self, timings: dict[str, float] | None) -> None:
        self.timings = timings
        self.last = (time.perf_counter(), time.process_time())

    def mark(self, phase: str) -> None:
        if self.timings is not None:
            now = (time.perf_counter(), time.process_time())
            self.timings[phase] = self.timings.get(phase, 0.0) + now[0] - self.last[0]
            self.timings["cpu:" + phase] = self.timings.get("cpu:" + phase, 0.0) + now[1] - self.last[1]
            self.last = now


@dataclass(eq=False)
class PreparedCandidates:
    """Everything about a candidate set that does not depend on the users, from one model.

    Made by :meth:`HybridRecommender.prepare_candidates`; pass it as ``prepared=`` to
    :meth:`HybridRecommender.recommend_for_rows` to rank many batches of users over the same
    candidates (a morning's digests, every For you page) without re-encoding them or rebuilding
    their neighbour graph. Read-only once made, so one object can serve several threads.
    """

    model: HybridRecommender = field(repr=False)
    candidates: np.ndarray
    tfidf: sp.csr_matrix
    tfidf_t: sp.csr_matrix  # the same, transposed (features x candidates): products with user profiles
    embeddings: np.ndarray
    weights: np.ndarray  # (m, 3): the warm or cold blend row (knn, centroid, cf) of each candidate
    S: sp.csr_matrix
    G: np.ndarray | None
    factors: np.ndarray
    mean_scores: np.ndarray
    use_centroid: bool
    similarity: np.ndarray | None = None

    def take(self, positions: np.ndarray) -> PreparedCandidates:
        """The same work for a subset or reordering of these candidates (every term but MMR's pairwise
        similarities is per candidate, so nothing is recomputed)."""
        p = np.asarray(positions, dtype=np.int64)
        return replace(
            self,
            candidates=self.candidates[p],
            tfidf=self.tfidf[p],
            tfidf_t=self.tfidf[p].T.tocsr(),
            embeddings=self.embeddings[p],
            weights=self.weights[p],
            S=self.S[:, p].tocsr(),
            G=None if self.G is None else self.G[:, p],
            factors=self.factors[p],
            mean_scores=self.mean_scores[p],
            use_centroid=bool(self.weights[p][:, 1].any()) if len(p) else self.use_centroid,
            similarity=None if self.similarity is None else self.similarity[np.ix_(p, p)],
        )

    @staticmethod
    def concat(parts: Sequence[PreparedCandidates]) -> PreparedCandidates:
        """One prepared set from parts made by the same model (e.g. yesterday's candidates + today's new ones).

        Per-candidate work is kept as it is; the dense cosines are kept only where
        :meth:`HybridRecommender.prepare_candidates` would have kept them, and MMR's pairwise
        similarities are left to :meth:`with_similarity`.
        """
        first = parts[0]
        if any(p.model is not first.model for p in parts):
            raise ValueError("prepared candidates from different models")
        weights = np.concatenate([p.weights for p in parts])
        use_centroid = bool(weights[:, 1].any())
        m = int(sum(len(p.candidates) for p in parts))
        tfidf = sp.vstack([p.tfidf for p in parts], format="csr")
        affordable = first.S.shape[0] * m <= scoring.DENSE_COSINES_MAX
        dense = use_centroid and affordable and all(p.G is not None for p in parts)
        return PreparedCandidates(
            model=first.model,
            candidates=np.concatenate([p.candidates for p in parts]),
            tfidf=tfidf,
            tfidf_t=tfidf.T.tocsr(),
            embeddings=np.concatenate([p.embeddings for p in parts]),
            weights=weights,
            S=sp.hstack([p.S for p in parts], format="csr"),
            G=np.hstack([p.G for p in parts]) if dense else None,
            factors=np.concatenate([p.factors for p in parts]),
            mean_scores=np.concatenate([p.mean_scores for p in parts]),
            use_centroid=use_centroid,
        )

    def with_similarity(self) -> PreparedCandidates:
        """These candidates with MMR's pairwise tf-idf similarities (when affordable: up to 5,000)."""
        if self.similarity is not None or len(self.candidates) > _DIVERSITY_SPARSE_MAX:
            return self
        return replace(self, similarity=(self.tfidf @ self.tfidf.T).toarray())

    @property
    def nbytes(self) -> int:
        """Memory held (for size-bounded caches); the model itself is not counted."""
        arrays = [self.candidates, self.embeddings, self.weights, self.factors, self.mean_scores]
        arrays += [a for a in (self.G, self.similarity) if a is not None]
        sparse = [m.data.nbytes + m.indices.nbytes + m.indptr.nbytes for m in (self.tfidf, self.tfidf_t, self.S)]
        return int(sum(a.nbytes for a in arrays) + sum(sparse))


class HybridRecommender(BaseEstimator):
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
        Training interactions at which the collaborative term gets half its
        weight: with a few hundred interactions (a new deployment) ALS
        factors are noise and content must lead.
    factor_smoothing : float
        Pseudo-count pulling a warm paper's ALS factor towards the factor
        predicted from its content neighbours (0 = use ALS only).
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
        R, N = self._check_fit_input(interactions, item_content, negatives)
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
        self.item_tfidf_.data = scoring.half(self.item_tfidf_.data)
        self.item_embeddings_ = scoring.half(self.encoder_.embed(self.item_tfidf_))
        self.mean_tfidf_ = scoring.mean_row(self.item_tfidf_)

        self.user_items_, self.user_negatives_ = R, N
        self.n_users_, self.n_items_ = R.shape
        self.item_counts_ = np.asarray((R > 0).sum(axis=0)).ravel().astype(np.int64)
        self.n_interactions_ = int(R.nnz)
        self.blend_ = self.default_blend()
        self.blend_source_ = np.array(["defaults", "defaults"], dtype="<U10")
        validated = blend.select_blend(self, R, N) if self.validation else False
        self.item_counts_ = np.asarray((R > 0).sum(axis=0)).ravel().astype(np.int64)
        self.n_interactions_ = int(R.nnz)
        self.fit_als(R, N, warm_start=validated)
        return self

    @staticmethod
    def _check_fit_input(interactions, item_content, negatives) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        R = sp.csr_matrix(interactions, dtype=np.float32)
        R.eliminate_zeros()
        N = (
            sp.csr_matrix(R.shape, dtype=np.float32)
            if negatives is None
            else sp.csr_matrix(negatives, dtype=np.float32)
        )
        if N.shape != R.shape:
            raise ValueError(f"negatives shape {N.shape} != interactions shape {R.shape}")
        n_content = len(item_content) if not sp.issparse(item_content) else item_content.shape[0]
        if n_content != R.shape[1]:
            raise ValueError(f"{n_content} content rows for {R.shape[1]} items")
        return R, N

    def default_blend(self) -> np.ndarray:
        """Blend weights from the hyperparameters (used when validation cannot run)."""
        return blend.default_blend(self)

    def fit_als(self, R: sp.csr_matrix, N: sp.csr_matrix, warm_start: bool = False) -> None:
        """Fit ``user_factors_`` / ``item_factors_`` with implicit ALS (negatives as negative confidence).

        ``warm_start`` continues from the current factors with a third of the iterations.
        """
        C = (R - self.negative_weight * N).tocsr()
        C.eliminate_zeros()
        factors, iterations = self.factors, self.iterations
        if self.large_scale and R.nnz > self.large_scale:
            factors, iterations = min(factors, als.LARGE_FACTORS), min(iterations, als.LARGE_ITERATIONS)
        if warm_start:
            iterations = max(3, -(-iterations // 3))
        self.user_factors_, self.item_factors_ = als.fit_als(
            C,
            factors=factors,
            regularization=self.regularization,
            alpha=self.alpha,
            iterations=iterations,
            random_state=self.random_state,
            num_threads=self.num_threads,
            start=(self.user_factors_, self.item_factors_) if warm_start else None,
        )

    # --------------------------------------------------------------- encode
    def encode_items(self, item_content: Content) -> np.ndarray:
        """Dense L2-normalised content embeddings (n x n_components) for any papers."""
        return self.encoder_.transform(item_content)

    def fold_in_users(self, user_rows: sp.spmatrix, negative_rows: sp.spmatrix | None = None) -> np.ndarray:
        """ALS user factors for new users from their rows, item factors fixed (see :mod:`.als`)."""
        P = self._pad_columns(sp.csr_matrix(user_rows, dtype=np.float32))
        C = P
        if negative_rows is not None:
            C = (P - self.negative_weight * self._pad_columns(sp.csr_matrix(negative_rows, dtype=np.float32))).tocsr()
        C = (self.alpha * C).tocsr()
        C.eliminate_zeros()
        _, YtY, Z = self._fold_in_cache()
        with als.single_blas_thread():
            return als.fold_in(C, self.item_factors_, YtY, Z)

    def fold_in_gram(self) -> np.ndarray:
        """``YtY + reg I`` of the current item factors, computed once with the fold-in basis ``Z`` (both
        cost items x f^2: serving warms them at load, not on the first request)."""
        return self._fold_in_cache()[1]

    def _fold_in_cache(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cached = getattr(self, "gram_", None)
        if cached is None or cached[0] is not self.item_factors_:
            YtY = als.gram(self.item_factors_, self.regularization)
            cached = (self.item_factors_, YtY, als.basis(self.item_factors_, YtY))
            self.gram_ = cached
        return cached

    def _pad_columns(self, M: sp.csr_matrix) -> sp.csr_matrix:
        if M.shape[1] == self.n_items_:
            return M
        if M.shape[1] > self.n_items_:
            return M[:, : self.n_items_].tocsr()
        M = M.copy()
        M.resize((M.shape[0], self.n_items_))
        return M

    # ------------------------------------------------------------ candidates
    def prepare_candidates(
        self,
        candidates: np.ndarray | None = None,
        *,
        candidate_content: Content | None = None,
        diversity: float = 0.0,
        centroid: bool | None = None,
    ) -> PreparedCandidates:
        """The user-independent work of ranking ``candidates``, to reuse over many calls.

        ``candidates`` are model columns (>= ``n_items_`` for papers unseen in training, which
        then need ``candidate_content``: one text or count row per candidate). ``diversity`` > 0
        also precomputes the candidates' pairwise similarities for MMR. ``centroid`` forces the
        centroid term on or off (default: on when the blend uses it).
        """
        candidates = np.arange(self.n_items_) if candidates is None else np.asarray(candidates, dtype=np.int64)
        tfidf = self._candidate_tfidf(candidates, candidate_content)
        known = scoring.known_mask(candidates, self.n_items_)
        cold = np.ones(len(candidates), dtype=bool)
        cold[known] = self.item_counts_[candidates[known]] == 0
        weights = np.where(cold[:, None], self.blend_[1][None, :], self.blend_[0][None, :])
        use_centroid = bool(weights[:, 1].any()) if centroid is None else centroid
        S, G = scoring.neighbour_graphs(
            self.item_tfidf_, tfidf, k=self.knn_neighbors, power=self.knn_power, centroid=use_centroid
        )
        similarity = None
        if diversity > 0 and len(candidates) <= _DIVERSITY_SPARSE_MAX:
            similarity = (tfidf @ tfidf.T).toarray()
        return PreparedCandidates(
            model=self,
            candidates=candidates,
            tfidf=tfidf,
            tfidf_t=tfidf.T.tocsr(),
            embeddings=self.encoder_.embed(tfidf),
            weights=weights,
            S=S,
            G=G,
            factors=scoring.candidate_factors(
                self.item_factors_, self.item_counts_, candidates, S, self.factor_smoothing
            ),
            mean_scores=np.asarray(tfidf @ self.mean_tfidf_, dtype=np.float32).ravel(),
            use_centroid=use_centroid,
            similarity=similarity,
        )

    def _candidate_tfidf(self, candidates: np.ndarray, candidate_content: Content | None) -> sp.csr_matrix:
        if np.any(candidates < 0):
            raise ValueError("candidate ids must be >= 0 (-1 is the padding id of the result)")
        if candidate_content is None:
            if np.any(candidates >= self.n_items_):
                raise ValueError("candidates outside the training items need candidate_content")
            return self.item_tfidf_[candidates]
        tfidf = self.encoder_.transform_sparse(candidate_content)
        if tfidf.shape[0] != len(candidates):
            raise ValueError("candidate_content must have one row per candidate")
        return tfidf

    def score_terms(
        self,
        P: sp.csr_matrix,
        N: sp.csr_matrix,
        U: np.ndarray,
        prepared: PreparedCandidates,
        Q: sp.csr_matrix | None = None,
    ):
        """Raw (unscaled) ``(knn, centroid, cf)`` of users (rows P / N, factors U) over prepared candidates.

        ``Q`` holds the users' onboarding categories as tf-idf text (added to both content terms);
        the centroid is None when the prepared candidates leave it off.
        """
        cat = scoring.category_term(Q, prepared.tfidf_t, self.category_weight)
        knn = scoring.knn_term(P, N, prepared.S, self.negative_weight)
        if cat is not None:
            knn += cat
        cen = None
        if prepared.use_centroid:
            cen = scoring.centroid_term(
                P,
                N,
                prepared.tfidf_t,
                G=prepared.G,
                item_tfidf=self.item_tfidf_,
                mean_scores=prepared.mean_scores,
                negative_weight=self.negative_weight,
                contrast=self.centroid_contrast,
                categories=cat,
                category_mass=0.0 if Q is None else self.category_weight,
            )
        return knn, cen, scoring.cf_term(U, prepared.factors)

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
        prepared: PreparedCandidates | None = None,
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
        prepared = self._prepared(prepared, candidates, candidate_content, diversity)
        rows = (self.user_items_[user_ids], self.user_negatives_[user_ids], self.user_factors_[user_ids], None)
        return self._rank(*rows, prepared, n, exclude, prior, diversity, return_reasons)

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
        prepared: PreparedCandidates | None = None,
        timings: dict[str, float] | None = None,
        prior_weights: np.ndarray | None = None,
    ):
        """Like :meth:`recommend` for users given by their interaction rows (fold-in).

        ``user_rows`` (and ``negative_rows``) are sparse over the training item
        indices, with KIND_WEIGHTS confidences; ``categories`` is an optional
        list (one per user) of onboarding category strings such as
        ``["cs.LG", "stat.ML"]``, used as extra profile text. No retraining.
        ``prepared`` (from :meth:`prepare_candidates`) replaces ``candidates`` and
        ``candidate_content``. ``timings``, a dict, receives the seconds spent per phase (added to
        what it holds: one dict can sum many calls), for benchmarks and profiling.
        ``prior_weights`` (one value per row, default all 1) multiplies ``prior_weight`` for that row: the
        prior is z-scored per row, so scaling the prior itself cannot change how much it counts; this is
        how a reader's personal-to-trending dial reaches the blend (``serving.rows``).
        """
        clock = _Phases(timings)
        P = self._pad_columns(sp.csr_matrix(user_rows, dtype=np.float32))
        Nn = (
            sp.csr_matrix(P.shape, dtype=np.float32)
            if negative_rows is None
            else self._pad_columns(sp.csr_matrix(negative_rows, dtype=np.float32))
        )
        prepared = self._prepared(prepared, candidates, candidate_content, diversity)
        Q = None
        if categories is not None:
            texts = [(c if isinstance(c, str) else " ".join(c)) if c is not None else "" for c in categories]
            Q = self._category_rows(texts)
        clock.mark("inputs")
        U = self.fold_in_users(P, Nn)
        clock.mark("fold_in")
        return self._rank(
            P, Nn, U, Q, prepared, n, exclude, prior, diversity, return_reasons, clock, prior_weights=prior_weights
        )

    def _category_rows(self, texts: list[str]) -> sp.csr_matrix:
        """Onboarding categories as tf-idf rows, each distinct text encoded once per model (a few
        thousand distinct field combinations at most; encoding costs milliseconds per call).

        The memo is one CSR matrix of every text seen and a text -> row index, so a block of users
        is one row selection, not a stack of per-user rows; it is replaced whole, never edited.
        """
        if not texts:
            return self.encoder_.transform_sparse(texts)
        owner, index, rows = self.__dict__.get("_category_memo", (None, {}, None))
        if owner is not self.encoder_:  # refitted: the old rows belong to another encoder
            index, rows = {}, None
        new = [t for t in dict.fromkeys(texts) if t not in index]
        if new:
            if len(index) + len(new) > _CATEGORY_MEMO_SIZE:
                index, rows, new = {}, None, list(dict.fromkeys(texts))
            encoded = sp.csr_matrix(self.encoder_.transform_sparse(new))
            index = {**index, **{t: len(index) + i for i, t in enumerate(new)}}
            rows = encoded if rows is None else sp.vstack([rows, encoded], format="csr")
            self.__dict__["_category_memo"] = (self.encoder_, index, rows)
        return rows[np.fromiter((index[t] for t in texts), dtype=np.int64, count=len(texts))]

    def _prepared(self, prepared, candidates, candidate_content, diversity) -> PreparedCandidates:
        if prepared is None:
            return self.prepare_candidates(candidates, candidate_content=candidate_content, diversity=diversity)
        if prepared.model is not self:
            raise ValueError("prepared candidates come from another model")
        if candidate_content is not None or (
            candidates is not None and not np.array_equal(np.asarray(candidates), prepared.candidates)
        ):
            raise ValueError("pass candidates and candidate_content to prepare_candidates, not with prepared=")
        return prepared

    def _rank(
        self, P, Nn, U, Q, prepared, n, exclude, prior, diversity, return_reasons, clock=None, prior_weights=None
    ):
        """Blend, exclude, pick (top-n or MMR) and explain, in blocks of users.

        BLAS runs single-threaded here (see :func:`.als.single_blas_thread`).
        """
        with als.single_blas_thread():
            return self._rank_blocks(
                P, Nn, U, Q, prepared, n, exclude, prior, diversity, return_reasons, clock, prior_weights
            )

    def _rank_blocks(self, P, Nn, U, Q, prepared, n, exclude, prior, diversity, return_reasons, clock, prior_weights):
        clock = clock or _Phases(None)
        candidates = prepared.candidates
        m = len(candidates)
        prior_arr = None if prior is None else np.asarray(prior, dtype=np.float32)
        if prior_arr is not None and prior_arr.shape[-1] != m:
            raise ValueError("prior must have one value per candidate")
        similarity = prepared.similarity
        if diversity > 0 and similarity is None and m <= _DIVERSITY_SPARSE_MAX:
            similarity = (prepared.tfidf @ prepared.tfidf.T).toarray()
        n_rows = P.shape[0]
        ids = np.full((n_rows, n), -1, dtype=np.int64)
        scores = np.full((n_rows, n), -np.inf, dtype=np.float32)
        reasons = np.full((n_rows, n), REASON_NONE, dtype=np.int64) if return_reasons else None
        block = max(1, min(4096, int(4e6 // max(m, 1))))
        for start in range(0, n_rows, block):
            rows = np.arange(start, min(n_rows, start + block))
            Pb = P[rows]
            personal = self._personal(Pb, Nn[rows], U[rows], None if Q is None else Q[rows], prepared, clock)
            total, prior_term = personal, None
            if prior_arr is not None and self.prior_weight:
                pb = prior_arr if prior_arr.ndim == 1 else prior_arr[rows]
                weight = self.prior_weight
                if prior_weights is not None:
                    weight = self.prior_weight * np.asarray(prior_weights, dtype=np.float32)[rows, None]
                prior_term = weight * zscore(np.atleast_2d(pb).astype(np.float32))
                total = personal + prior_term
            clock.mark("blend")
            mask = exclusion_mask(exclude, rows, candidates)
            if mask is not None:
                total = np.where(mask, -np.inf, total)
            clock.mark("exclude")
            if diversity > 0:
                pos = mmr(total, prepared.embeddings, n, diversity, similarity=similarity)
            else:
                pos = top_n(total, n)
            sc = np.take_along_axis(total, pos, axis=1)
            valid = np.isfinite(sc)
            k = pos.shape[1]
            ids[rows, :k] = np.where(valid, candidates[pos], -1)
            scores[rows, :k] = np.where(valid, sc, -np.inf)
            clock.mark("select")
            if return_reasons:
                reasons[rows, :k] = scoring.pick_reasons(
                    Pb, pos, prepared.embeddings, self.item_embeddings_, personal, prior_term, valid
                )
                clock.mark("reasons")
        return (ids, scores, reasons) if return_reasons else (ids, scores)

    def _personal(self, Pb, Nb, Ub, Qb, prepared: PreparedCandidates, clock=None) -> np.ndarray:
        """The blended personal score (everything but the prior) of a block of users."""
        knn, cen, cf = self.score_terms(Pb, Nb, Ub, prepared, Qb)
        if clock is not None:
            clock.mark("terms")
        W = prepared.weights
        counts = np.diff(Pb.indptr)
        shrink = (counts / (counts + self.cf_shrink)).astype(np.float32)[:, None]
        personal = W[:, 0] * zscore(knn) + (W[:, 2] * shrink) * zscore(cf)
        if cen is not None:
            personal += W[:, 1] * zscore(cen)
        return personal.astype(np.float32)

    # ---------------------------------------------------------- persistence
    def to_arrays(self, include_users: bool = False) -> dict[str, np.ndarray]:
        """All fitted state and hyperparameters as plain arrays (see :mod:`.artifact`)."""
        return artifact.model_to_arrays(self, include_users=include_users)

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> HybridRecommender:
        """Inverse of :meth:`to_arrays`; also reads v1-v3 artifacts."""
        return artifact.model_from_arrays(cls, arrays)

    def to_bytes(self, include_users: bool = False) -> bytes:
        """Serialise to ``.npz`` bytes (no pickle), e.g. for a database column."""
        return artifact.save_arrays(self.to_arrays(include_users=include_users))

    @classmethod
    def from_bytes(cls, data: bytes) -> HybridRecommender:
        """Load from :meth:`to_bytes` output; refuses pickled content."""
        return cls.from_arrays(artifact.load_arrays(data))

    def save(self, path: str | os.PathLike, include_users: bool = False) -> None:
        """Write the artifact atomically (temp file + ``os.replace``)."""
        artifact.atomic_write_bytes(path, self.to_bytes(include_users=include_users))

    @classmethod
    def load(cls, path: str | os.PathLike) -> HybridRecommender:
        """Read an artifact written by :meth:`save`."""
        with open(path, "rb") as fh:
            return cls.from_bytes(fh.read())
