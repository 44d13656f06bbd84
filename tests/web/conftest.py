"""Fixtures for the web app tests: papers on a few days that search can tell apart, a fresh semantic index.

The member, their client and password are in tests/conftest.py; papers come from ``tests.factories.make_paper``.
"""

from __future__ import annotations

import datetime as dt

import pytest

from recommender.papers import search
from tests.factories import make_paper

DAY1 = dt.date(2026, 11, 18)
DAY2 = dt.date(2026, 11, 19)
DAY3 = dt.date(2026, 11, 20)


@pytest.fixture(autouse=True)
def _fresh_semantic_index(monkeypatch):
    # The archive changes inside every test: check its signature on every call.
    monkeypatch.setattr(search, "SIGNATURE_TTL", 0.0)
    search.semantic_index_reset()
    yield
    search.semantic_index_reset()


@pytest.fixture
def corpus(db):
    """Papers on three days in a few categories, with text that search can tell apart."""
    return {
        "attention": make_paper(
            title="Sparse attention for long context transformers",
            abstract="We prune attention heads to make long context language models fast.",
            category="cs.CL",
            categories="cs.CL cs.LG",
            announced_on=DAY3,
            hf_upvotes=40,
            trending_score=3.0,
        ),
        "audio": make_paper(
            title="Self-supervised audio representation learning with state space models",
            abstract="Mamba state space models learn audio representations without labels.",
            category="eess.AS",
            categories="eess.AS cs.LG",
            announced_on=DAY3,
            hf_upvotes=5,
            trending_score=1.0,
        ),
        "vision": make_paper(
            title="Diffusion models for image generation",
            abstract="Denoising diffusion produces high quality images from noise.",
            category="cs.CV",
            announced_on=DAY2,
            hf_upvotes=12,
            trending_score=2.0,
        ),
        "old": make_paper(
            title="Graph neural networks for molecules",
            abstract="Message passing networks predict molecular properties.",
            categories="cs.LG q-bio.BM",
            announced_on=DAY1,
            trending_score=0.0,
        ),
    }
