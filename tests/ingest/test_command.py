"""``manage.py ingest``: one summary line on success, one error line and a non-zero exit on failure."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from recommender.models import IngestRun, Paper, RunStatus
from tests.feed_server import Reply

pytestmark = pytest.mark.django_db


def _ingest(*args) -> str:
    out = io.StringIO()
    call_command("ingest", *args, stdout=out)
    return out.getvalue()


def test_file_then_again_prints_counts(feeds):
    path = str(feeds / "arxiv-api/query_testing_10.xml")
    first = _ingest("arxiv-api", "--file", path)
    assert first.startswith("arxiv-api: 10 entries, 10 created, 0 updated, 0 unchanged")
    assert first.count("\n") == 1
    second = _ingest("arxiv-api", "--file", path)
    assert "0 created, 0 updated, 10 unchanged" in second


def test_url_with_category_and_date(feeds, feed_server):
    url = feed_server.route("/rss/cs.AI", Reply(body=(feeds / "arxiv-rss/arxiv_cs_ai.xml").read_bytes()))
    output = _ingest("arxiv-rss", "--url", url, "--category", "cs.AI", "--date", "2026-05-04")
    assert "3 created" in output
    assert set(Paper.objects.values_list("announced_on", flat=True)) == {__import__("datetime").date(2026, 5, 4)}
    assert IngestRun.objects.get().params["categories"] == ["cs.AI"]


def test_failure_is_one_line_and_recorded(tmp_path):
    bad = tmp_path / "bad.xml"
    bad.write_bytes(b"<rss><channel><item>")
    with pytest.raises(CommandError) as info:
        _ingest("arxiv-rss", "--file", str(bad))
    message = str(info.value)
    assert message.startswith("ingest arxiv-rss failed: malformed arXiv RSS feed")
    assert "\n" not in message
    assert IngestRun.objects.get().status == RunStatus.FAILED
    assert Paper.objects.count() == 0


def test_bad_arguments():
    with pytest.raises(CommandError, match="invalid --date"):
        _ingest("arxiv-rss", "--file", "x.xml", "--date", "yesterday")
    with pytest.raises(CommandError):
        _ingest("arxiv-rss", "--file", "x.xml", "--url", "http://127.0.0.1/")
    with pytest.raises(CommandError, match="cannot read"):
        _ingest("hf-daily", "--file", "/nonexistent/file.json")
