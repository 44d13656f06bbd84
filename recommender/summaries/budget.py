"""The daily LLM token budget: reserve before a request, settle after, in ``LLMUsage`` rows.

A request first *reserves* its worst case (estimated prompt + ``max_tokens``)
with one conditional ``UPDATE ... SET tokens = tokens + n WHERE tokens + n <=
budget``; concurrent workers therefore can never overshoot together, and a
spent budget stops calls before they are made. After the response the
reservation is corrected to the usage the server reported (or released when
nothing was generated). All arithmetic is done by the database with ``F()``.
Days are UTC.

Translated abstracts (``KIND_ABSTRACT``) are the dearest requests and a
reader's choice, so the admin shows their cost apart: the same statements also
count them in the row's ``abstract_*`` columns. Counters on the one row per day,
not a row per kind, because the budget is one total: a conditional UPDATE of a
single row is what keeps concurrent workers from overshooting it together, and a
sum over several rows could not be checked and raised in one statement.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.utils import timezone

from ..models import LLMUsage

logger = logging.getLogger(__name__)


def _today() -> dt.date:
    return timezone.now().astimezone(dt.UTC).date()


KIND_DEFAULT = ""  # TL;DRs, title and TL;DR translations
KIND_ABSTRACT = "abstract"  # translated abstracts, also counted apart
_KIND_COLUMNS = {KIND_ABSTRACT: ("abstract_requests", "abstract_prompt_tokens", "abstract_completion_tokens")}


def _counted(kind: str, *, requests: int, prompt_tokens, completion_tokens) -> dict:
    """The ``update()`` keywords that add to the day's totals (and to ``kind``'s own columns, if it has any)."""
    changes = {
        "prompt_tokens": F("prompt_tokens") + prompt_tokens,
        "completion_tokens": F("completion_tokens") + completion_tokens,
    }
    if requests:
        changes["requests"] = F("requests") + requests
    columns = _KIND_COLUMNS.get(kind)
    if columns:
        if requests:
            changes[columns[0]] = F(columns[0]) + requests
        changes[columns[1]] = F(columns[1]) + prompt_tokens
        changes[columns[2]] = F(columns[2]) + completion_tokens
    return changes


def daily_budget() -> int:
    return int(getattr(settings, "LLM_DAILY_TOKEN_BUDGET", 200_000))


def _row(day: dt.date) -> None:
    if not LLMUsage.objects.filter(day=day).exists():
        try:
            with transaction.atomic():
                LLMUsage.objects.create(day=day)
        except IntegrityError:  # another worker created it first
            pass


def budget_reserve(*, prompt_tokens: int, completion_tokens: int, kind: str = KIND_DEFAULT) -> dt.date | None:
    """Reserve tokens for one request: the day charged, or None (nothing written) when over budget."""
    day = _today()
    _row(day)
    need = prompt_tokens + completion_tokens
    won = LLMUsage.objects.filter(
        day=day, prompt_tokens__lte=Value(daily_budget() - need) - F("completion_tokens")
    ).update(**_counted(kind, requests=1, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens))
    if not won:
        logger.warning("LLM daily token budget (%s) exhausted: no request made", daily_budget())
    return day if won else None


def budget_settle(
    *,
    day: dt.date,
    reserved_prompt: int,
    reserved_completion: int,
    prompt_tokens: int,
    completion_tokens: int,
    kind: str = KIND_DEFAULT,
) -> None:
    """Replace ``day``'s reservation by the tokens actually used (0 and 0 releases it)."""
    LLMUsage.objects.filter(day=day).update(
        **_counted(
            kind,
            requests=0,
            prompt_tokens=prompt_tokens - reserved_prompt,
            completion_tokens=completion_tokens - reserved_completion,
        )
    )


def usage_today() -> dict:
    """Today's requests and tokens (all of them, and those of translated abstracts), and what is left."""
    row = LLMUsage.objects.filter(day=_today()).first() or LLMUsage(day=_today())
    return {
        "requests": row.requests,
        "prompt_tokens": row.prompt_tokens,
        "completion_tokens": row.completion_tokens,
        "abstract_requests": row.abstract_requests,
        "abstract_tokens": row.abstract_prompt_tokens + row.abstract_completion_tokens,
        "budget": daily_budget(),
        "left": max(0, daily_budget() - row.prompt_tokens - row.completion_tokens),
    }
