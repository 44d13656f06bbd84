"""The plan phase: rank every digest that is due in bulk and store each selection as ``DeliveredPaper`` rows.

The beat tick (``tasks.digest_tick``, queue ``plan``) creates the deliveries
(``services.digest_plan``), then ``deliveries_plan`` takes every open delivery
whose selection is not stored yet, ``plan_chunk_size()`` at a time: one
``digest_batch_build`` per chunk (one ``recommend_for_topics`` call for all of
its subscribers' topics, one fold-in row per topic), ``digest_select`` for
each (its papers shared among its topics), and one transaction that writes
the rows, each with the topic it was picked for, and stamps ``planned_at``
(or records the skip). A reader who chose one email per topic gets the
digest cut into its sections: the first topic's on the delivery, one more
delivery per further topic, created planned (``period_key_for``). Send workers only
claim planned deliveries and read the rows back: they never rank.

Resumable and idempotent: "not planned" is ``planned_at IS NULL`` on an open
delivery, so a planner that crashed mid-way leaves the rest for the next tick,
and the transaction writes only for rows still unplanned when it locks them
(``select_for_update(skip_locked=True)``): planning a period again, or two
planners at once, change nothing that is already planned.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from ..models import DeliveredPaper, DeliveredSection, DeliveryStatus, DigestDelivery
from . import selectors
from .context import Selection, digest_batch_build, digest_select, emails_per_topic, selection_split
from .followups import followups_plan
from .notes import NOTE_REASONS, note_wanted
from .sections import period_key_for

logger = logging.getLogger(__name__)

SKIP_NOT_SENDABLE = "subscriber not sendable (unsubscribed)"
SKIP_NOTHING_LEFT = "none of the planned papers exists any more"


def plan_chunk_size() -> int:
    """Subscribers ranked per ``recommend_for_topics`` call: one row per topic, so a topics x candidates matrix
    (2,000 single-topic subscribers x 1,000 candidates ≈ 16 MB; the scorer works on it in blocks of rows)."""
    return max(1, int(settings.PAPERBOY["DIGEST_PLAN_CHUNK"]))  # its one default: digest_site/settings.py


@dataclass
class PlanResult:
    planned: list[int] = field(default_factory=list)  # user ids whose delivery now waits for a send task
    skipped: int = 0


def deliveries_plan(
    *,
    now: dt.datetime,
    delivery_ids: list[int] | None = None,
    user_ids: list[int] | None = None,
    on_planned: Callable[[list[int]], None] | None = None,
    interactive: bool = False,
) -> PlanResult:
    """Plan every open, unplanned delivery (or only those of ``delivery_ids`` / ``user_ids``), a chunk at a time.

    ``on_planned(user_ids)`` runs after each chunk's commit, so sending starts while later chunks are ranked.
    ``interactive``: planned inside a web request ("send now"), over the papers For you has prepared
    (``digest_batch_build``).
    """
    todo = selectors.deliveries_unplanned(now=now)
    if delivery_ids is not None:
        todo = todo.filter(pk__in=delivery_ids)
    if user_ids is not None:
        todo = todo.filter(user_id__in=user_ids)
    rows = list(todo.values_list("pk", "user_id"))
    result = PlanResult()
    size = plan_chunk_size()
    for start in range(0, len(rows), size):
        planned, skipped = _plan_chunk(rows[start : start + size], now=now, interactive=interactive)
        result.planned.extend(planned)
        result.skipped += skipped
        if on_planned is not None and planned:
            on_planned(planned)
    return result


def _select_all(
    chunk: list[tuple[int, int]], *, now: dt.datetime, interactive: bool = False
) -> dict[int, tuple[int, Selection, list]]:
    """delivery id -> (user id, selection, the topic emails after the first): the chunk ranked in one call, then
    each digest's rules; a reader who chose one email per topic has the first topic's email on this delivery and
    ``(topic id, selection)`` for each further one."""
    user_ids = sorted({uid for _, uid in chunk})
    batch = digest_batch_build(user_ids=user_ids, now=now, paper_rows=False, interactive=interactive)
    chosen = {}
    for pk, uid in chunk:
        profile = batch.profiles.get(uid)
        if profile is None or not profile.is_sendable:
            chosen[pk] = (uid, Selection(skip_reason=SKIP_NOT_SENDABLE), [])
            continue
        selection = digest_select(user_id=uid, batch=batch)
        if emails_per_topic(user_id=uid, batch=batch):
            (_, first), *others = selection_split(selection)
            chosen[pk] = (uid, first, others)
        else:
            chosen[pk] = (uid, selection, [])
    return chosen


def _topic_deliveries(wanted: list[tuple[int, str, int | None]], *, stamp) -> dict[tuple[int, str], int]:
    """Create the further topic emails' deliveries, planned (``(user id, period key, topic)`` each); key -> id.

    A key that exists already (the period was planned before) is left alone and not returned: exactly once per
    topic email, by the same unique (user, period key) as every digest.
    """
    if not wanted:
        return {}
    keys = {(uid, period_key_for(period, topic)) for uid, period, topic in wanted}
    taken = set(
        DigestDelivery.objects.filter(
            user_id__in={uid for uid, _ in keys}, period_key__in={key for _, key in keys}
        ).values_list("user_id", "period_key")
    )
    made = DigestDelivery.objects.bulk_create(
        [DigestDelivery(user_id=uid, period_key=key, planned_at=stamp) for uid, key in sorted(keys - taken)]
    )
    return {(d.user_id, d.period_key): d.pk for d in made}


def _plan_chunk(chunk: list[tuple[int, int]], *, now: dt.datetime, interactive: bool = False) -> tuple[list[int], int]:
    """Rank, then store the chunk's selections in one transaction; return (user ids to send, skipped count)."""
    chosen = _select_all(chunk, now=now, interactive=interactive)  # outside the transaction: no lock held
    with transaction.atomic():
        # Only rows nobody planned meanwhile (another planner, an earlier run of this tick): idempotent.
        mine = dict(
            DigestDelivery.objects.select_for_update(skip_locked=True)
            .filter(pk__in=list(chosen), planned_at__isnull=True)
            .values_list("pk", "period_key")
        )
        stamp = timezone.now()
        rows, planned, skips, notes = [], [], {}, {}
        noting = note_wanted(user_ids=[uid for uid, s, _ in chosen.values() if s.skip_reason in NOTE_REASONS])
        topic_emails = _topic_deliveries(
            [(chosen[pk][0], mine[pk], topic) for pk in mine for topic, _ in chosen[pk][2]], stamp=stamp
        )
        further = []  # the further topic emails: planned at creation, sent with the first
        for pk in sorted(mine):
            uid, selection, others = chosen[pk]
            for topic, part in others:
                extra = topic_emails.get((uid, period_key_for(mine[pk], topic)))
                if extra is not None:
                    further.append((extra, uid))
                    rows.extend(_rows(extra, uid, part))
            if selection.skip_reason in NOTE_REASONS and uid in noting:
                notes.setdefault(selection.skip_reason, []).append((pk, uid))  # the "nothing new" note is sent
                continue
            if selection.skip_reason:
                skips.setdefault(selection.skip_reason, []).append(pk)
                continue
            planned.append((pk, uid))
            rows.extend(_rows(pk, uid, selection))
        _insert(rows)
        followups_plan(deliveries=planned)  # "Updates on your papers", before any send task claims them
        planned.extend(further)  # the updates go in a reader's first email only
        DigestDelivery.objects.filter(pk__in=[pk for pk, _ in planned]).update(planned_at=stamp, modified_at=stamp)
        for reason, pks in skips.items():
            DigestDelivery.objects.filter(pk__in=pks).update(
                status=DeliveryStatus.SKIPPED, skip_reason=reason[:255], planned_at=stamp, modified_at=stamp
            )
        for reason, pairs in notes.items():  # planned without rows, the reason kept: the send phase sends the note
            DigestDelivery.objects.filter(pk__in=[pk for pk, _ in pairs]).update(
                skip_reason=reason[:255], planned_at=stamp, modified_at=stamp
            )
            planned.extend(pairs)
    # A user once, however many topic emails they get: one send task takes all their open deliveries.
    return list(dict.fromkeys(uid for _, uid in planned)), sum(len(p) for p in skips.values())


_COLUMNS = ("delivery_id", "user_id", "paper_id", "section", "rank", "reason", "topic_id")
PlanRow = tuple[int, int, int, str, int, str, int | None]  # one DeliveredPaper, in ``_COLUMNS`` order


def _insert(rows: list[PlanRow]) -> None:
    """Insert the plan rows: COPY on PostgreSQL, ``bulk_create`` elsewhere.

    Raw COPY because the ORM has no bulk load: ``bulk_create`` measured ~0.19 ms per row here (1.3 M rows for
    100k digests), most of it building and parsing multi-row INSERTs. Same transaction; COPY checks the
    table's constraints as INSERT does.
    The rows are plain tuples: a model instance per row (``Model.__init__`` and its init signals) was 8% of
    the plan phase's CPU at 100k subscribers.
    """
    if connection.vendor != "postgresql":
        DeliveredPaper.objects.bulk_create(
            [DeliveredPaper(**dict(zip(_COLUMNS, row, strict=True))) for row in rows], batch_size=5000
        )
        return
    sql = f"COPY {DeliveredPaper._meta.db_table} ({', '.join(_COLUMNS)}) FROM STDIN"
    # psycopg's documented Cursor.copy(); Django's cursor wrapper passes it through to psycopg.
    with connection.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def _rows(delivery_id: int, user_id: int, selection: Selection) -> list[PlanRow]:
    """The plan rows of one selection: For you by rank (topic sections in order) with each reason and the
    topic it was picked for, then Trending; a paper once."""
    topic_of = selection.topic_of()
    papers = DeliveredSection.PAPERS.value
    rows = [
        (delivery_id, user_id, paper_id, papers, rank, reason, topic_of[paper_id])
        for rank, (paper_id, reason) in enumerate(selection.papers, start=1)
    ]
    seen = {paper_id for paper_id, _ in selection.papers}
    trending = [pid for pid in selection.trending if pid not in seen]
    section = DeliveredSection.TRENDING.value
    rows.extend((delivery_id, user_id, pid, section, rank, "", None) for rank, pid in enumerate(trending, start=1))
    return rows
