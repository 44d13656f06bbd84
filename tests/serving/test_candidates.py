"""Keyword rules (``serving.candidates.matches``) match exactly what a word-boundary regex matches.

``matches`` replaces the straightforward regex over every text with a cheaper equivalent (docs/performance.md);
this test pins the equivalence on generated texts with punctuation, hyphens and non-ASCII words.
"""

from __future__ import annotations

import random
import re

import numpy as np
import pytest

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


@pytest.mark.django_db
def test_candidates_text_is_read_once_per_version_of_the_papers_and_trending_every_time():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from recommender.models import Paper
    from recommender.serving import candidates as serving_candidates
    from tests.factories import make_paper

    serving_candidates.forget()
    a, b = make_paper(title="First title"), make_paper(title="Second title")
    ids = [a.pk, b.pk]
    first = serving_candidates.load_candidates(ids)
    assert first.titles == {a.pk: "First title", b.pk: "Second title"}

    Paper.objects.filter(pk=b.pk).update(trending_score=5.0)  # trending_refresh's kind of write: no modified_at
    with CaptureQueriesContext(connection) as queries:
        again = serving_candidates.load_candidates(ids)
    assert len(queries) == 1  # scores and modification times only: the text is the one read before
    assert again.texts is first.texts and again.trending[1] > 0 and first.trending[1] == 0

    a.title = "An edited title"
    a.save()  # an ingest merge or an edit: modified_at moves, the text is read again
    edited = serving_candidates.load_candidates(ids)
    assert edited.titles[a.pk] == "An edited title" and "An edited title" in edited.texts[0]

    b.delete()
    assert serving_candidates.load_candidates(ids).ids.tolist() == [a.pk]
