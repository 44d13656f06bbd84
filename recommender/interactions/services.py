"""Write side for interactions: votes, feedback and clicks, with undo.

Thumbs up and thumbs down are mutually exclusive (the latest wins); so are
"save"/"upvote" and "not interested". ``Paper.local_upvotes`` is kept in
step with upvotes so listings need no aggregate query.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from ..models import Interaction, InteractionKind, InteractionSource, Paper, Topic

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
def interaction_record(
    *, user, paper: Paper, kind: str, source: str = InteractionSource.WEB, topic: Topic | None = None
) -> Interaction:
    """Record that ``user`` did ``kind`` on ``paper`` under ``topic``; idempotent per (user, paper, kind).

    ``topic``: the topic the paper was shown under (None: account-wide, it counts for every topic). A topic
    that is not ``user``'s own is ignored. One row per (user, paper, kind): cast again under another topic,
    the vote moves there (the latest topic decides); cast again with no topic (an email link, a re-import),
    it stays where it was.
    """
    if kind not in K.values:
        raise ValueError(f"unknown interaction kind {kind!r}")
    if topic is not None and topic.user_id != user.pk:
        topic = None
    for opposite in OPPOSITES[kind]:
        interaction_undo(user=user, paper=paper, kind=opposite)
    existing = Interaction.objects.filter(user=user, paper=paper, kind=kind).first()
    if existing is not None:
        return _moved(existing, topic)
    try:
        with transaction.atomic():
            interaction = Interaction.objects.create(
                user=user, paper=paper, kind=kind, source=source, topic=topic, created_at=timezone.now()
            )
    except IntegrityError:  # a concurrent request recorded it first
        return _moved(Interaction.objects.get(user=user, paper=paper, kind=kind), topic)
    if kind == K.UPVOTE:
        Paper.objects.filter(pk=paper.pk).update(local_upvotes=F("local_upvotes") + 1)
    return interaction


def _moved(interaction: Interaction, topic: Topic | None) -> Interaction:
    if topic is not None and interaction.topic_id != topic.pk:
        interaction.topic = topic
        interaction.save(update_fields=["topic"])
    return interaction


@transaction.atomic
def interaction_undo(*, user, paper: Paper, kind: str) -> bool:
    """Remove ``user``'s ``kind`` on ``paper``; return whether there was one."""
    deleted, _ = Interaction.objects.filter(user=user, paper=paper, kind=kind).delete()
    if deleted and kind == K.UPVOTE:
        Paper.objects.filter(pk=paper.pk).local_upvotes_withdrawn()
    return bool(deleted)


@transaction.atomic
def interactions_reset(*, user) -> int:
    """Forget everything ``user`` told us, under every topic (reset my recommendations)."""
    upvoted = list(Interaction.objects.filter(user=user, kind=K.UPVOTE).values_list("paper_id", flat=True))
    deleted, _ = Interaction.objects.filter(user=user).delete()
    if upvoted:
        Paper.objects.filter(pk__in=upvoted).local_upvotes_withdrawn()
    return deleted
