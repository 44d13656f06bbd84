"""The small ``HybridRecommender`` settings of the ranking tests: a fit on the synthetic world in about a second."""

from __future__ import annotations

SMALL = {"factors": 16, "iterations": 5, "n_components": 16, "random_state": 0}
