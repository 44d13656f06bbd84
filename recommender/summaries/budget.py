"""The daily LLM token budget: reserve before a request, settle after, in ``LLMUsage`` rows.

A request first *reserves* its worst case (estimated prompt + ``max_tokens``)
with one conditional ``UPDATE ... SET tokens = tokens + n WHERE tokens + n <=
budget``; concurrent workers therefore can never overshoot together, and a
spent budget stops calls before they are made. After the response the
reservation is corrected to the usage the server reported (or released when
nothing was generated). All arithmetic is done by the database with ``F()``.
Days are UTC.
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


def daily_budget() -> int:
    return int(getattr(settings, "LLM_DAILY_TOKEN_BUDGET", 200_000))


def _row(day: dt.date) -> None:
    if not LLMUsage.objects.filter(day=day).exists():
        try:
            with transaction.atomic():
                LLMUsage.objects.create(day=day)
        except IntegrityError:  # another worker created it first
            pass


def budget_reserve(*, prompt_tokens: int, completion_tokens: int) -> dt.date | None:
    """Reserve tokens for one request: the day charged, or None (nothing written) when over budget."""
    day = _today()
    _row(day)
    need = prompt_tokens + completion_tokens
    won = LLMUsage.objects.filter(
        day=day, prompt_tokens__lte=Value(daily_budget() - need) - F("completion_tokens")
    ).update(
        requests=F("requests") + 1,
        prompt_tokens=F("prompt_tokens") + prompt_tokens,
        completion_tokens=F("completion_tokens") + completion_tokens,
    )
    if not won:
        logger.warning("LLM daily token budget (%s) exhausted: no request made", daily_budget())
    return day if won else None


def budget_settle(
    *, day: dt.date, reserved_prompt: int, reserved_completion: int, prompt_tokens: int, completion_tokens: int
) -> None:
    """Replace ``day``'s reservation by the tokens actually used (0 and 0 releases it)."""
    LLMUsage.objects.filter(day=day).update(
        prompt_tokens=F("prompt_tokens") + (prompt_tokens - reserved_prompt),
        completion_tokens=F("completion_tokens") + (completion_tokens - reserved_completion),
    )


def usage_today() -> dict:
    """Today's requests and tokens, and what is left of the budget."""
    row = LLMUsage.objects.filter(day=_today()).first()
    used = (row.prompt_tokens + row.completion_tokens) if row else 0
    return {
        "requests": row.requests if row else 0,
        "prompt_tokens": row.prompt_tokens if row else 0,
        "completion_tokens": row.completion_tokens if row else 0,
        "budget": daily_budget(),
        "left": max(0, daily_budget() - used),
    }
