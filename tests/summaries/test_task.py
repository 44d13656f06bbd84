"""After an ingestion, a real Celery worker fills TL;DRs and translations once, on the ingest queue."""

from __future__ import annotations

import time

import pytest

from recommender.ingest.services import ingest_run
from recommender.models import Paper, PaperTranslation
from recommender.summaries.tasks import summaries_fill
from tests.conftest import wait_until
from tests.factories import make_subscriber


def test_route_is_the_ingest_queue(settings):
    from digest_site.celery import app

    queue = app.amqp.router.route({}, summaries_fill.name, args=(), kwargs={})["queue"].name
    assert queue == "ingest"


@pytest.mark.slow
def test_ingest_enqueues_the_fill_and_a_worker_runs_it(celery_worker, llm, shared_data):
    make_subscriber("zh@example.org", language="zh")
    make_subscriber("es@example.org", language="es")
    run = ingest_run(source="arxiv-rss", path=shared_data / "feeds/arxiv-rss/arxiv_cs_ai.xml")
    assert run.created == 3
    wait_until(lambda: PaperTranslation.objects.count() == 6, what="6 translations")
    wait_until(lambda: Paper.objects.filter(tldr_backend="llm").count() == 3, what="3 LLM TL;DRs")
    assert set(PaperTranslation.objects.values_list("language", flat=True)) == {"zh", "es"}
    requests = llm.count
    assert requests == 9  # 3 TL;DRs + 3 papers x 2 languages, once each

    # Re-ingesting the same feed changes nothing, enqueues nothing, and asks the model nothing.
    again = ingest_run(source="arxiv-rss", path=shared_data / "feeds/arxiv-rss/arxiv_cs_ai.xml")
    assert again.created == 0 and again.updated == 0
    summaries_fill.delay()  # even an explicit fill of recent papers finds everything cached
    time.sleep(2)
    assert llm.count == requests
