"""Library import fixtures: the recorded feeds and the ingest tests' local HTTP server that replays them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ingest.conftest import FeedServer, Reply  # noqa: F401  (Reply is re-exported for the tests)


@pytest.fixture
def feeds(shared_data) -> Path:
    return shared_data / "feeds"


@pytest.fixture
def feed_server():
    server = FeedServer()
    yield server
    server.stop()
