"""Write side for interactions: votes, feedback and clicks, with undo.

Thumbs up and thumbs down are mutually exclusive (the latest wins); so are
"save"/"upvote" and "not interested". ``Paper.local_upvotes`` is kept in
step with upvotes so listings need no aggregate query.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from ..models import Interaction, InteractionKind, InteractionSource, Paper

K = InteractionKind

# Recording one of these removes the listed opposite kinds.
OPPOSITES: dict[str, tuple[str, ...]] = {
    K.THUMBS_UP: (K.THUMBS_DOWN, K.NOT_INTERESTED),
    K.THUMBS_DOWN: (K.THUMBS_UP,),
    K.NOT_INTERESTED: (K.THUMBS_UP, K.UPVOTE, K.SAVE),
    K.UPVOTE: (K.NOT_INTERESTED,),
    K.SAVE: (K.NOT_INTERESTED,),
    K.CLICK: (),
}


@transaction.atomic
def interaction_record(*, user, paper: Paper, kind: str, source: str = InteractionSource.WEB) -> Interaction:
    """Record that ``user`` did ``kind`` on ``paper``; idempotent per (user, paper, kind)."""
    if kind not in K.values:
        raise ValueError(f"unknown interaction kind {kind!r}")
    for opposite in OPPOSITES[kind]:
        interaction_undo(user=user, paper=paper, kind=opposite)
    existing = Interaction.objects.filter(user=user, paper=paper, kind=kind).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            interaction = Interaction.objects.create(
                user=user, paper=paper, kind=kind, source=source, created_at=timezone.now()
            )
    except IntegrityError:  # a concurrent request recorded it first
        return Interaction.objects.get(user=user, paper=paper, kind=kind)
    if kind == K.UPVOTE:
        Paper.objects.filter(pk=paper.pk).update(local_upvotes=F("local_upvotes") + 1)
    return interaction


@transaction.atomic
def interaction_undo(*, user, paper: Paper, kind: str) -> bool:
    """Remove ``user``'s ``kind`` on ``paper``; return whether there was one."""
    deleted, _ = Interaction.objects.filter(user=user, paper=paper, kind=kind).delete()
    if deleted and kind == K.UPVOTE:
        Paper.objects.filter(pk=paper.pk, local_upvotes__gt=0).update(local_upvotes=F("local_upvotes") - 1)
    return bool(deleted)


@transaction.atomic
def interactions_reset(*, user) -> int:
    """Forget everything ``user`` told us (reset my recommendations)."""
    upvoted = list(Interaction.objects.filter(user=user, kind=K.UPVOTE).values_list("paper_id", flat=True))
    deleted, _ = Interaction.objects.filter(user=user).delete()
    if upvoted:
        Paper.objects.filter(pk__in=upvoted, local_upvotes__gt=0).update(local_upvotes=F("local_upvotes") - 1)
    return deleted
