"""OAI-PMH ``GetRecord`` answers (one record) ingest like a one-record ``ListRecords`` page.

No GetRecord answer is recorded, so each test builds one from every record of the recorded
``ListRecords`` files (both metadata prefixes): the same OAI-PMH envelope with
``<GetRecord><record>…</record></GetRecord>`` in place of the listing, as the protocol defines it.
"""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path

import pytest

from recommender.ingest import arxiv_oai
from recommender.ingest.entries import DocumentError
from recommender.ingest.services import ingest_run
from recommender.models import Paper, RunStatus
from tests.feed_server import Reply

pytestmark = pytest.mark.django_db

LISTINGS = {"arXivRaw": "arxiv-oai/arXivRaw_ListRecords.xml", "arXiv": "arxiv-oai/arXiv_ListRecords_hep-th.xml"}
_RECORD_RE = re.compile(rb"<record>.*?</record>", re.DOTALL)
_LISTING_RE = re.compile(rb"<ListRecords>.*</ListRecords>", re.DOTALL)
_REQUEST_RE = re.compile(rb"<request [^>]*>")


def get_record_answers(listing: bytes, prefix: str) -> list[tuple[str, bytes]]:
    """(OAI identifier, GetRecord answer) for every record of a recorded ``ListRecords`` page."""
    answers = []
    for record in _RECORD_RE.findall(listing):
        identifier = re.search(rb"<identifier>([^<]+)</identifier>", record).group(1).decode()
        request = f'<request verb="GetRecord" identifier="{identifier}" metadataPrefix="{prefix}">'.encode()
        body = _LISTING_RE.sub(lambda _, r=record: b"<GetRecord>" + r + b"</GetRecord>", listing)
        answers.append((identifier, _REQUEST_RE.sub(lambda _, q=request: q, body, count=1)))
    return answers


@pytest.mark.parametrize("prefix", sorted(LISTINGS))
def test_every_recorded_record_as_get_record_parses_like_its_listing_entry(feeds, prefix):
    listing = (feeds / LISTINGS[prefix]).read_bytes()
    expected = arxiv_oai.parse(listing)
    answers = get_record_answers(listing, prefix)
    assert len(answers) == len(expected) > 0
    for (identifier, answer), entry in zip(answers, expected, strict=True):
        page = arxiv_oai.parse_page(answer)
        assert page.entries == [entry], identifier
        assert page.resumption_token == "" and identifier.endswith(entry.arxiv_id)


def test_get_record_of_a_deleted_record_is_empty_and_an_empty_envelope_is_refused():
    envelope = (
        b'<?xml version="1.0"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
        b'<responseDate>2026-04-27T00:00:00Z</responseDate><request verb="GetRecord">x</request>%s</OAI-PMH>'
    )
    deleted = b'<GetRecord><record><header status="deleted"><identifier>oai:arXiv.org:2604.21935</identifier>'
    deleted += b"<datestamp>2026-04-27</datestamp></header></record></GetRecord>"
    assert arxiv_oai.parse_page(envelope % deleted).entries == []
    with pytest.raises(DocumentError, match="without ListRecords or GetRecord"):
        arxiv_oai.parse_page(envelope % b"")


@pytest.mark.parametrize("prefix", sorted(LISTINGS))
def test_get_record_ingests_from_a_file_and_from_a_server(feeds, feed_server, tmp_path: Path, prefix):
    [(first_id, first), *rest] = get_record_answers((feeds / LISTINGS[prefix]).read_bytes(), prefix)
    path = tmp_path / "get_record.xml"
    path.write_bytes(first)
    run = ingest_run(source="arxiv-oai", path=path, metadata_prefix=prefix)
    assert (run.status, run.entries, run.created) == (RunStatus.SUCCEEDED, 1, 1)
    assert first_id.endswith(Paper.objects.get().arxiv_id)

    second_id, second = rest[0]
    feed_server.route("/oai", Reply(body=second))
    url = feed_server.url(f"/oai?verb=GetRecord&identifier={second_id}&metadataPrefix={prefix}")
    run = ingest_run(source="arxiv-oai", url=url, delay=0)
    assert (run.status, run.entries, run.created) == (RunStatus.SUCCEEDED, 1, 1)
    [(requested, _)] = feed_server.requests
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(requested).query))
    assert query == {"verb": "GetRecord", "identifier": second_id, "metadataPrefix": prefix}
    assert Paper.objects.count() == 2
