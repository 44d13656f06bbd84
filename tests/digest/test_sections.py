"""Sharing a digest among topics (``digest.sections``), over generated ranked lists.

Whatever the topics' lists: each paper once, at most ``limit`` papers, and as many as the topics can give
together; a paper sits under the topic that ranks it highest; sections grouped in topic order, each in its
own rank order; turns are fair (no topic gets two more papers than another while that one still had some);
one topic is exactly its first ``limit`` papers (a single-topic digest is what it was before topics).
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.digest.sections import sections_share


@dataclass(frozen=True)
class Pick:
    paper_id: int
    score: float = 0.0


ranked_lists = st.lists(
    st.lists(st.integers(0, 40), max_size=15, unique=True).map(lambda ids: [Pick(i) for i in ids]),
    min_size=1,
    max_size=5,
)


@settings(max_examples=300, deadline=None)
@given(ranked_lists, st.integers(0, 30))
def test_each_paper_once_under_the_topic_that_ranks_it_highest(picks_per_topic, limit):
    lists = [(f"topic{t}", picks) for t, picks in enumerate(picks_per_topic)]
    shared = sections_share(lists, limit=limit)
    ids = [pick.paper_id for _, pick in shared]
    assert len(ids) == len(set(ids)), "a paper twice"
    everything = {p.paper_id for picks in picks_per_topic for p in picks}
    assert len(ids) == min(limit, len(everything))
    order = [name for name, _ in lists]
    topics = [name for name, _ in shared]
    assert topics == sorted(topics, key=order.index), "sections not grouped in topic order"
    position = {(name, p.paper_id): i for name, picks in lists for i, p in enumerate(picks)}
    for name, pick in shared:
        mine = position[(name, pick.paper_id)]
        for other, _ in lists:
            theirs = position.get((other, pick.paper_id))
            if theirs is not None:
                assert (mine, order.index(name)) <= (theirs, order.index(other)), f"{pick} under {name}, not {other}"
    for name, picks in lists:
        section = [pick.paper_id for topic, pick in shared if topic == name]
        ranks = [position[(name, pid)] for pid in section]
        assert ranks == sorted(ranks), f"{name} out of its rank order"
    counts = {name: sum(1 for topic, _ in shared if topic == name) for name in order}
    owned = {name: sum(1 for topic, _ in sections_share(lists, limit=10**6) if topic == name) for name in order}
    for a in order:
        for b in order:
            if counts[b] < owned[b]:  # b still had papers to give: a cannot be more than one turn ahead
                assert counts[a] <= counts[b] + 1, f"unfair turns: {counts}"


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 100), max_size=30, unique=True), st.integers(0, 40))
def test_one_topic_is_its_first_papers(ids, limit):
    picks = [Pick(i, score=-k) for k, i in enumerate(ids)]
    assert [p for _, p in sections_share([("only", picks)], limit=limit)] == picks[:limit]
