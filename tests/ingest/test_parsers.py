"""Parsers on the real recorded responses: ids, versions, titles, authors, categories, dates."""

from __future__ import annotations

import datetime as dt

import pytest

from recommender.ingest import arxiv_api, arxiv_oai, arxiv_rss, hf_daily
from recommender.ingest.entries import DocumentError, SourceError, split_arxiv_id, split_authors


def test_rss_real_feed(feeds):
    entries = arxiv_rss.parse((feeds / "arxiv-rss/arxiv_cs_ai.xml").read_bytes())
    assert [e.arxiv_id for e in entries] == ["2604.21935", "2604.21936", "2604.21937"]
    first = entries[0]
    assert first.title == "Math Takes Two: A test for emergent mathematical reasoning in communication"
    assert first.version == 1
    assert first.announce_type == "new"
    assert first.announced_on == dt.date(2026, 4, 27)
    assert first.authors == ["Michael Cooper", "Samuel Cooper"]
    assert first.categories == ["cs.AI", "cs.LG"]
    assert first.primary_category == "cs.AI"
    assert first.abstract.startswith("Although language models demonstrate remarkable proficiency")
    assert not first.abstract.startswith("Abstract:")
    assert first.license == "http://creativecommons.org/licenses/by/4.0/"
    # LaTeX macros in abstracts are kept verbatim.
    assert r"\textbf{adaptability}" in entries[1].abstract
    assert len(entries[1].authors) == 18
    assert entries[1].authors[-1] == "Bennett A. Landman"


def test_rss_date_override(feeds):
    entries = arxiv_rss.parse((feeds / "arxiv-rss/arxiv_cs_cl.xml").read_bytes(), announced_on=dt.date(2026, 5, 1))
    assert {e.announced_on for e in entries} == {dt.date(2026, 5, 1)}
    assert entries[0].title.startswith("When Cow Urine Cures Constipation on YouTube")


def test_rss_empty_weekend_feed_is_not_an_error():
    feed = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>cs.LG updates on arXiv.org</title>
    <pubDate>Sat, 02 May 2026 00:00:00 -0400</pubDate></channel></rss>"""
    assert arxiv_rss.parse(feed) == []


def test_rss_announce_types_from_description_only():
    feed = b"""<rss version="2.0"><channel><pubDate>Tue, 28 Apr 2026 00:00:00 -0400</pubDate>
    <item><title>A</title><description>arXiv:2604.00001v3 Announce Type: replace-cross
Abstract: Something.</description><category>cs.LG</category></item>
    <item><title>B</title><description>arXiv:2604.00002v1 Announce Type: cross
Abstract: Other.</description><category>stat.ML</category></item></channel></rss>"""
    a, b = arxiv_rss.parse(feed)
    assert (a.arxiv_id, a.version, a.announce_type, a.abstract) == ("2604.00001", 3, "replace-cross", "Something.")
    assert (b.announce_type, b.announced_on) == ("cross", dt.date(2026, 4, 28))


def test_api_real_feeds(feeds):
    page = arxiv_api.parse_page((feeds / "arxiv-api/query_testing_100.xml").read_bytes())
    assert len(page.entries) == 100
    assert page.total_results == 214881
    first = page.entries[0]
    assert first.arxiv_id == "2202.12139"
    assert first.title == "Testing Deep Learning Models: A First Comparative Study of Multiple Testing Techniques"
    assert first.authors == ["Mohit Kumar Ahuja", "Arnaud Gotlieb", "Helge Spieker"]
    assert first.categories == ["cs.SE", "cs.LG"]
    assert first.doi == "10.1109/ICSTW55395.2022.00035"
    assert first.submitted_at == dt.datetime(2022, 2, 24, 15, 5, 19, tzinfo=dt.UTC)
    # A v2 carries the dates of v1 (published) and v2 (updated).
    v2 = next(e for e in page.entries if e.arxiv_id == "2005.14124")
    assert v2.version == 2
    assert v2.version_dates == {1: dt.date(2020, 5, 28), 2: dt.date(2020, 7, 16)}
    assert max(e.version for e in page.entries) == 9
    # The recorded feed double-encodes UTF-8; names come out repaired.
    second = page.entries[1]
    assert second.authors[0] == "Aurora Ramírez"


def test_api_old_format_and_old_style_ids(feeds):
    entries = arxiv_api.parse((feeds / "arxiv-api/old_format_author_query.xml").read_bytes())
    assert len(entries) == 10
    ids = [e.arxiv_id for e in entries]
    assert "cond-mat/0412498" in ids
    assert entries[0].title == "A Luttinger Liquid Core Inside Helium-4 Filled Nanopores"
    assert entries[0].abstract.startswith("As helium-4 is cooled below 2.17 K")
    assert "\n" not in entries[0].abstract


def test_api_empty_and_error(feeds):
    assert arxiv_api.parse((feeds / "arxiv-api/empty_result.xml").read_bytes()) == []
    with pytest.raises(SourceError, match="incorrect id format for abc"):
        arxiv_api.parse((feeds / "arxiv-api/error_bad_id.xml").read_bytes())


def test_oai_arxivraw(feeds):
    page = arxiv_oai.parse_page((feeds / "arxiv-oai/arXivRaw_ListRecords.xml").read_bytes())
    assert len(page.entries) == 6
    assert page.resumption_token == "726959|1001"
    assert page.complete_list_size == 58011
    first = page.entries[0]
    assert first.arxiv_id == "0704.0471"
    assert first.authors == ["D.V. Shetty", "S.J. Yennello", "G.A. Souliotis"]
    assert first.categories == ["nucl-ex", "nucl-th"]
    assert first.doi == "10.1103/PhysRevC.76.024606"
    richard = page.entries[1]
    assert richard.version == 4
    assert richard.version_dates[1] == dt.date(2007, 4, 5)
    assert richard.version_dates[4] == dt.date(2008, 11, 14)
    assert richard.title == "Limit distributions and scaling functions"


def test_oai_arxiv_prefix(feeds):
    entries = arxiv_oai.parse((feeds / "arxiv-oai/arXiv_ListRecords_hep-th.xml").read_bytes())
    assert [e.arxiv_id for e in entries] == ["1412.8323", "1507.07790", "1607.01710"]
    assert entries[0].authors == ["Philipp A Hoehn"]
    assert entries[1].authors == ["Luis B. Castro", "Edilberto O. Silva"]
    assert entries[0].primary_category == "quant-ph"
    assert entries[0].submitted_at.date() == dt.date(2014, 12, 29)
    assert entries[0].updated_at.date() == dt.date(2017, 12, 13)


@pytest.mark.parametrize(
    "name, code",
    [
        ("ErrorResponseBadArgument.xml", "badArgument"),
        ("ErrorResponseBadResumptionToken.xml", "badResumptionToken"),
        ("ErrorResponseBadVerb.xml", "badVerb"),
        ("ErrorResponseIdDoesNotExist.xml", "idDoesNotExist"),
    ],
)
def test_oai_errors(feeds, name, code):
    with pytest.raises(SourceError, match=code):
        arxiv_oai.parse((feeds / "arxiv-oai" / name).read_bytes())


def test_oai_no_records_match_is_empty(feeds):
    page = arxiv_oai.parse_page((feeds / "arxiv-oai/ErrorResponseNoRecordsMatch.xml").read_bytes())
    assert page.entries == [] and page.resumption_token == ""


def test_hf_daily_real(feeds):
    entries = hf_daily.parse((feeds / "hf-daily/daily_papers_30.json").read_bytes())
    assert len(entries) == 30
    msa = next(e for e in entries if e.arxiv_id == "2606.13392")
    assert msa.title == "MiniMax Sparse Attention"
    assert msa.hf_upvotes == 103
    assert msa.hf_comments == 4
    assert msa.github_repo == "https://github.com/MiniMax-AI/MSA"
    assert msa.github_stars == 251
    assert "sparse attention" in msa.ai_keywords
    assert msa.ai_summary.startswith("MiniMax Sparse Attention enables")
    assert msa.authors[0] == "Xunhao Lai"
    assert msa.hf_published_on == dt.date(2026, 6, 12)
    no_repo = next(e for e in entries if e.arxiv_id == "2606.00467")
    assert no_repo.github_repo == "" and no_repo.github_stars is None


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("2403.02233v2", ("2403.02233", 2)),
        ("http://arxiv.org/abs/2403.02233v11", ("2403.02233", 11)),
        ("oai:arXiv.org:2604.21935v1", ("2604.21935", 1)),
        ("hep-th/9901001", ("hep-th/9901001", None)),
        ("math.GT/0309136v1", ("math.GT/0309136", 1)),
        ("0704.0471", ("0704.0471", None)),
    ],
)
def test_split_arxiv_id(raw, expected):
    assert split_arxiv_id(raw) == expected


@pytest.mark.parametrize("raw", ["abc", "", "2403.022", "../../etc/passwd", "2403.02233v"])
def test_split_arxiv_id_rejects(raw):
    with pytest.raises(DocumentError, match="invalid arXiv identifier"):
        split_arxiv_id(raw)


def test_split_authors():
    assert split_authors("A. One, B. Two, and C. Three") == ["A. One", "B. Two", "C. Three"]
    assert split_authors("N.C. Summers and F.M. Nunes") == ["N.C. Summers", "F.M. Nunes"]
    assert split_authors("Ann Lee (MIT, CSAIL), Bo Chen") == ["Ann Lee", "Bo Chen"]
