"""Keyword rules (``serving.candidates.matches``) match exactly what a word-boundary regex matches.

``matches`` replaces the straightforward regex over every text with a cheaper equivalent (docs/performance.md);
this test pins the equivalence on generated texts with punctuation, hyphens and non-ASCII words.
"""

from __future__ import annotations

import random
import re

import numpy as np

from recommender.serving.candidates import matches as _matches


def _reference_matches(terms, texts):
    terms = [t.strip().lower() for t in terms if t and t.strip()]
    if not terms:
        return np.zeros(len(texts), dtype=bool)
    pattern = re.compile(r"\b(?:" + "|".join(re.escape(t) for t in terms) + r")\b")
    return np.array([bool(pattern.search(t)) for t in texts], dtype=bool)


def test_keyword_rules_match_like_the_regex():
    rng = random.Random(3)
    vocab = ["llm", "llms", "diffusion", "graph", "gpt-4", "c++", "über", "x_y", "x", "y", "résumé", "rl", "3d"]
    texts = [
        " ".join(rng.choice(vocab) + rng.choice(["", ",", ".", "-", "_", "'s"]) for _ in range(rng.randint(0, 30)))
        for _ in range(400)
    ]
    for terms in [["llm"], ["LLM ", "graph"], ["gpt-4"], ["c++", "rl"], ["x_y"], ["x"], ["über"], ["large model"], []]:
        assert (_matches(terms, texts) == _reference_matches(terms, texts)).all(), terms
