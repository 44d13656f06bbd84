"""Papers known only from the export API or OAI-PMH get an announcement day, and reach digests.

The RSS feed states a paper's day; the other sources report submission times, from which
``recommender.ingest.announce`` derives the day. A stated day is kept; a derived one only fills a
missing day, and a day stated later replaces it.
"""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from recommender.digest import services as digest
from recommender.ingest import arxiv_api, arxiv_oai
from recommender.ingest.announce import EASTERN, announcement_day, submission_window
from recommender.ingest.services import ingest_run, paper_upsert_many, papers_announced_on_fill
from recommender.models import DigestDelivery, Paper
from tests.factories import delivered_ids, due_now, subscriber

from .test_services import _rss_item, rss

pytestmark = pytest.mark.django_db
UTC = dt.UTC


@pytest.fixture(autouse=True)
def _no_holidays(settings):
    """The expectations below use the plain schedule, whatever ``ARXIV_HOLIDAYS`` the environment sets."""
    settings.PAPERBOY = {**settings.PAPERBOY, "ARXIV_HOLIDAYS": []}


def atom(arxiv_id: str, published: dt.datetime, *, version: int = 1, title: str = "A paper", cat: str = "cs.LG"):
    stamp = published.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/"
 xmlns:arxiv="http://arxiv.org/schemas/atom"><title>q</title><id>http://arxiv.org/api/x</id>
<opensearch:totalResults>1</opensearch:totalResults><opensearch:startIndex>0</opensearch:startIndex>
<opensearch:itemsPerPage>1</opensearch:itemsPerPage>
<entry><id>http://arxiv.org/abs/{arxiv_id}v{version}</id><updated>{stamp}</updated><published>{stamp}</published>
<title>{title}</title><summary>We propose a method for learning representations. It works well.</summary>
<author><name>Ada Lovelace</name></author><arxiv:primary_category term="{cat}"/><category term="{cat}"/>
</entry></feed>""".encode()


@pytest.mark.parametrize(
    ("source", "path", "parse"),
    [
        ("arxiv-api", "arxiv-api/query_testing_100.xml", arxiv_api.parse),
        ("arxiv-api", "arxiv-api/old_format_author_query.xml", arxiv_api.parse),
        ("arxiv-oai", "arxiv-oai/arXivRaw_ListRecords.xml", arxiv_oai.parse),
        ("arxiv-oai", "arxiv-oai/arXiv_ListRecords_hep-th.xml", arxiv_oai.parse),
    ],
)
def test_every_recorded_api_and_oai_paper_gets_the_day_of_its_first_version(feeds, source, path, parse):
    ingest_run(source=source, path=feeds / path)
    first = {}
    for entry in parse((feeds / path).read_bytes()):
        first[entry.arxiv_id] = min(filter(None, [first.get(entry.arxiv_id), entry.submitted_at]))
    days = dict(Paper.objects.values_list("arxiv_id", "announced_on"))
    assert days == {arxiv_id: announcement_day(submitted) for arxiv_id, submitted in first.items()}


def test_rss_day_is_kept_and_an_api_report_of_the_same_paper_agrees(feeds):
    ingest_run(source="arxiv-rss", path=feeds / "arxiv-rss/arxiv_cs_ai.xml")
    rss_day = Paper.objects.get(arxiv_id="2604.21935").announced_on
    start, end = submission_window(rss_day)
    for submitted in (start, end - dt.timedelta(seconds=1)):
        paper_upsert_many(entries=arxiv_api.parse(atom("2604.21935", submitted)), source="arxiv-api")
        paper = Paper.objects.get(arxiv_id="2604.21935")
        assert paper.announced_on == rss_day == announcement_day(submitted)
        assert paper.announce_type == "new" and paper.sources == ["arxiv-rss", "arxiv-api"]


def test_a_derived_day_never_overwrites_a_stated_one_and_a_stated_one_replaces_a_derived_one():
    submitted = dt.datetime(2026, 4, 20, 10, 0, tzinfo=EASTERN)  # derived: Tuesday 21 April
    # Stated first (a replacement announced later): the API's v1 time does not move it.
    paper_upsert_many(
        entries=[*_rss(("2604.00001", 2, "replace", "Mon, 04 May 2026 00:00:00 -0400"))], source="arxiv-rss"
    )
    paper_upsert_many(entries=arxiv_api.parse(atom("2604.00001", submitted, version=2)), source="arxiv-api")
    assert Paper.objects.get(arxiv_id="2604.00001").announced_on == dt.date(2026, 5, 4)
    # Derived first: the feed's day wins when it comes, even an earlier one.
    paper_upsert_many(entries=arxiv_api.parse(atom("2604.00002", submitted)), source="arxiv-api")
    assert Paper.objects.get(arxiv_id="2604.00002").announced_on == dt.date(2026, 4, 21)
    paper_upsert_many(entries=[*_rss(("2604.00002", 1, "new", "Mon, 20 Apr 2026 00:00:00 -0400"))], source="arxiv-rss")
    paper = Paper.objects.get(arxiv_id="2604.00002")
    assert (paper.announced_on, paper.announce_type) == (dt.date(2026, 4, 20), "new")
    # And a later API report leaves the stated day alone.
    paper_upsert_many(entries=arxiv_api.parse(atom("2604.00002", submitted)), source="arxiv-api")
    assert Paper.objects.get(arxiv_id="2604.00002").announced_on == dt.date(2026, 4, 20)


def _rss(*items):
    from recommender.ingest import arxiv_rss

    entries = []
    for arxiv_id, version, kind, day in items:
        entries += arxiv_rss.parse(rss(_rss_item(arxiv_id, version, announce=kind), day=day))
    return entries


def test_holidays_setting_moves_the_derived_day(settings):
    settings.PAPERBOY = {**settings.PAPERBOY, "ARXIV_HOLIDAYS": ["2026-12-25"]}
    paper_upsert_many(
        entries=arxiv_api.parse(atom("2612.00001", dt.datetime(2026, 12, 23, 15, tzinfo=EASTERN))), source="arxiv-api"
    )
    assert Paper.objects.get(arxiv_id="2612.00001").announced_on == dt.date(2026, 12, 28)


def test_backfill_fills_missing_days_only_and_is_idempotent(feeds):
    ingest_run(source="arxiv-api", path=feeds / "arxiv-api/query_testing_10.xml")
    ingest_run(source="arxiv-rss", path=feeds / "arxiv-rss/arxiv_cs_cl.xml")
    expected = dict(Paper.objects.values_list("arxiv_id", "announced_on"))
    Paper.objects.filter(sources=["arxiv-api"]).update(announced_on=None)  # rows ingested before the fix
    assert papers_announced_on_fill() == 10
    assert dict(Paper.objects.values_list("arxiv_id", "announced_on")) == expected
    assert papers_announced_on_fill() == 0
    out = StringIO()
    call_command("announced_on_fill", stdout=out)
    assert "0 paper(s)" in out.getvalue()


def _latest_listing_day(today: dt.date) -> dt.date:
    day = today
    while submission_window(day) is None:
        day -= dt.timedelta(days=1)
    return day


def test_a_paper_known_only_from_the_export_api_reaches_a_subscribers_digest(smtp_server):
    now = timezone.now()
    day = _latest_listing_day(now.date())
    start, _ = submission_window(day)
    title = "Contrastive representation learning for sparse graphs"
    paper_upsert_many(
        entries=arxiv_api.parse(atom("2611.99999", start + dt.timedelta(hours=1), title=title)), source="arxiv-api"
    )
    paper = Paper.objects.get(arxiv_id="2611.99999")
    assert paper.sources == ["arxiv-api"] and paper.announced_on == day
    user = subscriber("api-only@example.org", categories=["cs.LG"])
    due_now(user, at=now)
    user_ids = digest.digest_plan(now=now)
    result = digest.digest_send_batch(user_ids=user_ids, now=now)
    assert result.sent == [user.pk]
    [message] = smtp_server.wait_for(1)
    assert title in message.get_body(("plain",)).get_content()
    assert paper.pk in delivered_ids(DigestDelivery.objects.get(user=user))
