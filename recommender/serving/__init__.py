"""Serving: one ranking for the web and the digest, from the active model version.

``active.py`` keeps the active model loaded per process (and warms it at worker start);
``candidates.py`` says which papers are candidates and caches their user-independent work;
``rows.py`` makes one fold-in row per reader topic (its votes, rules and dial);
``services.py`` ranks (``recommend_for_topics``; ``recommend_for_users``: each reader's default
topic), finds similar papers, hands search the served content encoder and words the reasons.
"""

from .active import ActiveModel, active_model
from .candidates import CANDIDATE_MEMO_BYTES, CANDIDATE_MEMO_SIZE, candidate_ids_default
from .services import (
    Recommendation,
    content_encoder,
    recommend_for_topics,
    recommend_for_users,
    reset_cache,
    similar_papers,
    warm_up,
)

__all__ = [
    "CANDIDATE_MEMO_BYTES",
    "CANDIDATE_MEMO_SIZE",
    "ActiveModel",
    "Recommendation",
    "active_model",
    "candidate_ids_default",
    "content_encoder",
    "recommend_for_topics",
    "recommend_for_users",
    "reset_cache",
    "similar_papers",
    "warm_up",
]
