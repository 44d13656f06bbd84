"""The scheduled task on a real Celery worker, fetching from the local HTTP server."""

from __future__ import annotations

import time

import pytest

from recommender.ingest.tasks import ingest_source, retry_countdown
from recommender.models import IngestRun, Paper, RunStatus
from tests.conftest import wait_until
from tests.feed_server import Reply


@pytest.mark.slow
def test_task_retries_after_503_then_ingests(celery_worker, feed_server, feeds, settings):
    body = (feeds / "arxiv-rss/arxiv_cs_ai.xml").read_bytes()
    feed_server.route(
        "/rss/cs.AI+cs.CL",
        Reply(status=503, body=b"busy", content_type="text/plain", headers={"Retry-After": "1"}),
        Reply(body=body),
    )
    # The scheduled task names only the source; categories and base URL come from settings.
    settings.PAPERBOY = {
        **settings.PAPERBOY,
        "INGEST_CATEGORIES": ["cs.AI", "cs.CL"],
        "ARXIV_RSS_URL": feed_server.url("/rss/"),
    }
    ingest_source.delay(source="arxiv-rss")
    wait_until(lambda: IngestRun.objects.filter(status=RunStatus.SUCCEEDED).exists(), what="a succeeded run")
    runs = list(IngestRun.objects.order_by("started_at").values_list("status", "error"))
    assert runs[0][0] == RunStatus.FAILED and "HTTP 503" in runs[0][1]
    assert runs[-1] == (RunStatus.SUCCEEDED, "")
    assert len(feed_server.requests) == 2
    assert sorted(Paper.objects.values_list("arxiv_id", flat=True)) == ["2604.21935", "2604.21936", "2604.21937"]
    assert all(p.sources == ["arxiv-rss"] for p in Paper.objects.all())


@pytest.mark.slow
def test_task_does_not_retry_a_malformed_document(celery_worker, feed_server):
    feed_server.route("/api/daily_papers", Reply(body=b"<html>maintenance</html>", content_type="text/html"))
    ingest_source.delay(source="hf-daily", url=feed_server.url("/api/daily_papers"))
    wait_until(lambda: IngestRun.objects.filter(status=RunStatus.FAILED).exists(), what="the failed run")
    time.sleep(1.5)  # a retry would have come by now (countdowns are >= 1 s only with Retry-After)
    assert IngestRun.objects.count() == 1
    assert len(feed_server.requests) == 1
    assert Paper.objects.count() == 0


def test_retry_countdown():
    assert retry_countdown(retries=0, retry_after=7) == 7
    assert 48 <= retry_countdown(retries=0, retry_after=None) <= 72
    assert retry_countdown(retries=20, retry_after=None) <= 6 * 3600 * 1.2
    assert retry_countdown(retries=0, retry_after=10**9) == 6 * 3600
