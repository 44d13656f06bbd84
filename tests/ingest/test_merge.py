"""The pure merge rules (``merge.py``) on generated runs: days, versions and sources, in any order of runs."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.ingest import announce
from recommender.ingest.entries import PaperEntry
from recommender.ingest.merge import derive_announcement, merge, snapshot
from recommender.models import Paper

DAYS = st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2027, 12, 31))
TIMES = st.datetimes(min_value=dt.datetime(2024, 1, 1), max_value=dt.datetime(2027, 12, 31), timezones=st.just(dt.UTC))


@st.composite
def runs(draw):
    """A sequence of one-entry runs of one paper, each from RSS (a stated day) or the API / OAI (a submission)."""
    out = []
    for _ in range(draw(st.integers(1, 6))):
        source = draw(st.sampled_from(["arxiv-rss", "arxiv-api", "arxiv-oai", "hf-daily"]))
        entry = PaperEntry(arxiv_id="2401.00001", version=draw(st.integers(1, 4)), title=draw(st.sampled_from("ab")))
        if source == "arxiv-rss":
            entry.announced_on = draw(DAYS)
            entry.announce_type = draw(st.sampled_from(["new", "cross", "replace", "replace-cross"]))
        elif source != "hf-daily":
            entry.submitted_at = draw(TIMES)
        out.append((source, entry))
    return out


def _ingest(paper: Paper, source: str, entry: PaperEntry) -> None:
    """What ``paper_upsert_many`` does per id and run: merge, then date a paper no feed has dated."""
    merge(paper, entry, source, is_new=not paper.title)
    derive_announcement(paper, frozenset())


@settings(max_examples=300, deadline=None)
@given(runs())
def test_a_stated_day_replaces_a_derived_one_never_the_reverse(sequence):
    paper = Paper(arxiv_id="2401.00001", versions=[], authors=[], sources=[], ai_keywords=[])
    for done, (source, entry) in enumerate(sequence, start=1):
        _ingest(paper, source, entry)
        stated = [e.announced_on for s, e in sequence[:done] if s == "arxiv-rss"]
        submitted = [e.submitted_at for _, e in sequence[:done] if e.submitted_at]
        if stated:
            assert paper.announced_on == max(stated)
        elif submitted:
            assert paper.announced_on == announce.announcement_day(min(submitted), holidays=frozenset())
        else:
            assert paper.announced_on is None
    assert paper.version == max(e.version for _, e in sequence)
    assert set(paper.sources) == {s for s, _ in sequence}


@settings(max_examples=200, deadline=None)
@given(runs())
def test_merging_the_same_runs_again_changes_nothing(sequence):
    """Re-ingesting is a no-op: the second pass over the same runs leaves every merged field as it was."""
    paper = Paper(arxiv_id="2401.00001", versions=[], authors=[], sources=[], ai_keywords=[])
    for source, entry in sequence:
        _ingest(paper, source, entry)
    before = snapshot(paper)
    for source, entry in sequence:
        _ingest(paper, source, entry)
    assert snapshot(paper) == before
