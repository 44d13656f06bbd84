"""Fetching against a local HTTP server: politeness, conditional GET, failures, limits, paging."""

from __future__ import annotations

import time
import urllib.parse

import pytest

from recommender.ingest.entries import DocumentError, PermanentIngestError, TransientIngestError
from recommender.ingest.services import IngestUnavailable, ingest_live, ingest_run
from recommender.models import FeedState, IngestRun, Paper, RunStatus
from tests.feed_server import Reply

pytestmark = pytest.mark.django_db

ATOM = "application/atom+xml; charset=utf-8"


def test_user_agent_and_conditional_get(feeds, feed_server, settings):
    settings.PAPERBOY = {**settings.PAPERBOY, "USER_AGENT": "Paperboy-test/1.0 (mailto:ops@example.org)"}
    body = (feeds / "arxiv-rss/arxiv_cs_ai.xml").read_bytes()
    url = feed_server.route(
        "/rss/cs.AI",
        Reply(body=body, headers={"ETag": '"v1"', "Last-Modified": "Mon, 27 Apr 2026 04:00:00 GMT"}),
        Reply(status=304, body=b"", content_type=""),
    )
    run = ingest_run(source="arxiv-rss", url=url)
    assert run.created == 3
    path, headers = feed_server.requests[0]
    assert headers["User-Agent"] == "Paperboy-test/1.0 (mailto:ops@example.org)"
    assert "If-None-Match" not in headers
    state = FeedState.objects.get(url=url)
    assert (state.etag, state.last_modified) == ('"v1"', "Mon, 27 Apr 2026 04:00:00 GMT")

    again = ingest_run(source="arxiv-rss", url=url)
    _, headers = feed_server.requests[1]
    assert headers["If-None-Match"] == '"v1"'
    assert headers["If-Modified-Since"] == "Mon, 27 Apr 2026 04:00:00 GMT"
    assert again.status == RunStatus.SUCCEEDED
    assert (again.entries, again.created, again.updated) == (0, 0, 0)
    assert "not modified" in again.params["note"]
    assert Paper.objects.count() == 3


def test_503_with_retry_after_is_transient(feed_server):
    url = feed_server.route(
        "/rss/cs.LG", Reply(status=503, body=b"busy", content_type="text/plain", headers={"Retry-After": "120"})
    )
    with pytest.raises(TransientIngestError) as info:
        ingest_run(source="arxiv-rss", url=url)
    assert info.value.retry_after == 120
    assert "HTTP 503" in str(info.value)
    run = IngestRun.objects.get()
    assert run.status == RunStatus.FAILED and "503" in run.error
    assert Paper.objects.count() == 0


def test_500_is_transient_and_404_permanent(feed_server):
    url = feed_server.route("/boom", Reply(status=500, body=b"oops", content_type="text/plain"))
    with pytest.raises(TransientIngestError, match="HTTP 500") as info:
        ingest_run(source="hf-daily", url=url)
    assert info.value.retry_after is None
    with pytest.raises(PermanentIngestError, match="HTTP 404"):
        ingest_run(source="hf-daily", url=feed_server.url("/missing"))
    assert IngestRun.objects.filter(status=RunStatus.FAILED).count() == 2


def test_slow_server_times_out(feeds, feed_server):
    body = (feeds / "arxiv-rss/arxiv_cs_ai.xml").read_bytes()
    url = feed_server.route("/slow", Reply(body=body, delay=1.5))
    started = time.monotonic()
    with pytest.raises(TransientIngestError, match="timeout"):
        ingest_run(source="arxiv-rss", url=url, timeout=0.3)
    assert time.monotonic() - started < 1.5
    drip = feed_server.route("/drip", Reply(body=body, drip=0.2))
    with pytest.raises(TransientIngestError, match="timeout|connection lost"):
        ingest_run(source="arxiv-rss", url=drip, timeout=0.3)
    assert Paper.objects.count() == 0


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "streamed"])
def test_oversize_body_is_refused(feeds, feed_server, settings, declared):
    settings.PAPERBOY = {**settings.PAPERBOY, "INGEST_MAX_BYTES": 2048}
    body = (feeds / "arxiv-rss/arxiv_cs_ai.xml").read_bytes()
    url = feed_server.route("/big", Reply(body=body, length=declared))
    with pytest.raises(DocumentError, match="2048-byte limit"):
        ingest_run(source="arxiv-rss", url=url)
    assert Paper.objects.count() == 0
    assert IngestRun.objects.get().status == RunStatus.FAILED


def test_wrong_content_type(feeds, feed_server):
    url = feed_server.route("/api/daily_papers", Reply(body=b"<html>login</html>", content_type="text/html"))
    with pytest.raises(DocumentError, match="wrong content type 'text/html'"):
        ingest_run(source="hf-daily", url=url)
    json_body = (feeds / "hf-daily/daily_papers_30.json").read_bytes()
    url = feed_server.route("/rss/cs.CL", Reply(body=json_body, content_type="application/json"))
    with pytest.raises(DocumentError, match="expected XML"):
        ingest_run(source="arxiv-rss", url=url)
    assert Paper.objects.count() == 0


def test_hf_daily_over_http(feeds, feed_server):
    body = (feeds / "hf-daily/daily_papers_30.json").read_bytes()
    url = feed_server.route("/api/daily_papers", Reply(body=body, content_type="application/json"))
    run = ingest_run(source="hf-daily", url=url)
    assert run.created == 30
    assert Paper.objects.get(arxiv_id="2606.13681").hf_upvotes == 118


def _atom_page(ids: list[str], total: int, start: int) -> bytes:
    entries = "".join(
        f"""<entry><id>http://arxiv.org/abs/{i}v1</id><title>Paper {i}</title><summary>We study {i}.</summary>
        <published>2026-04-01T00:00:00Z</published><updated>2026-04-01T00:00:00Z</updated>
        <author><name>Ann Author</name></author><arxiv:primary_category term="cs.LG"/>
        <category term="cs.LG"/></entry>"""
        for i in ids
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
        'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" xmlns:arxiv="http://arxiv.org/schemas/atom">'
        f"<opensearch:totalResults>{total}</opensearch:totalResults><opensearch:startIndex>{start}"
        f"</opensearch:startIndex><opensearch:itemsPerPage>{len(ids)}</opensearch:itemsPerPage>{entries}</feed>"
    ).encode()


def test_arxiv_api_paging(feed_server):
    all_ids = [f"2604.{n:05d}" for n in range(1, 11)]

    def page(path):
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(path).query))
        start, size = int(query["start"]), int(query["max_results"])
        return Reply(body=_atom_page(all_ids[start : start + size], len(all_ids), start), content_type=ATOM)

    feed_server.route("/api/query", page)
    url = feed_server.url("/api/query?search_query=cat:cs.LG&max_results=4")
    run = ingest_run(source="arxiv-api", url=url, delay=0)
    assert (run.entries, run.created) == (10, 10)
    assert run.params["requests"] == 3
    starts = [dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(p).query))["start"] for p, _ in feed_server.requests]
    assert starts == ["0", "4", "8"]
    assert Paper.objects.get(arxiv_id="2604.00007").title == "Paper 2604.00007"


def test_arxiv_api_limit_and_politeness_delay(feed_server):
    all_ids = [f"2604.{n:05d}" for n in range(1, 11)]

    def page(path):
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(path).query))
        start, size = int(query["start"]), int(query["max_results"])
        return Reply(body=_atom_page(all_ids[start : start + size], len(all_ids), start), content_type=ATOM)

    feed_server.route("/api/query", page)
    started = time.monotonic()
    run = ingest_run(source="arxiv-api", url=feed_server.url("/api/query?max_results=3"), delay=0.2, limit=5)
    assert time.monotonic() - started >= 0.2  # one pause between the two requests
    assert run.entries == 6 and "limit" in run.params["note"]


def test_arxiv_api_error_entry_over_http(feeds, feed_server):
    body = (feeds / "arxiv-api/error_bad_id.xml").read_bytes()
    url = feed_server.route("/api/query", Reply(body=body, content_type=ATOM))
    with pytest.raises(PermanentIngestError, match="incorrect id format for abc"):
        ingest_run(source="arxiv-api", url=url + "?id_list=abc", delay=0)


def test_oai_follows_resumption_token(feeds, feed_server):
    first = (feeds / "arxiv-oai/arXivRaw_ListRecords.xml").read_bytes()
    last = (feeds / "arxiv-oai/arXiv_ListRecords_hep-th.xml").read_bytes()

    def page(path):
        return Reply(body=last if "resumptionToken" in path else first, content_type="text/xml")

    feed_server.route("/oai", page)
    run = ingest_run(source="arxiv-oai", url=feed_server.url("/oai"), date=None, delay=0)
    assert (run.entries, run.created) == (9, 9)
    token_query = urllib.parse.parse_qs(urllib.parse.urlsplit(feed_server.requests[1][0]).query)
    assert token_query == {"verb": ["ListRecords"], "resumptionToken": ["726959|1001"]}
    first_query = urllib.parse.parse_qs(urllib.parse.urlsplit(feed_server.requests[0][0]).query)
    assert first_query == {"verb": ["ListRecords"], "metadataPrefix": ["arXivRaw"]}


def test_oai_error_on_a_later_page_writes_nothing(feeds, feed_server):
    first = (feeds / "arxiv-oai/arXivRaw_ListRecords.xml").read_bytes()
    bad = (feeds / "arxiv-oai/ErrorResponseBadResumptionToken.xml").read_bytes()
    feed_server.route("/oai", lambda path: Reply(body=bad if "resumptionToken" in path else first))
    with pytest.raises(PermanentIngestError, match="badResumptionToken"):
        ingest_run(source="arxiv-oai", url=feed_server.url("/oai"), delay=0)
    assert Paper.objects.count() == 0
    assert IngestRun.objects.get().status == RunStatus.FAILED


def test_oai_sets_from_categories(feeds, feed_server):
    empty = (feeds / "arxiv-oai/ErrorResponseNoRecordsMatch.xml").read_bytes()
    feed_server.route("/oai", Reply(body=empty))
    run = ingest_run(source="arxiv-oai", url=feed_server.url("/oai"), categories=["cs.LG", "cs.CL", "stat.ML"], delay=0)
    assert run.entries == 0 and run.status == RunStatus.SUCCEEDED
    sets = [urllib.parse.parse_qs(urllib.parse.urlsplit(p).query)["set"][0] for p, _ in feed_server.requests]
    assert sets == ["cs", "stat"]


def test_ingest_live_fails_fast_when_unreachable(settings):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    settings.PAPERBOY = {**settings.PAPERBOY, "ARXIV_RSS_URL": f"http://127.0.0.1:{closed_port}/rss/"}
    started = time.monotonic()
    with pytest.raises(IngestUnavailable, match="network unreachable"):
        ingest_live(timeout=1.0)
    assert time.monotonic() - started < 3


def test_ingest_live_against_local_server(feeds, feed_server, settings):
    feed_server.route("/rss/cs.AI+cs.CL", Reply(body=(feeds / "arxiv-rss/arxiv_cs_cl.xml").read_bytes()))
    feed_server.route(
        "/api/daily_papers",
        Reply(body=(feeds / "hf-daily/daily_papers_30.json").read_bytes(), content_type="application/json"),
    )
    settings.PAPERBOY = {
        **settings.PAPERBOY,
        "INGEST_CATEGORIES": ["cs.AI", "cs.CL"],
        "ARXIV_RSS_URL": feed_server.url("/rss/"),
        "HF_DAILY_URL": feed_server.url("/api/daily_papers"),
    }
    runs = ingest_live(timeout=2.0)
    assert [(r.source, r.created) for r in runs] == [("arxiv-rss", 3), ("hf-daily", 30)]
