"""The write side: one row per paper, versions kept, sources merged, re-ingestion a no-op."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from recommender.ingest import arxiv_api, arxiv_oai, arxiv_rss, hf_daily
from recommender.ingest.entries import PaperEntry
from recommender.ingest.services import SAMPLE_HF, SAMPLE_RSS, ingest_run, ingest_sample, paper_upsert_many
from recommender.models import IngestRun, Paper, RunStatus

pytestmark = pytest.mark.django_db


def _rss_item(arxiv_id, version, announce="new", title="A title", abstract="We propose a thing.", cats="cs.LG"):
    categories = "".join(f"<category>{c}</category>" for c in cats.split())
    return f"""<item><title>{title}</title><link>https://arxiv.org/abs/{arxiv_id}</link>
    <description>arXiv:{arxiv_id}v{version} Announce Type: {announce}
Abstract: {abstract}</description><guid isPermaLink="false">oai:arXiv.org:{arxiv_id}v{version}</guid>
    {categories}<arxiv:announce_type>{announce}</arxiv:announce_type>
    <dc:creator>Ada Lovelace, Alan Turing</dc:creator></item>"""


def rss(*items: str, day: str = "Tue, 28 Apr 2026 00:00:00 -0400") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss xmlns:arxiv="http://arxiv.org/schemas/atom" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" version="2.0"><channel><title>t</title>'
        f"<pubDate>{day}</pubDate>{''.join(items)}</channel></rss>"
    ).encode()


def test_real_rss_ingest_then_reingest_is_a_noop(feeds):
    run = ingest_run(source="arxiv-rss", path=feeds / "arxiv-rss/arxiv_cs_ai.xml")
    assert (run.status, run.entries, run.created, run.updated, run.unchanged) == (RunStatus.SUCCEEDED, 3, 3, 0, 0)
    paper = Paper.objects.get(arxiv_id="2604.21935")
    assert paper.title == "Math Takes Two: A test for emergent mathematical reasoning in communication"
    assert paper.versions == [{"version": 1, "date": "2026-04-27"}]
    assert paper.announce_type == "new" and paper.announced_on == dt.date(2026, 4, 27)
    assert paper.categories == "cs.AI cs.LG" and paper.primary_category == "cs.AI"
    assert paper.sources == ["arxiv-rss"]
    assert paper.tldr.startswith("In this work, we propose Math Takes Two")
    stamps = dict(Paper.objects.values_list("arxiv_id", "modified_at"))

    again = ingest_run(source="arxiv-rss", path=feeds / "arxiv-rss/arxiv_cs_ai.xml")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert dict(Paper.objects.values_list("arxiv_id", "modified_at")) == stamps
    assert Paper.objects.count() == 3


def test_changing_run_refreshes_trending(feeds):
    today = timezone.now().date()
    run = ingest_run(source="arxiv-rss", path=feeds / "arxiv-rss/arxiv_cs_cl.xml", date=today)
    assert run.created == 3
    assert set(Paper.objects.values_list("announced_on", flat=True)) == {today}
    assert all(score > 0 for score in Paper.objects.values_list("trending_score", flat=True))


@pytest.mark.parametrize(
    "source, path, count",
    [
        ("arxiv-api", "arxiv-api/query_testing_100.xml", 100),
        ("arxiv-api", "arxiv-api/old_format_author_query.xml", 10),
        ("arxiv-oai", "arxiv-oai/arXivRaw_ListRecords.xml", 6),
        ("arxiv-oai", "arxiv-oai/arXiv_ListRecords_hep-th.xml", 3),
        ("hf-daily", "hf-daily/daily_papers_30.json", 30),
    ],
)
def test_real_feeds_ingest_idempotently(feeds, source, path, count):
    first = ingest_run(source=source, path=feeds / path)
    assert (first.entries, first.created) == (count, count)
    second = ingest_run(source=source, path=feeds / path)
    assert (second.created, second.updated, second.unchanged) == (0, 0, count)
    assert Paper.objects.count() == count


def test_oai_versions_history(feeds):
    ingest_run(source="arxiv-oai", path=feeds / "arxiv-oai/arXivRaw_ListRecords.xml")
    paper = Paper.objects.get(arxiv_id="0704.0716")
    assert paper.version == 4
    assert paper.versions == [
        {"version": 1, "date": "2007-04-05"},
        {"version": 2, "date": "2007-09-28"},
        {"version": 3, "date": "2008-02-29"},
        {"version": 4, "date": "2008-11-14"},
    ]
    assert paper.submitted_at.date() == dt.date(2007, 4, 5)
    assert paper.updated_at.date() == dt.date(2008, 11, 14)


def test_empty_oai_result_succeeds(feeds):
    run = ingest_run(source="arxiv-oai", path=feeds / "arxiv-oai/ErrorResponseNoRecordsMatch.xml")
    assert (run.status, run.entries) == (RunStatus.SUCCEEDED, 0)


def test_new_version_updates_the_row_and_keeps_history():
    v1 = arxiv_rss.parse(rss(_rss_item("2604.00001", 1, title="Old title")))
    paper_upsert_many(entries=v1, source="arxiv-rss")
    v2 = arxiv_rss.parse(
        rss(_rss_item("2604.00001", 2, "replace", title="New title"), day="Wed, 06 May 2026 00:00:00 -0400")
    )
    counts = paper_upsert_many(entries=v2, source="arxiv-rss")
    assert (counts.created, counts.updated) == (0, 1)
    paper = Paper.objects.get(arxiv_id="2604.00001")
    assert paper.title == "New title" and paper.version == 2
    assert paper.versions == [{"version": 1, "date": "2026-04-28"}, {"version": 2, "date": "2026-05-06"}]
    assert paper.announce_type == "replace" and paper.announced_on == dt.date(2026, 5, 6)
    # Re-reading the old v1 feed later does not roll anything back.
    counts = paper_upsert_many(entries=v1, source="arxiv-rss")
    assert counts.unchanged == 1
    paper.refresh_from_db()
    assert paper.title == "New title" and paper.announce_type == "replace"


def test_same_day_new_beats_cross():
    paper_upsert_many(entries=arxiv_rss.parse(rss(_rss_item("2604.00003", 1, "new"))), source="arxiv-rss")
    counts = paper_upsert_many(entries=arxiv_rss.parse(rss(_rss_item("2604.00003", 1, "cross"))), source="arxiv-rss")
    assert counts.unchanged == 1
    assert Paper.objects.get(arxiv_id="2604.00003").announce_type == "new"


def test_sources_merge_and_empty_values_do_not_blank(feeds):
    entries = hf_daily.parse((feeds / "hf-daily/daily_papers_30.json").read_bytes())
    msa = next(e for e in entries if e.arxiv_id == "2606.13392")
    rss_entry = PaperEntry(
        arxiv_id="2606.13392",
        version=1,
        title="MiniMax Sparse Attention",
        abstract="We introduce MSA.",
        authors=["Xunhao Lai"],
        categories=["cs.LG", "cs.CL"],
        primary_category="cs.LG",
        announce_type="new",
        announced_on=dt.date(2026, 6, 11),
        version_dates={1: dt.date(2026, 6, 11)},
    )
    paper_upsert_many(entries=[rss_entry], source="arxiv-rss")
    paper_upsert_many(entries=[msa], source="hf-daily")
    paper = Paper.objects.get(arxiv_id="2606.13392")
    assert paper.sources == ["arxiv-rss", "hf-daily"]
    assert paper.abstract == "We introduce MSA."  # arXiv is authoritative; HF only fills blanks
    assert paper.categories == "cs.LG cs.CL" and paper.announce_type == "new"
    assert (paper.hf_upvotes, paper.hf_comments, paper.github_stars) == (103, 4, 251)
    assert paper.github_repo == "https://github.com/MiniMax-AI/MSA"
    # A later HF listing without the repo or keywords must not blank them; upvotes move.
    later = PaperEntry(arxiv_id="2606.13392", hf_upvotes=150, hf_comments=5)
    counts = paper_upsert_many(entries=[later], source="hf-daily")
    assert counts.updated == 1
    paper.refresh_from_db()
    assert paper.hf_upvotes == 150
    assert paper.github_repo == "https://github.com/MiniMax-AI/MSA" and paper.ai_keywords
    assert paper.ai_summary.startswith("MiniMax Sparse Attention enables")


def test_duplicate_ids_in_one_feed_keep_highest_version():
    feed = rss(
        _rss_item("2604.00002", 3, "replace", title="Third"),
        _rss_item("2604.00002", 1, title="First"),
        _rss_item("2604.00002", 2, "replace", title="Second"),
    )
    run_counts = paper_upsert_many(entries=arxiv_rss.parse(feed), source="arxiv-rss")
    assert (run_counts.entries, run_counts.created) == (3, 1)
    paper = Paper.objects.get(arxiv_id="2604.00002")
    assert paper.title == "Third" and paper.version == 3
    assert [v["version"] for v in paper.versions] == [1, 2, 3]


def test_script_tags_and_latex_stored_as_text():
    feed = rss(
        _rss_item(
            "2604.00004",
            1,
            title="&lt;script&gt;alert(1)&lt;/script&gt;   Bounds  on $O(\\sqrt{n})$",
            abstract="We show &lt;img src=x onerror=alert(1)&gt; that\n\n   $\\alpha &lt; \\beta$ holds.",
        )
    )
    paper_upsert_many(entries=arxiv_rss.parse(feed), source="arxiv-rss")
    paper = Paper.objects.get(arxiv_id="2604.00004")
    assert paper.title == "<script>alert(1)</script> Bounds on $O(\\sqrt{n})$"
    assert paper.abstract == "We show <img src=x onerror=alert(1)> that $\\alpha < \\beta$ holds."


def test_api_then_oai_then_rss_merge_into_one_row(feeds):
    api = arxiv_api.parse((feeds / "arxiv-api/query_testing_10.xml").read_bytes())[:1]
    paper_upsert_many(entries=api, source="arxiv-api")
    oai = arxiv_oai.parse((feeds / "arxiv-oai/arXivRaw_ListRecords.xml").read_bytes())[:1]
    paper_upsert_many(entries=oai, source="arxiv-oai")
    assert Paper.objects.count() == 2
    assert Paper.objects.get(arxiv_id=api[0].arxiv_id).sources == ["arxiv-api"]


def test_sample_feed_ingests_and_is_idempotent():
    assert SAMPLE_RSS.exists() and SAMPLE_HF.exists()
    runs = ingest_sample(day=dt.date(2026, 11, 16))
    rss_run, hf_run = runs
    assert rss_run.status == hf_run.status == RunStatus.SUCCEEDED
    assert rss_run.created >= 40
    assert hf_run.created == 0 and hf_run.updated == hf_run.entries > 5
    types = set(Paper.objects.values_list("announce_type", flat=True))
    assert types == {"new", "cross", "replace", "replace-cross"}
    cats = " ".join(Paper.objects.values_list("categories", flat=True)).split()
    assert {"cs.LG", "cs.CL", "cs.CV", "cs.AI", "stat.ML"} <= set(cats)
    assert Paper.objects.filter(hf_upvotes__gt=0).count() == hf_run.entries
    again = ingest_sample(day=dt.date(2026, 11, 16))
    assert all(r.created == r.updated == 0 for r in again)
    assert IngestRun.objects.filter(status=RunStatus.SUCCEEDED).count() == 4


@pytest.mark.parametrize("source,folder", [("arxiv-rss", "arxiv-rss"), ("arxiv-api", "arxiv-api")])
def test_every_ingested_tldr_is_the_summaries_apps(feeds, source, folder):
    """One summariser: each recorded paper's TL;DR is ``summaries.extractive.summarize`` of its abstract."""
    from recommender.summaries.extractive import summarize

    for path in sorted((feeds / folder).glob("*.xml")):
        if not path.name.startswith("error_"):
            ingest_run(source=source, path=path)
    papers = list(Paper.objects.exclude(abstract=""))
    assert papers
    for paper in papers:
        assert paper.tldr == (summarize(paper.abstract) or ""), paper.arxiv_id


def test_created_rows_hold_the_merged_values_and_the_fields_own_stamps(feeds):
    """An insert (COPY on PostgreSQL, bulk_create elsewhere) stores the merged paper field by field, and
    ``created_at`` / ``modified_at`` come from the fields' ``pre_save`` (stamped during the insert)."""
    entries = arxiv_api.parse((feeds / "arxiv-api/query_testing_100.xml").read_bytes())
    assert entries
    start = timezone.now()
    counts = paper_upsert_many(entries=entries, source="arxiv-api")
    end = timezone.now()
    assert counts.created == len({e.arxiv_id for e in entries})
    by_id = {e.arxiv_id: e for e in entries}
    for paper in Paper.objects.all():
        entry = by_id[paper.arxiv_id]
        assert start <= paper.created_at <= paper.modified_at <= end
        assert (paper.title, paper.authors, paper.sources) == (entry.title, list(entry.authors), ["arxiv-api"])
        assert paper.versions and paper.version == max(v["version"] for v in paper.versions)
