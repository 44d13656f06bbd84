"""Matching quality on the recorded feeds (issue 15): 100% of id entries, >= 97% of title-only, 0 false matches."""

from __future__ import annotations

from recommender.library import matching, parsers

from . import testset

LIMITS = {"max_bytes": 50_000_000, "max_entries": 100_000}


def _score(feeds, copies=1):
    catalogue_items, cases = testset.build(feeds, copies=copies)
    kind, entries = parsers.parse("".join(c.bibtex for c in cases).encode(), filename="lib.bib", **LIMITS)
    assert kind == "bibtex" and len(entries) == len(cases)
    catalogue = matching.Catalogue(catalogue_items)
    by_pk = {item.pk: item.arxiv_id for item in catalogue_items}
    outcomes = [matching.match_one(catalogue, e) for e in entries]
    return cases, outcomes, by_pk


def test_matching_quality_on_recorded_feeds(feeds):
    cases, outcomes, by_pk = _score(feeds)
    with_id = [(c, o) for c, o in zip(cases, outcomes, strict=True) if c.with_id]
    titles = [(c, o) for c, o in zip(cases, outcomes, strict=True) if not c.with_id and c.expected]
    decoys = [(c, o) for c, o in zip(cases, outcomes, strict=True) if not c.expected]
    assert len(with_id) >= 55 and len(titles) >= 55 and len(decoys) >= 70
    assert all(o.status == "id" and by_pk[o.pk] == c.expected for c, o in with_id), [
        (c.key, o) for c, o in with_id if o.status != "id"
    ]
    matched = [(c, o) for c, o in titles if o.status == "title"]
    assert len(matched) / len(titles) >= 0.97, [(c.bibtex, o.reason) for c, o in titles if o.status != "title"]
    false = [(c.key, o) for c, o in matched if by_pk[o.pk] != c.expected]
    false += [(c.key, o) for c, o in decoys if o.status in ("id", "title")]
    assert false == []


def test_every_not_found_has_a_reason(feeds):
    _, outcomes, _ = _score(feeds)
    assert all(o.reason for o in outcomes if o.status == "not_found")
