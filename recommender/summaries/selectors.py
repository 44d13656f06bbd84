"""Read side of summaries and translations: which languages are wanted, which rows exist.

The digest only ever *reads* ``PaperTranslation`` rows (``translations_for``):
it never calls a model, so a slow or absent LLM cannot delay an email.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Q
from django.utils import timezone

from ..models import Frequency, Paper, PaperTranslation, Profile, Suppression
from .languages import ORIGINAL, SUPPORTED

RECENT_DAYS = 3


def subscriber_languages() -> list[str]:
    """Second languages of subscribers who can receive a digest (supported codes, without English)."""
    codes = (
        Profile.objects.filter(confirmed_at__isnull=False, user__is_active=True, suppression=Suppression.NONE)
        .exclude(frequency=Frequency.OFF)
        .exclude(language=ORIGINAL)
        .values_list("language", flat=True)
        .distinct()
    )
    return sorted({c for c in codes if c in SUPPORTED and c != ORIGINAL})


def translations_for(*, paper_ids, language: str) -> dict[int, PaperTranslation]:
    """``{paper_id: translation}`` for the papers translated into ``language`` (one query)."""
    if not language or language == ORIGINAL:
        return {}
    rows = PaperTranslation.objects.filter(paper_id__in=list(paper_ids), language=language).exclude(title="")
    return {t.paper_id: t for t in rows}


def papers_to_fill(*, arxiv_ids: list[str] | None = None, paper_ids: list[int] | None = None, days: int = RECENT_DAYS):
    """Papers a fill should consider, most read first (so a budget runs out on the least read ones).

    Explicit ids win; otherwise the papers announced (or on Hugging Face) in the last ``days`` days.
    """
    qs = Paper.objects.all()
    if arxiv_ids is not None or paper_ids is not None:
        qs = qs.filter(Q(arxiv_id__in=arxiv_ids or []) | Q(pk__in=paper_ids or []))
    else:
        since = timezone.now().date() - dt.timedelta(days=days)
        qs = qs.filter(Q(announced_on__gte=since) | Q(hf_published_on__gte=since))
    return qs.only(
        "id", "arxiv_id", "title", "abstract", "tldr", "tldr_backend", "tldr_model", "tldr_source_hash"
    ).order_by("-trending_score", "-hf_upvotes", "-id")
