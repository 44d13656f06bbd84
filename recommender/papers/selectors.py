"""Read side for the public site: listings by day and trend, paper look-ups, a user's marks.

Every listing is a bounded number of indexed queries: the papers of one page,
then one query for the signed-in user's interactions with exactly those
papers (``interactions_by_paper``). Nothing here writes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Max, Min, QuerySet

from ..models import Interaction, InteractionKind, Paper, PaperTranslation
from . import taxonomy

# Fields a listing card needs (the rest of a Paper row can be large).
CARD_FIELDS = (
    "id",
    "arxiv_id",
    "title",
    "abstract",
    "authors",
    "primary_category",
    "categories",
    "announced_on",
    "hf_upvotes",
    "local_upvotes",
    "sources",
    "github_repo",
    "trending_score",
    "tldr",
    "submitted_by",  # "submitted by <name>" (recommender/library/submit.py)
)

# Categories offered in forms besides the ingested ones: the common arXiv CS/stat ML neighbours.
COMMON_CATEGORIES = (
    "cs.AI",
    "cs.CL",
    "cs.CV",
    "cs.LG",
    "cs.IR",
    "cs.NE",
    "cs.RO",
    "cs.CR",
    "cs.DC",
    "cs.HC",
    "cs.SE",
    "stat.ML",
    "eess.AS",
    "eess.IV",
    "q-bio.NC",
)
CATEGORY_RE = re.compile(r"^[a-z][a-z\-]{0,15}(\.[A-Za-z][A-Za-z\-]{0,15})?$")


CATEGORY_COUNTS_SECONDS = 600  # popularity order changes slowly; one GROUP BY per ten minutes


def category_counts() -> dict[str, int]:
    """Papers per primary category in the catalogue (one indexed GROUP BY, cached)."""
    counts = cache.get("papers:category-counts")
    if counts is None:
        rows = Paper.objects.exclude(primary_category="").values_list("primary_category").annotate(n=Count("pk"))
        counts = {code: n for code, n in rows.order_by() if CATEGORY_RE.match(code)}
        cache.set("papers:category-counts", counts, CATEGORY_COUNTS_SECONDS)
    return counts


def category_choices() -> list[str]:
    """Categories users can pick: the ingested ones, common neighbours, and any the catalogue holds."""
    ingested = list(settings.PAPERBOY.get("INGEST_CATEGORIES", []))
    return list(dict.fromkeys([*ingested, *COMMON_CATEGORIES, *sorted(category_counts())]))


def category_groups() -> list[tuple[str, list[tuple[str, str]]]]:
    """``category_choices`` named and grouped by archive, most papers first (forms, filters)."""
    return taxonomy.grouped(category_choices(), category_counts())


def _cards(qs: QuerySet) -> QuerySet:
    # The submitter's name in the same query (a join; most papers have none).
    return qs.select_related("submitted_by").only(*CARD_FIELDS, "submitted_by__first_name", "submitted_by__last_name")


def latest_day() -> dt.date | None:
    return Paper.objects.aggregate(day=Max("announced_on"))["day"]


def day_neighbours(*, day: dt.date) -> tuple[dt.date | None, dt.date | None]:
    """The previous and next announcement days that have papers (two indexed look-ups)."""
    prev_day = Paper.objects.filter(announced_on__lt=day).aggregate(d=Max("announced_on"))["d"]
    next_day = Paper.objects.filter(announced_on__gt=day).aggregate(d=Min("announced_on"))["d"]
    return prev_day, next_day


def papers_announced_on(*, day: dt.date, category: str = "") -> QuerySet:
    """Papers announced on ``day``, most upvoted first (the HF daily page's order)."""
    qs = Paper.objects.filter(announced_on=day)
    if category:
        qs = qs.in_category(category)
    return _cards(qs).order_by("-hf_upvotes", "-local_upvotes", "-id")


def papers_trending(*, category: str = "") -> QuerySet:
    """Papers with a positive stored trending score, highest first."""
    qs = Paper.objects.filter(trending_score__gt=0)
    if category:
        qs = qs.in_category(category)
    return _cards(qs).order_by("-trending_score", "-id")


def papers_by_ids(*, ids: list[int]) -> list[Paper]:
    """Card rows for ``ids`` in the given order (ids that vanished are skipped)."""
    by_id = {p.id: p for p in _cards(Paper.objects.filter(pk__in=ids))}
    return [by_id[i] for i in ids if i in by_id]


def paper_get(*, arxiv_id: str) -> Paper | None:
    return Paper.objects.filter(arxiv_id=arxiv_id).first()


def paper_translation(*, paper: Paper, language: str) -> PaperTranslation | None:
    if not language or language == "en":
        return None
    return PaperTranslation.objects.filter(paper=paper, language=language).first()


def interactions_by_paper(*, user, paper_ids: list[int]) -> dict[int, set[str]]:
    """``{paper_id: {kind, ...}}`` for the user's marks on these papers, in one query."""
    if not user.is_authenticated or not paper_ids:
        return {}
    marks: dict[int, set[str]] = defaultdict(set)
    rows = Interaction.objects.filter(user=user, paper_id__in=paper_ids).exclude(kind=InteractionKind.CLICK)
    for pid, kind in rows.values_list("paper_id", "kind"):
        marks[pid].add(kind)
    return dict(marks)


def onboarding_suggestions(*, categories: list[str], n: int = 10) -> list[Paper]:
    """Popular and diverse papers to rate first: the top trending per chosen category, round-robin.

    Each category contributes its most trending papers in turn, so a user who
    picked three areas rates papers from all three; all-time HF upvotes break
    ties when little is trending (a fresh install).
    """
    pools: list[list[Paper]] = []
    for category in categories or [""]:
        qs = Paper.objects.all()
        if category:
            qs = qs.in_category(category)
        pools.append(list(_cards(qs).order_by("-trending_score", "-hf_upvotes", "-id")[:n]))
    picked: list[Paper] = []
    seen: set[int] = set()
    for rank in range(n):
        for pool in pools:
            if rank < len(pool) and pool[rank].id not in seen and len(picked) < n:
                picked.append(pool[rank])
                seen.add(pool[rank].id)
    if len(picked) < n:  # too few in the chosen categories: fill with the overall trend
        for p in _cards(Paper.objects.exclude(pk__in=seen)).order_by("-trending_score", "-hf_upvotes", "-id")[
            : n - len(picked)
        ]:
            picked.append(p)
    return picked


def ratings_export(*, user, topic=None) -> list[dict]:
    """The user's interactions, oldest first, as plain dicts (CSV/JSON export).

    ``topic``: only the ones cast under that topic. ``"topic"`` in each row names the topic a vote was
    cast under, "" for an account-wide one (it counts for every topic).
    """
    qs = Interaction.objects.filter(user=user) if topic is None else Interaction.objects.filter(user=user, topic=topic)
    rows = qs.order_by("created_at", "id").values_list(
        "created_at", "kind", "source", "topic__name", "paper__arxiv_id", "paper__title"
    )
    return [
        {"created_at": c.isoformat(), "kind": k, "source": s, "topic": tn or "", "arxiv_id": a, "title": t}
        for c, k, s, tn, a, t in rows
    ]
