"""Translated abstracts for the planned digests of the readers who chose them (``Profile.translate_abstract``).

The send phase never calls a model, so what a digest shows must be stored before its batch is sent. The tick
therefore sends the batches of these readers through ``tasks.digest_abstracts_then_send`` instead of straight
to ``digest_send_batch``: it reads their stored selections, asks ``summaries.services.abstracts_fill`` for
the abstracts of exactly the papers each digest shows in full (``detailed_papers(n, translated_abstracts=
True)`` of its n papers; never the summary rows nor Trending), and then enqueues the send. It waits at most
``ABSTRACT_WAIT_SECONDS`` for the model: what is not made by then is not shown (the English abstract is),
and every other reader's batch is sent without waiting at all.
"""

from __future__ import annotations

import time
from collections import defaultdict

from ..models import DeliveredPaper, DeliveredSection, Profile
from ..summaries import llm
from ..summaries.languages import ORIGINAL, SUPPORTED
from ..summaries.services import FillResult, abstracts_fill
from ..templatetags.digest_email import detailed_papers
from . import selectors

# How long a batch of these readers may wait for the model before it is sent anyway (the fill stops taking
# papers then; one request already under way still runs to its end or its LLM_TIMEOUT).
ABSTRACT_WAIT_SECONDS = 120.0


def readers_with_abstracts(*, user_ids: list[int]) -> set[int]:
    """Those of ``user_ids`` whose digest shows translated abstracts (none when no model is configured)."""
    if not user_ids or not llm.configured():
        return set()
    return set(
        Profile.objects.filter(user_id__in=user_ids, translate_abstract=True)
        .exclude(language=ORIGINAL)
        .filter(language__in=SUPPORTED)
        .values_list("user_id", flat=True)
    )


def abstracts_wanted(*, user_ids: list[int]) -> dict[str, list[int]]:
    """language -> paper ids whose translated abstract the open, planned digests of ``user_ids`` show.

    Two queries: the readers' languages, and the For you rows of their open deliveries.
    """
    languages = dict(
        Profile.objects.filter(user_id__in=user_ids, translate_abstract=True)
        .exclude(language=ORIGINAL)
        .values_list("user_id", "language")
    )
    rows: dict[int, list[tuple[int, int, int]]] = defaultdict(list)  # delivery -> (rank, paper, user)
    for delivery_id, user_id, rank, paper_id in DeliveredPaper.objects.filter(
        delivery__in=selectors.deliveries_open(user_ids=list(languages)), section=DeliveredSection.PAPERS
    ).values_list("delivery_id", "user_id", "rank", "paper_id"):
        rows[delivery_id].append((rank, paper_id, user_id))
    wanted: dict[str, dict[int, None]] = defaultdict(dict)  # ordered sets: the top papers first
    for picks in rows.values():
        picks.sort()
        shown = detailed_papers(len(picks), translated_abstracts=True)
        for _, paper_id, user_id in picks[:shown]:
            wanted[languages[user_id]][paper_id] = None
    return {language: list(ids) for language, ids in wanted.items() if language in SUPPORTED}


def digest_abstracts_fill(*, user_ids: list[int], started: float | None = None) -> FillResult:
    """Make the translated abstracts the planned digests of ``user_ids`` show, within the wait allowed.

    ``started``: the ``time.time()`` the batch was enqueued (a task that waited in the queue has less left).
    """
    wanted = abstracts_wanted(user_ids=user_ids)
    if not wanted:
        return FillResult()
    waited = max(0.0, time.time() - started) if started is not None else 0.0
    return abstracts_fill(wanted=wanted, deadline=time.monotonic() + max(0.0, ABSTRACT_WAIT_SECONDS - waited))
