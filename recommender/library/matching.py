"""Match library entries to catalogue papers: by arXiv id, else by normalised title confirmed by authors or year.

Rules (the thresholds are module constants, documented in docs/web.md):

* An entry with an arXiv id matches the paper with that id; an id the
  catalogue lacks is to be fetched from arXiv (``to_fetch``).
* Otherwise its title key (``normalise.title_key``: case, accents, TeX,
  punctuation) is looked up exactly. The match stands when an author's
  surname or the year agrees (year within ``YEAR_BEFORE``/``YEAR_AFTER`` of
  the first arXiv version: journals publish later). An entry with neither
  authors nor a year matches only a title that is unique in the catalogue.
* Failing that, a fuzzy match (rapidfuzz ``ratio`` on the keys) of at least
  ``FUZZY_THRESHOLD`` stands only when an author's surname agrees (or, for
  entries without authors, the year agrees and the score is at least
  ``FUZZY_YEAR_ONLY``). Never below the threshold, never unconfirmed.
* The same paper twice in one file is a duplicate, reported once.

Pure: the offline ``import`` protocol runs it on CiteULike titles.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from .normalise import surname, title_key
from .parsers import LibraryEntry

FUZZY_THRESHOLD = 90.0  # rapidfuzz ratio (0-100) of the two title keys
FUZZY_YEAR_ONLY = 95.0  # the bar when only the year can confirm
FUZZY_MIN_CHARS = 20  # shorter keys are matched exactly or not at all
MIN_TITLE_CHARS = 8
YEAR_BEFORE, YEAR_AFTER = 1, 3
BLOCK_WORDS = 3  # rarest words of a title whose papers are the fuzzy candidates
BLOCK_POSTING_CAP = 20_000


@dataclass(frozen=True)
class CatalogueItem:
    pk: int
    arxiv_id: str
    title: str
    authors: tuple[str, ...] = ()
    year: int | None = None


@dataclass
class Outcome:
    ref: str
    status: str  # "id", "title", "fetch", "not_found", "duplicate"
    pk: int | None = None
    arxiv_id: str = ""
    reason: str = ""
    score: float = 0.0


@dataclass
class MatchResult:
    entries: int = 0
    outcomes: list[Outcome] = field(default_factory=list)

    def of(self, status: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def matched_pks(self) -> list[int]:
        return [o.pk for o in self.outcomes if o.status in ("id", "title") and o.pk is not None]

    @property
    def to_fetch(self) -> list[str]:
        return [o.arxiv_id for o in self.outcomes if o.status == "fetch"]

    def counts(self) -> dict[str, int]:
        return {
            "entries": self.entries,
            "matched_by_id": len(self.of("id")),
            "matched_by_title": len(self.of("title")),
            "fetched": len(self.of("fetch")),
            "not_found": len(self.of("not_found")),
            "duplicates": len(self.of("duplicate")),
        }


class Catalogue:
    """The papers entries can match, indexed by id, title key and (lazily) title words."""

    def __init__(self, items: Iterable[CatalogueItem]):
        self.items: list[CatalogueItem] = list(items)
        self.by_id: dict[str, int] = {}
        self.by_key: dict[str, list[int]] = defaultdict(list)
        self.keys: list[str] = []
        for i, item in enumerate(self.items):
            if item.arxiv_id:
                self.by_id[item.arxiv_id] = i
            key = title_key(item.title)
            self.keys.append(key)
            if key:
                self.by_key[key].append(i)
        self._words: dict[str, list[int]] | None = None
        self._surnames: dict[int, frozenset[str]] = {}

    def words(self) -> dict[str, list[int]]:
        if self._words is None:
            index: dict[str, list[int]] = defaultdict(list)
            for i, key in enumerate(self.keys):
                for word in set(key.split()):
                    if len(word) >= 3:
                        index[word].append(i)
            self._words = index
        return self._words

    def surnames(self, i: int) -> frozenset[str]:
        if i not in self._surnames:
            self._surnames[i] = frozenset(filter(None, (surname(a) for a in self.items[i].authors)))
        return self._surnames[i]

    def fuzzy_candidates(self, key: str) -> list[int]:
        index = self.words()
        words = sorted({w for w in key.split() if w in index}, key=lambda w: len(index[w]))
        found: set[int] = set()
        for word in words[:BLOCK_WORDS]:
            found.update(index[word][:BLOCK_POSTING_CAP])
        return sorted(found)


def _entry_surnames(entry: LibraryEntry) -> frozenset[str]:
    return frozenset(s for s in (surname(a) for a in entry.authors) if s and s not in ("others", "al"))


def _year_agrees(entry: LibraryEntry, item: CatalogueItem) -> bool:
    return bool(entry.year and item.year and item.year - YEAR_BEFORE <= entry.year <= item.year + YEAR_AFTER)


def _by_title(catalogue: Catalogue, entry: LibraryEntry) -> Outcome:
    key = title_key(entry.title)
    if len(key) < MIN_TITLE_CHARS or len(key.split()) < 2:
        return Outcome(entry.ref, "not_found", reason="title too short to match safely, and no arXiv id")
    names = _entry_surnames(entry)
    exact = catalogue.by_key.get(key, [])
    if exact:
        return _decide_exact(catalogue, entry, names, exact)
    if len(key) < FUZZY_MIN_CHARS:
        return Outcome(entry.ref, "not_found", reason="no paper with this title in the catalogue")
    return _decide_fuzzy(catalogue, entry, names, key)


def _decide_exact(catalogue: Catalogue, entry: LibraryEntry, names: frozenset[str], exact: list[int]) -> Outcome:
    if not names and not entry.year:
        if len(exact) == 1:
            return _found(catalogue, entry, exact[0], 100.0)
        return Outcome(entry.ref, "not_found", reason=f"{len(exact)} papers share this title; add authors or a year")
    scored = [(len(names & catalogue.surnames(i)), _year_agrees(entry, catalogue.items[i]), i) for i in exact]
    confirmed = sorted((s for s in scored if s[0] or s[1]), reverse=True)
    if not confirmed:
        other = catalogue.items[exact[0]].arxiv_id
        return Outcome(
            entry.ref, "not_found", reason=f"same title as arXiv:{other}, but neither authors nor year agree"
        )
    if len(confirmed) > 1 and confirmed[0][:2] == confirmed[1][:2]:
        return Outcome(entry.ref, "not_found", reason=f"{len(confirmed)} papers share this title, authors and year")
    return _found(catalogue, entry, confirmed[0][2], 100.0)


def _decide_fuzzy(catalogue: Catalogue, entry: LibraryEntry, names: frozenset[str], key: str) -> Outcome:
    candidates = catalogue.fuzzy_candidates(key)
    choices = {i: catalogue.keys[i] for i in candidates}
    near = process.extract(key, choices, scorer=fuzz.ratio, score_cutoff=FUZZY_THRESHOLD, limit=5)
    for _, score, i in near:
        item = catalogue.items[i]
        if names and names & catalogue.surnames(i):
            return _found(catalogue, entry, i, score)
        if not names and score >= FUZZY_YEAR_ONLY and _year_agrees(entry, item):
            return _found(catalogue, entry, i, score)
    if near:
        _, score, i = near[0]
        return Outcome(
            entry.ref,
            "not_found",
            reason=f"closest title ({score:.0f}% alike, arXiv:{catalogue.items[i].arxiv_id}) not confirmed by authors",
        )
    return Outcome(entry.ref, "not_found", reason="no paper with this title in the catalogue")


def _found(catalogue: Catalogue, entry: LibraryEntry, i: int, score: float) -> Outcome:
    item = catalogue.items[i]
    return Outcome(entry.ref, "title", pk=item.pk, arxiv_id=item.arxiv_id, score=round(score, 1))


def match_one(catalogue: Catalogue, entry: LibraryEntry) -> Outcome:
    if entry.arxiv_id:
        i = catalogue.by_id.get(entry.arxiv_id)
        if i is None:
            return Outcome(entry.ref, "fetch", arxiv_id=entry.arxiv_id)
        return Outcome(entry.ref, "id", pk=catalogue.items[i].pk, arxiv_id=entry.arxiv_id, score=100.0)
    if entry.title:
        return _by_title(catalogue, entry)
    return Outcome(entry.ref, "not_found", reason="no title and no arXiv id")


def match(catalogue: Catalogue, entries: Sequence[LibraryEntry]) -> MatchResult:
    """Every entry's outcome, in file order; a second entry for the same paper is a duplicate."""
    result = MatchResult(entries=len(entries))
    seen: dict[object, str] = {}
    for entry in entries:
        outcome = match_one(catalogue, entry)
        target = outcome.pk if outcome.pk is not None else (outcome.arxiv_id or None)
        if target is not None and outcome.status != "not_found":
            if target in seen:
                outcome = Outcome(
                    entry.ref, "duplicate", pk=outcome.pk, arxiv_id=outcome.arxiv_id, reason=f"same as {seen[target]}"
                )
            else:
                seen[target] = entry.ref
        result.outcomes.append(outcome)
    return result
