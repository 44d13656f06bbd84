"""A subscriber's topics: the read side (selectors) and the write side (services) of ``Topic``.

A topic is one line of research ("RL theory"): its categories, include/exclude keywords and authors,
its personal <-> trending dial, and the votes cast under it. Every subscriber has at least one; the
one with the lowest position is the default (``topic_default``): what a profile's filters were before
topics, what the preferences, onboarding and ``/for-you/`` edit and show. A topic's filters have the
names a profile's had, so ranking code reads either the same way.

Deleting a topic deletes the votes cast under it (``Interaction.topic`` cascades) and never the last
topic. Votes cast under no topic (imports without one, every vote from before topics) are account-wide:
they count for every topic, and only the account-wide reset forgets them.
"""

from __future__ import annotations

import re

from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils.text import slugify

from ..models import TOPIC_DEFAULT_NAME, Interaction, InteractionKind, Paper, Topic

TOPIC_FILTERS = ("categories", "include_keywords", "exclude_keywords", "include_authors", "exclude_authors")
TOPIC_FIELDS = ("name", "trending_weight", *TOPIC_FILTERS)
MAX_TOPICS = 20  # each topic is one more fold-in row per ranking call: bounded like any per-user list
MAX_NAME_CHARS = 80
SLUG_FALLBACK = "topic"  # a name with nothing slugify keeps ("量子", "!!!")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class TopicError(ValueError):
    """A topic change that cannot be made; the message is shown to the reader as it is."""


# --- selectors --------------------------------------------------------------------------------


def topics_of(*, user) -> list[Topic]:
    """The user's topics, default first."""
    return list(Topic.objects.filter(user=user).order_by("position", "id"))


def topic_default(*, user) -> Topic | None:
    """The user's default topic (lowest position, then oldest); None only for a user without a profile yet."""
    return Topic.objects.filter(user=user).order_by("position", "id").first()


def topic_by_slug(*, user, slug: str) -> Topic | None:
    return Topic.objects.filter(user=user, slug=slug).first()


def topic_named(*, user, name: str) -> Topic | None:
    """The user's topic called ``name`` (any case) or with that slug, e.g. for ``import_library --topic``."""
    name = " ".join((name or "").split())
    return Topic.objects.filter(user=user).filter(Q(name__iexact=name) | Q(slug=name)).first() if name else None


def topic_of_user(*, user, topic_id) -> Topic | None:
    """The topic ``topic_id`` if it is one of ``user``'s, else None (a posted id is never trusted)."""
    try:
        pk = int(topic_id)
    except (TypeError, ValueError):
        return None
    if not getattr(user, "is_authenticated", False):
        return None
    return Topic.objects.filter(user=user, pk=pk).first()


def topics_for_users(*, user_ids) -> dict[int, list[Topic]]:
    """user id -> their topics, default first (one query); users without a topic are absent."""
    out: dict[int, list[Topic]] = {}
    for topic in Topic.objects.filter(user_id__in=list(user_ids)).order_by("user_id", "position", "id"):
        out.setdefault(topic.user_id, []).append(topic)
    return out


def topics_default_for_users(*, user_ids) -> dict[int, Topic]:
    """user id -> their default topic (one query)."""
    return {uid: topics[0] for uid, topics in topics_for_users(user_ids=user_ids).items()}


# --- services ---------------------------------------------------------------------------------


def _clean_name(name: str) -> str:
    name = " ".join(_CONTROL_RE.sub(" ", name or "").split())
    if not name:
        raise TopicError("A topic needs a name.")
    if len(name) > MAX_NAME_CHARS:
        raise TopicError(f"A topic name has at most {MAX_NAME_CHARS} characters.")
    return name


def _name_taken(*, user, name: str, exclude_pk: int | None = None) -> bool:
    return Topic.objects.filter(user=user, name__iexact=name).exclude(pk=exclude_pk).exists()


def _free_slug(*, user, name: str) -> str:
    base = slugify(name)[:MAX_NAME_CHARS].strip("-") or SLUG_FALLBACK
    taken = set(Topic.objects.filter(user=user, slug__startswith=base).values_list("slug", flat=True))
    slug, n = base, 1
    while slug in taken:
        n += 1
        suffix = f"-{n}"
        slug = base[: MAX_NAME_CHARS - len(suffix)] + suffix
    return slug


def _clean_weight(value) -> float:
    try:
        weight = float(value)
    except (TypeError, ValueError) as exc:
        raise TopicError("The personal / trending dial takes a number from 0 to 1.") from exc
    if not 0.0 <= weight <= 1.0:
        raise TopicError("The personal / trending dial takes a number from 0 to 1.")
    return weight


def _filters(fields: dict) -> dict:
    unknown = set(fields) - set(TOPIC_FIELDS)
    if unknown:
        raise TypeError(f"not topic fields: {sorted(unknown)}")
    out = {name: list(fields[name] or []) for name in TOPIC_FILTERS if name in fields}
    if "trending_weight" in fields:
        out["trending_weight"] = _clean_weight(fields["trending_weight"])
    return out


@transaction.atomic
def topic_create(*, user, name: str, **fields) -> Topic:
    """Add a topic after the user's others (filters and dial from ``fields``); its slug comes from the name."""
    name = _clean_name(name)
    values = _filters(fields)
    # The user's topics, locked: two creations at once cannot both pass the limit.
    positions = list(Topic.objects.select_for_update().filter(user=user).values_list("position", flat=True))
    if len(positions) >= MAX_TOPICS:
        raise TopicError(f"At most {MAX_TOPICS} topics per account.")
    if _name_taken(user=user, name=name):
        raise TopicError(f"You already have a topic called “{name}”.")
    position = max(positions) + 1 if positions else 0
    try:
        with transaction.atomic():
            return Topic.objects.create(
                user=user, name=name, slug=_free_slug(user=user, name=name), position=position, **values
            )
    except IntegrityError as exc:  # a concurrent request created the same name first
        raise TopicError(f"You already have a topic called “{name}”.") from exc


def topic_default_ensure(*, user) -> Topic:
    """The user's default topic, created ("General", no filters) if they have none."""
    topic = topic_default(user=user)
    if topic is not None:
        return topic
    try:
        with transaction.atomic():
            return Topic.objects.create(user=user, name=TOPIC_DEFAULT_NAME, slug=slugify(TOPIC_DEFAULT_NAME))
    except IntegrityError:  # created concurrently
        return topic_default(user=user)


def topics_default_create(*, users) -> list[Topic]:
    """Bulk: a default topic for each of ``users`` (new accounts made with ``bulk_create``), with no filters.

    ``users`` may also be (user, filters) pairs: the demo seeding gives each reader their interests.
    """
    rows = []
    for entry in users:
        user, filters = entry if isinstance(entry, tuple) else (entry, {})
        rows.append(
            Topic(user=user, name=TOPIC_DEFAULT_NAME, slug=slugify(TOPIC_DEFAULT_NAME), position=0, **_filters(filters))
        )
    return Topic.objects.bulk_create(rows, batch_size=2000)


@transaction.atomic
def topic_update(*, topic: Topic, **fields) -> Topic:
    """Rename a topic or change its filters or dial; the slug (its URLs) stays what it was."""
    values = _filters(fields)
    if "name" in fields:
        name = _clean_name(fields["name"])
        if _name_taken(user=topic.user_id, name=name, exclude_pk=topic.pk):
            raise TopicError(f"You already have a topic called “{name}”.")
        values["name"] = name
    for name, value in values.items():
        setattr(topic, name, value)
    try:
        with transaction.atomic():
            topic.save(update_fields=list(values) or None)
    except IntegrityError as exc:
        raise TopicError(f"You already have a topic called “{values.get('name', topic.name)}”.") from exc
    return topic


def _forget_votes(votes) -> int:
    """Delete ``votes`` (an Interaction queryset), keeping ``Paper.local_upvotes`` in step."""
    upvoted = list(votes.filter(kind=InteractionKind.UPVOTE).values_list("paper_id", flat=True))
    deleted, _ = votes.delete()
    if upvoted:
        Paper.objects.filter(pk__in=upvoted).local_upvotes_withdrawn()
    return deleted


@transaction.atomic
def topic_reset(*, topic: Topic) -> int:
    """Forget the votes cast under ``topic`` (account-wide ones stay: they are every topic's); return how many."""
    return _forget_votes(Interaction.objects.filter(topic=topic))


@transaction.atomic
def topic_delete(*, topic: Topic) -> int:
    """Delete ``topic`` and the votes cast under it; refuse the user's last topic. Return the votes deleted."""
    others = Topic.objects.select_for_update().filter(user_id=topic.user_id).exclude(pk=topic.pk)
    if not others.exists():
        raise TopicError("This is your only topic: an account always keeps one.")
    deleted = _forget_votes(Interaction.objects.filter(topic=topic))
    topic.delete()
    return deleted


def topic_vote_counts(*, user) -> dict[int, int]:
    """topic id -> how many of ``user``'s interactions were cast under it (what deleting it forgets)."""
    rows = (
        Interaction.objects.filter(user=user, topic__isnull=False)
        .values("topic_id")
        .annotate(n=Count("pk"))
        .values_list("topic_id", "n")
    )
    return dict(rows)
