"""Fixtures for the search tests: every recorded feed ingested through the real services."""

from __future__ import annotations

import pytest

from recommender.ingest.entries import IngestError
from recommender.ingest.services import ingest_run
from recommender.models import Paper

SOURCES = ("arxiv-api", "arxiv-oai", "arxiv-rss", "hf-daily")


@pytest.fixture
def ingested_feeds(shared_data, db) -> dict[int, str]:
    """Every recorded feed ingested; ``{paper id: title}``."""
    for source in SOURCES:
        for path in sorted((shared_data / "feeds" / source).iterdir()):
            kwargs = {"metadata_prefix": "arXiv"} if source == "arxiv-oai" and "arXiv_" in path.name else {}
            try:
                ingest_run(source=source, path=path, refresh_trending=False, **kwargs)
            except IngestError:
                assert path.name.lower().startswith("error")
    titles = dict(Paper.objects.values_list("id", "title"))
    assert len(titles) >= 100, "the recorded feeds are missing"
    return titles
