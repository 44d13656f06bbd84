"""Paperboy's ranking core: pure Python (numpy/scipy/scikit-learn/implicit), no Django.

``HybridRecommender`` (hybrid.py) is the model used in production and in the
offline evaluation; ``KIND_WEIGHTS`` (weights.py) turns interaction kinds into
confidences. Baselines, datasets and evaluation protocols live next to it so
that the published numbers are produced by the code that ships.
"""

from .hybrid import REASON_NONE, REASON_TRENDING, HybridRecommender, PreparedCandidates
from .weights import KIND_WEIGHTS, build_matrices

__all__ = [
    "HybridRecommender",
    "PreparedCandidates",
    "KIND_WEIGHTS",
    "REASON_NONE",
    "REASON_TRENDING",
    "build_matrices",
]
