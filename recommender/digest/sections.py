"""Share one digest's papers among the subscriber's topics: one section per topic, each paper once.

Pure (no database, no ranking): the plan phase ranks every topic of a subscriber in the same bulk call
(one fold-in row per topic) and hands the lists here.

- A paper two topics both rank goes to the topic that ranks it highest (its position in that topic's
  list; the earlier topic on a tie). Positions, not scores: two topics' scores are not on one scale
  (a topic whose dial is at "what the community upvotes" multiplies its prior many times over).
- The digest's ``limit`` papers are shared by turns, default topic first: each topic in turn takes its
  next paper until the limit is reached or every topic has run out. Every topic with something to say
  gets about ``limit / topics`` papers, and a topic with fewer leaves its turns to the others.
- Sections come out grouped, in topic order, each in its own rank order; a topic with no paper has none.

With one topic this is that topic's first ``limit`` papers: a single-topic reader's digest is what it was.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Protocol, TypeVar

K = TypeVar("K", bound=Hashable)


class Ranked(Protocol):
    paper_id: int


P = TypeVar("P", bound=Ranked)


def sections_share(lists: Sequence[tuple[K, Sequence[P]]], *, limit: int) -> list[tuple[K, P]]:
    """``(topic, pick)`` pairs, grouped by topic in the order of ``lists``: at most ``limit``, each paper once.

    ``lists`` holds each topic's ranked picks, best first, topics in their order (default first).
    """
    owner: dict[int, tuple[int, int]] = {}  # paper id -> (best position, topic index)
    for t, (_, picks) in enumerate(lists):
        for position, pick in enumerate(picks):
            claim = (position, t)
            if pick.paper_id not in owner or claim < owner[pick.paper_id]:
                owner[pick.paper_id] = claim
    owned = [
        [pick for position, pick in enumerate(picks) if owner[pick.paper_id] == (position, t)]
        for t, (_, picks) in enumerate(lists)
    ]
    taken = [0] * len(lists)
    left = max(0, int(limit))
    while left and any(taken[t] < len(owned[t]) for t in range(len(lists))):
        for t in range(len(lists)):
            if left and taken[t] < len(owned[t]):
                taken[t] += 1
                left -= 1
    return [(lists[t][0], pick) for t in range(len(lists)) for pick in owned[t][: taken[t]]]
