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

One email per topic (``Profile.email_per_topic``): the shared digest is cut into its sections
(``sections_split``), so the sharing rule holds across the reader's emails of the day too. Each topic's
email is its own delivery, keyed ``period_key_for(period, topic)``; ``period_of`` reads the period back.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Protocol, TypeVar

K = TypeVar("K", bound=Hashable)

# "2026-12-01~t42": the exactly-once key (user, period key) stays unique per topic email. "~" sorts after
# every digit and letter, so a period's topic emails list next to its first one; 12 + 19 digits fit in 32.
TOPIC_MARK = "~t"


def period_key_for(period: str, topic_id: int | None) -> str:
    """The period key of ``topic_id``'s own email in ``period`` (the plain period for None)."""
    return period if topic_id is None else f"{period}{TOPIC_MARK}{int(topic_id)}"


def period_of(key: str) -> str:
    """The period a delivery key names ("2026-12-01~t42" -> "2026-12-01"; a plain key as it is)."""
    return key.partition(TOPIC_MARK)[0]


def topic_id_of(key: str) -> int | None:
    """The topic whose own email a delivery key names ("2026-12-01~t42" -> 42), None for a whole digest."""
    _, mark, topic = key.partition(TOPIC_MARK)
    return int(topic) if mark and topic.isdigit() else None


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


def sections_split(topics: Sequence[K], papers: Sequence[P]) -> list[tuple[K, list[P]]]:
    """Cut a shared digest (``papers`` grouped by topic, ``topics`` the topic of each) into its sections, in order."""
    sections: list[tuple[K, list[P]]] = []
    for topic, paper in zip(topics, papers, strict=True):
        if not sections or sections[-1][0] != topic:
            sections.append((topic, []))
        sections[-1][1].append(paper)
    return sections
