"""Semantic search and similar papers over one ``ContentEncoder``'s embeddings (plain arrays, no Django).

The recommender's encoder places every paper in one space: sparse tf-idf for its neighbour graph, dense
LSA (:meth:`ContentEncoder.embed`) for reasons and diversity. A :class:`ContentIndex` holds the dense
embeddings of a set of papers (the archive) made by such an encoder — the served model's own, or one
fitted on the archive before any model exists — and embeds a query the same way, so semantic search,
similar papers and the recommender read papers through one encoder.

What it adds to the encoder is what a typed query needs and a paper does not:

* **Known words only.** The encoder hashes words, so a word nobody wrote lands on the bucket of a real
  word it collides with (a few percent of made-up words on a small archive). The index keeps 64-bit
  fingerprints of the words of the papers it embedded (``vocabulary``) and ignores any other query word.
* **Plurals on the query side.** The keyword index stems ("transformers" matches "transformer"); the
  encoder does not, and must not be changed under a trained model. A query is embedded together with its
  singular and plural readings that occur in the archive ("transformer" + "transformers"), summed as
  tf-idf rows before the projection.

The relevance floor itself (how close is close enough) is the caller's policy: :meth:`ContentIndex.search`
takes it as arguments.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .content import ContentEncoder

CHUNK = 5_000
"""Papers embedded per batch while building (bounds the sparse matrices held at once)."""


def word_fingerprint(word: str) -> int:
    """A 64-bit hash of a word, independent of the encoder's hash buckets (collisions: ~n^2/2^64)."""
    return int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big", signed=True)


def fingerprints(words: Iterable[str]) -> np.ndarray:
    """Sorted unique fingerprints of ``words`` (int64), for :meth:`ContentIndex.knows`."""
    unique = set(words)
    return np.unique(np.fromiter((word_fingerprint(w) for w in unique), dtype=np.int64, count=len(unique)))


def singular(word: str) -> str:
    """The English singular of a plural ("transformers" -> "transformer", "studies" -> "study"); else ``word``."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def plurals(word: str) -> tuple[str, ...]:
    """The English plurals ``word`` may have ("transformer" -> "transformers", "study" -> "studies")."""
    if len(word) > 2 and word.endswith("y") and word[-2] not in "aeiou":
        return (word[:-1] + "ies",)
    return (word + "s", word + "es")


def encoder_digest(encoder: ContentEncoder) -> str:
    """A short hash of everything that decides an encoder's embeddings (names caches of its index)."""
    h = hashlib.sha256()
    for name, value in sorted(encoder.to_arrays().items()):
        h.update(name.encode())
        h.update(np.ascontiguousarray(value).tobytes())
    return h.hexdigest()[:20]


@dataclass(eq=False)
class ContentIndex:
    """Unit-length embeddings of papers by one encoder, with the words they contain.

    ``ids`` are the callers' paper ids in the row order of ``vectors`` (float32, L2-normalised, a zero row
    for a paper without known text); ``vocabulary`` the sorted fingerprints of the words the index knows.
    Only an index of nothing (:meth:`empty`) has no encoder.
    """

    encoder: ContentEncoder | None
    ids: np.ndarray
    vectors: np.ndarray
    vocabulary: np.ndarray

    @classmethod
    def empty(cls) -> ContentIndex:
        """An index of no papers (an archive with no text to fit an encoder on): every query finds nothing."""
        return cls(None, np.zeros(0, np.int64), np.zeros((0, 1), np.float32), np.zeros(0, np.int64))

    @classmethod
    def build(
        cls,
        encoder: ContentEncoder,
        ids: Sequence[int],
        texts: Sequence[str],
        *,
        vocabulary_texts: Iterable[str] | None = None,
    ) -> ContentIndex:
        """Embed ``texts`` (one per id) with ``encoder``; the vocabulary comes from ``vocabulary_texts``
        (default: ``texts``; a sample bounds the cost on a large archive)."""
        texts = list(texts)
        dim = int(encoder.components_.shape[0])
        parts = [encoder.transform(texts[i : i + CHUNK]) for i in range(0, len(texts), CHUNK)]
        vectors = np.vstack(parts).astype(np.float32) if parts else np.zeros((0, dim), np.float32)
        analyzer = encoder.word_analyzer()
        words = (w for text in (texts if vocabulary_texts is None else vocabulary_texts) for w in analyzer(text))
        return cls(encoder, np.asarray(list(ids), dtype=np.int64), vectors, fingerprints(words))

    # -- queries --------------------------------------------------------------
    def knows(self, word: str) -> bool:
        """True when ``word`` occurs in the indexed papers."""
        fp = word_fingerprint(word)
        at = int(np.searchsorted(self.vocabulary, fp))
        return at < len(self.vocabulary) and int(self.vocabulary[at]) == fp

    def query_texts(self, text: str) -> list[str]:
        """``text`` as known words: as typed, all singular and all plural (the distinct readings of the three).

        A word counts in whichever of its forms the papers contain ("transformers" typed, only
        "transformer" written: the singular stands in); a word none of whose forms occurs is dropped.
        """
        readings = []
        for word in self.encoder.word_analyzer()(text):
            one = singular(word)
            forms = [f for f in dict.fromkeys((word, one, *plurals(one))) if self.knows(f)]
            if forms:
                many = next((f for f in forms if f in plurals(one)), forms[0])
                readings.append((forms[0], one if one in forms else forms[0], many))
        return list(dict.fromkeys(" ".join(r[k] for r in readings) for k in range(3))) if readings else []

    def embed_query(self, text: str) -> np.ndarray:
        """The query's unit embedding (zeros when it has no known word)."""
        texts = self.query_texts(text) if self.encoder is not None else []
        if not texts:
            return np.zeros(self.vectors.shape[1], dtype=np.float32)
        row = sp.csr_matrix(self.encoder.transform_sparse(texts).sum(axis=0), dtype=np.float32)
        return self.encoder.embed(row)[0].astype(np.float32)  # zeros when no word is among the kept features

    def cosines(self, text: str) -> np.ndarray:
        """Cosine of the query with every indexed paper (row order of ``ids``)."""
        return self.vectors @ self.embed_query(text)

    def search(self, text: str, n: int, *, floor: float, relative: float) -> list[int]:
        """Ids of the papers whose cosine is at least ``floor`` and ``relative`` x the best one, best first."""
        if not len(self.ids):
            return []
        q = self.embed_query(text)
        if not q.any():
            return []
        scores = self.vectors @ q
        cut = max(floor, relative * float(scores.max()))
        keep = np.flatnonzero(scores >= cut)
        return self._ranked(scores, keep, n)

    def similar(self, paper_id: int, n: int, *, exclude: Iterable[int] = (), text: str | None = None) -> list[int]:
        """The ``n`` indexed papers closest to ``paper_id`` (never it, nor ``exclude``), however far.

        The paper's own row is the query; a paper not in the index (newer than it) is embedded from
        ``text``. The list is ``n`` long while the index lasts.
        """
        rows = np.flatnonzero(self.ids == paper_id)
        if not len(self.ids):
            return []
        if len(rows):
            q = self.vectors[rows[0]]
        elif text is not None:
            q = self.encoder.transform([text])[0]
        else:
            return []
        skip = np.isin(self.ids, np.fromiter((int(i) for i in (paper_id, *exclude)), dtype=np.int64))
        return self._ranked(self.vectors @ q, np.flatnonzero(~skip), n)

    def _ranked(self, scores: np.ndarray, rows: np.ndarray, n: int) -> list[int]:
        """``ids[rows]`` by score, best first (ties: index order), at most ``n``."""
        if n <= 0 or not len(rows):
            return []
        order = np.argsort(-scores[rows], kind="stable")[:n]
        return [int(i) for i in self.ids[rows[order]]]

    # -- persistence ----------------------------------------------------------
    def to_arrays(self, *, with_encoder: bool) -> dict[str, np.ndarray]:
        """Plain arrays (no pickle); ``with_encoder`` adds the encoder's (an index of the served model's
        encoder leaves them out: the model artifact has them)."""
        arrays = {"ids": self.ids, "vectors": self.vectors, "vocabulary": self.vocabulary}
        if with_encoder:
            arrays.update(self.encoder.to_arrays())
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], encoder: ContentEncoder | None = None) -> ContentIndex:
        """Inverse of :meth:`to_arrays`; ``encoder`` when the arrays were saved without one."""
        encoder = encoder or ContentEncoder.from_arrays(arrays)
        return cls(
            encoder,
            arrays["ids"].astype(np.int64),
            arrays["vectors"].astype(np.float32),
            arrays["vocabulary"].astype(np.int64),
        )
