"""Content features: turn any paper (raw text or a bag-of-words row) into vectors.

This module owns the text side of the recommender. It has to place a paper
announced a minute ago in the same space as the papers seen in training, so
its whole state is plain arrays (no fitted vocabulary objects, no pickles):

* raw text goes through stateless ``HashingVectorizer``s: word unigrams and
  bigrams, plus (``char_ngrams``) character 3-5-grams inside words, which
  match morphological variants in short titles ("network"/"networks",
  "Bayes"/"Bayesian"); a bag-of-words count matrix (LDA-C ``mult.dat``) is used as is,
  and when its vocabulary is known, text (e.g. onboarding categories) is
  mapped onto it with a ``CountVectorizer`` built from that stored vocabulary;
* features seen in fewer than ``min_df`` training papers are dropped, the rest
  get a learned idf weight (``kept_features_`` + ``idf_``);
* rows are sublinear-tf x idf, L2-normalised: the sparse representation used
  for item-to-item similarity;
* a truncated SVD (LSA, ``components_``) gives dense L2-normalised embeddings
  used for diversity and for mapping content onto collaborative factors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer, HashingVectorizer
from sklearn.preprocessing import normalize
from sklearn.utils.extmath import randomized_svd
from threadpoolctl import threadpool_limits

Content = Sequence[str] | sp.spmatrix | sp.sparray | np.ndarray


def is_text(content: Content) -> bool:
    """True when ``content`` is a sequence of strings rather than a count matrix."""
    if sp.issparse(content) or isinstance(content, np.ndarray):
        return False
    return len(content) == 0 or isinstance(content[0], str)


class ContentEncoder:
    """Sparse tf-idf + dense LSA encoder for paper content.

    Parameters
    ----------
    n_features : int
        Hashing space for raw text (ignored for count matrices).
    ngram_range : tuple
        Word n-grams hashed from raw text.
    char_ngrams : bool or "auto"
        Add hashed character 3-5-grams (text input only) as a second block;
        "auto" does so for short texts (median under 40 words, e.g. titles),
        where they matter most and cost least.
    min_df : int
        Features occurring in fewer training papers are dropped.
    n_components : int
        Dimension of the dense LSA embedding.
    svd_max_items : int
        The SVD is fitted on at most this many (random) papers to bound time.
    svd_max_features : int
        The SVD basis covers only this many features (the most frequent
        kept ones): rare features barely move an LSA embedding, and a basis
        over all 2**18 hash buckets dominated fit time and the artifact.
    random_state : int
        Seed for the SVD and its subsample.
    """

    def __init__(
        self,
        n_features: int = 2**20,
        ngram_range: tuple[int, int] = (1, 2),
        char_ngrams: bool | str = "auto",
        min_df: int = 2,
        n_components: int = 128,
        svd_max_items: int = 20000,
        svd_max_features: int = 2**15,
        random_state: int = 0,
    ) -> None:
        self.n_features = n_features
        self.ngram_range = ngram_range
        self.char_ngrams = char_ngrams
        self.min_df = min_df
        self.n_components = n_components
        self.svd_max_items = svd_max_items
        self.svd_max_features = svd_max_features
        self.random_state = random_state

    # -- raw features -------------------------------------------------------
    def _hash_texts(self, texts: list[str]) -> sp.csr_matrix:
        words = HashingVectorizer(
            n_features=self.n_features,
            ngram_range=tuple(self.ngram_range),
            alternate_sign=False,
            norm=None,
            stop_words="english",
            dtype=np.float32,
        ).transform(texts)
        if not self.use_chars_:
            return words.tocsr()
        chars = HashingVectorizer(
            n_features=self.n_features,
            analyzer="char_wb",
            ngram_range=(3, 5),
            alternate_sign=False,
            norm=None,
            dtype=np.float32,
        ).transform(texts)
        # the two blocks share the feature budget: words first, characters second
        return sp.hstack([words, chars], format="csr")

    def _raw_counts(self, content: Content) -> sp.csr_matrix:
        """Counts over the full input space (hash buckets or vocabulary ids)."""
        if is_text(content):
            texts = [t if isinstance(t, str) else "" for t in content]
            if self.mode_ == "text":
                return self._hash_texts(texts)
            if self.vocabulary_ is None:
                raise ValueError(
                    "this encoder was fitted on a count matrix without a vocabulary; pass count rows, not text"
                )
            vec = CountVectorizer(vocabulary=list(self.vocabulary_), dtype=np.float32)
            return vec.transform(texts).tocsr()
        counts = sp.csr_matrix(content, dtype=np.float32)
        if self.mode_ == "text":
            raise ValueError("this encoder was fitted on text; pass texts, not counts")
        if counts.shape[1] != self.input_dim_:
            if counts.shape[1] > self.input_dim_:
                counts = counts[:, : self.input_dim_]
            else:
                counts.resize((counts.shape[0], self.input_dim_))
        return counts

    # -- estimator API ------------------------------------------------------
    def fit(self, content: Content, vocabulary: Sequence[str] | None = None) -> ContentEncoder:
        """Learn kept features, idf weights and the LSA basis from training papers."""
        self.fit_transform_sparse(content, vocabulary)
        return self

    def fit_transform_sparse(self, content: Content, vocabulary: Sequence[str] | None = None) -> sp.csr_matrix:
        """Fit, and return the training papers' sparse tf-idf rows (hashing once)."""
        self.mode_ = "text" if is_text(content) else "counts"
        self.use_chars_ = False
        if self.mode_ == "text":
            if self.char_ngrams == "auto":
                lengths = [len(t.split()) if isinstance(t, str) else 0 for t in content]
                self.use_chars_ = bool(len(lengths)) and float(np.median(lengths)) < 40
            else:
                self.use_chars_ = bool(self.char_ngrams)
        self.vocabulary_ = None if vocabulary is None else np.asarray(list(vocabulary), dtype=str)
        if self.mode_ == "text":
            self.input_dim_ = self.n_features * (2 if self.use_chars_ else 1)
        else:
            dim = sp.csr_matrix(content).shape[1]
            if self.vocabulary_ is not None:
                dim = max(dim, len(self.vocabulary_))
            self.input_dim_ = dim
        counts = self._raw_counts(content)
        n_docs = counts.shape[0]
        df = np.bincount(counts.indices, minlength=counts.shape[1])
        kept = np.flatnonzero(df >= max(1, min(self.min_df, n_docs)))
        self.kept_features_ = kept.astype(np.int64)
        self.idf_ = (np.log((1.0 + n_docs) / (1.0 + df[kept])) + 1.0).astype(np.float32)
        X = self._weight(counts)
        rng = np.random.default_rng(self.random_state)
        rows = np.arange(n_docs)
        if n_docs > self.svd_max_items:
            rows = np.sort(rng.choice(n_docs, self.svd_max_items, replace=False))
        self.svd_features_ = None
        if len(kept) > self.svd_max_features:
            # columns of X, most frequent first, restored to ascending order
            top = np.argpartition(-df[kept], self.svd_max_features - 1)[: self.svd_max_features]
            self.svd_features_ = np.sort(top).astype(np.int64)
        Xs = X[rows] if self.svd_features_ is None else X[rows][:, self.svd_features_]
        k = int(max(1, min(self.n_components, Xs.shape[1] - 1, len(rows) - 1)))
        # one BLAS thread: the tall-skinny products here thrash with more (4.5 s -> 0.6 s)
        with threadpool_limits(1, "blas"):
            _, _, vt = randomized_svd(Xs, k, n_iter=4, random_state=self.random_state)
        # float16: an embedding only ranks reasons and near-duplicates
        self.components_ = vt.astype(np.float16).astype(np.float32)
        return X

    def _weight(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        X = counts[:, self.kept_features_].tocsr()
        X.data = 1.0 + np.log(np.maximum(X.data, 1e-12))
        X = (X @ sp.diags(self.idf_)).astype(np.float32).tocsr()
        if self.mode_ == "text" and self.use_chars_:
            # normalise the word and character blocks separately so each counts half
            split = int(np.searchsorted(self.kept_features_, self.n_features))
            X = sp.hstack([normalize(X[:, :split]), normalize(X[:, split:])], format="csr")
        return normalize(X, copy=False)

    def transform_sparse(self, content: Content) -> sp.csr_matrix:
        """Sublinear tf-idf rows over the kept features, L2-normalised."""
        return self._weight(self._raw_counts(content))

    def embed(self, X: sp.csr_matrix) -> np.ndarray:
        """Dense LSA embedding of already-weighted sparse rows, L2-normalised."""
        if self.svd_features_ is not None:
            X = X[:, self.svd_features_]
        E = np.asarray(X @ self.components_.T, dtype=np.float32)
        norms = np.linalg.norm(E, axis=1, keepdims=True)
        return E / np.maximum(norms, 1e-12)

    def transform(self, content: Content) -> np.ndarray:
        """Dense L2-normalised embeddings for any papers."""
        return self.embed(self.transform_sparse(content))

    def word_analyzer(self) -> Callable[[str], list[str]]:
        """The function splitting a text into the words (unigrams) this encoder counts.

        Text mode: lower-cased tokens of two or more word characters, English stop words dropped, as the
        word block hashes them; bag-of-words mode: the stored vocabulary's tokenisation. A search index
        keeps the words of the papers it embedded, so that a query word nobody wrote is ignored instead
        of landing on the hash bucket of a real word it collides with.
        """
        if self.mode_ == "text":
            return HashingVectorizer(stop_words="english").build_analyzer()
        return CountVectorizer().build_analyzer()

    # -- persistence --------------------------------------------------------
    def to_arrays(self, prefix: str = "enc_") -> dict[str, np.ndarray]:
        """Fitted state and hyperparameters as plain arrays."""
        out = {
            "mode": np.array(self.mode_),
            "input_dim": np.array(self.input_dim_),
            "kept_features": self.kept_features_.astype(np.int32),
            "idf": self.idf_,
            "components": self.components_.astype(np.float16),
            "n_features": np.array(self.n_features),
            "ngram_range": np.asarray(self.ngram_range),
            "char_ngrams": np.array(str(self.char_ngrams)),
            "use_chars": np.array(self.use_chars_),
            "min_df": np.array(self.min_df),
            "n_components": np.array(self.n_components),
            "svd_max_items": np.array(self.svd_max_items),
            "svd_max_features": np.array(self.svd_max_features),
            "random_state": np.array(self.random_state),
        }
        if self.vocabulary_ is not None:
            out["vocabulary"] = self.vocabulary_
        if self.svd_features_ is not None:
            out["svd_features"] = self.svd_features_.astype(np.int32)
        return {prefix + k: v for k, v in out.items()}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str = "enc_") -> ContentEncoder:
        """Inverse of :meth:`to_arrays`."""

        def get(name: str) -> np.ndarray:
            return arrays[prefix + name]

        enc = cls(
            n_features=int(get("n_features")),
            ngram_range=tuple(int(x) for x in get("ngram_range")),
            char_ngrams={"True": True, "False": False}.get(str(get("char_ngrams")), "auto"),
            min_df=int(get("min_df")),
            n_components=int(get("n_components")),
            svd_max_items=int(get("svd_max_items")),
            svd_max_features=int(arrays.get(prefix + "svd_max_features", 2**62)),
            random_state=int(get("random_state")),
        )
        enc.mode_ = str(get("mode"))
        enc.use_chars_ = bool(get("use_chars"))
        enc.input_dim_ = int(get("input_dim"))
        enc.kept_features_ = get("kept_features").astype(np.int64)
        enc.idf_ = get("idf")
        enc.components_ = get("components").astype(np.float32)
        svd = arrays.get(prefix + "svd_features")
        enc.svd_features_ = None if svd is None else svd.astype(np.int64)
        enc.vocabulary_ = arrays.get(prefix + "vocabulary")
        return enc
