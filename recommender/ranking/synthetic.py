"""Generated data of realistic shape for tests and benchmarks.

Owns the synthetic world: topics with their own vocabularies, papers written
from one or two topics, users who like a few topics, Zipf-like paper
popularity and 20-50 interactions per active user. Content and interactions
are correlated through topics, so a model that uses content can be checked to
rank brand-new papers sensibly.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass
class SyntheticData:
    """Interactions, texts and the hidden topics that generated them."""

    interactions: sp.csr_matrix
    texts: list[str]
    item_topics: np.ndarray
    user_topics: list[np.ndarray]


def topic_word(topic: int, index: int) -> str:
    """Deterministic pseudo-word ``index`` of ``topic`` (letters only, unrelated spellings)."""
    digest = hashlib.md5(f"{topic}:{index}".encode(), usedforsecurity=False).hexdigest()
    return "".join(chr(ord("a") + int(c, 16)) for c in digest[:9])


def make_texts(
    item_topics: np.ndarray, n_topics: int, rng: np.random.Generator, words_per_topic: int = 60, length: int = 40
) -> list[str]:
    """Synthetic title+abstract per item from its topic's vocabulary plus common words."""
    common = [topic_word(-1, i) for i in range(200)]
    texts = []
    for t in item_topics:
        own = rng.integers(0, words_per_topic, size=length // 2)
        noise = rng.integers(0, len(common), size=length // 2)
        words = [topic_word(int(t), int(w)) for w in own] + [common[w] for w in noise]
        rng.shuffle(words)
        texts.append(" ".join(words))
    return texts


def make_synthetic(
    n_users: int = 200,
    n_items: int = 500,
    n_topics: int = 10,
    interactions_per_user: tuple[int, int] = (20, 50),
    zipf: float = 1.1,
    seed: int = 0,
    with_texts: bool = True,
) -> SyntheticData:
    """Users pick 1-3 topics and interact with Zipf-popular papers of those topics."""
    rng = np.random.default_rng(seed)
    item_topics = rng.integers(0, n_topics, size=n_items)
    popularity = 1.0 / np.arange(1, n_items + 1) ** zipf
    popularity = popularity[rng.permutation(n_items)]
    by_topic = [np.flatnonzero(item_topics == t) for t in range(n_topics)]
    rows, cols, user_topics = [], [], []
    lo, hi = interactions_per_user
    for u in range(n_users):
        topics = rng.choice(n_topics, size=int(rng.integers(1, 4)), replace=False)
        user_topics.append(topics)
        pool = np.concatenate([by_topic[t] for t in topics])
        if len(pool) == 0:
            continue
        p = popularity[pool] / popularity[pool].sum()
        k = min(len(pool), int(rng.integers(lo, hi + 1)))
        chosen = rng.choice(pool, size=k, replace=False, p=p)
        rows.extend([u] * k)
        cols.extend(chosen.tolist())
    X = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n_users, n_items))
    texts = make_texts(item_topics, n_topics, rng) if with_texts else []
    return SyntheticData(X, texts, item_topics, user_topics)
