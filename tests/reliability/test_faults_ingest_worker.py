"""A worker SIGKILLed in the middle of an ingestion: nothing partial, the run is closed as interrupted later.

The ingest task runs in a worker process fetching a feed that a local HTTP
server drips out slowly; the worker is killed mid-body. No paper may be
written, and the next run both completes and marks the orphaned
``running`` row (older than the hard task time limit) as failed, so the
admin's "last ingest" does not show a run that will never finish.
"""

from __future__ import annotations

import time

import pytest

from recommender.ingest.services import SAMPLE_RSS, ingest_run
from recommender.ingest.tasks import ingest_source
from recommender.models import IngestRun, Paper, RunStatus
from tests.conftest import wait_until
from tests.feed_server import Reply

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_sigkill_mid_ingest_writes_nothing_and_the_next_run_closes_the_orphan(
    worker_process_factory, feed_server, settings
):
    body = SAMPLE_RSS.read_bytes()
    slow = feed_server.route("/rss/slow", Reply(body=body, drip=0.1, content_type="application/rss+xml"))
    worker = worker_process_factory(queues="ingest")
    ingest_source.delay(source="arxiv-rss", url=slow)
    try:
        wait_until(lambda: IngestRun.objects.filter(status=RunStatus.RUNNING).exists(), timeout=30, what="the run")
    except AssertionError:
        pytest.fail("the worker never started the run:\n" + worker.log()[-3000:])
    time.sleep(1.0)  # mid-body: about 10 of ~48 KiB delivered
    worker.kill()
    assert Paper.objects.count() == 0
    orphan = IngestRun.objects.get()
    assert orphan.status == RunStatus.RUNNING  # nobody is left to record the outcome

    settings.CELERY_TASK_TIME_LIMIT = 1  # a run older than the hard time limit cannot still be running
    time.sleep(1.2)
    fast = feed_server.route("/rss/fast", Reply(body=body, content_type="application/rss+xml"))
    run = ingest_run(source="arxiv-rss", url=fast)
    assert run.status == RunStatus.SUCCEEDED and run.created > 30
    orphan.refresh_from_db()
    assert orphan.status == RunStatus.FAILED and orphan.error.startswith("interrupted")
    assert orphan.finished_at is not None
