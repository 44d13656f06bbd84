"""Paperboy's data model.

Papers (one row per arXiv id, all sources merged), subscribers' digest
preferences, interactions (the recommender's training signal), digest
deliveries (the exactly-once send log), ingest runs and model versions.

Models hold data and small derived properties only; writes go through the
``services`` modules and reads through ``selectors``.
"""

from __future__ import annotations

import re
import secrets

from django.conf import settings
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from . import paper_links


class AnnounceType(models.TextChoices):
    NEW = "new", "New"
    CROSS = "cross", "Cross-list"
    REPLACE = "replace", "Replacement"
    REPLACE_CROSS = "replace-cross", "Replacement (cross-list)"


SEARCH_CONFIG = "english"  # the text search configuration of Paper.search_vector and of every query on it


class PostgresOnly(models.Func):
    """``expression`` on PostgreSQL, NULL on any other database.

    Lets one ``GeneratedField`` hold PostgreSQL's tsvector while the schema
    stays portable: SQLite has no tsvector, and keyword search there reads
    an FTS5 table instead (recommender/papers/search.py).
    """

    def as_sql(self, compiler, connection, **extra_context):
        return "NULL", []

    def as_postgresql(self, compiler, connection, **extra_context):
        return compiler.compile(self.get_source_expressions()[0])


class PaperQuerySet(models.QuerySet):
    def in_category(self, category: str) -> PaperQuerySet:
        """Papers listed in ``category`` (primary or cross-list)."""
        return self.filter(categories__regex=rf"(^| ){re.escape(category)}( |$)")

    def in_any_category(self, categories: list[str]) -> PaperQuerySet:
        if not categories:
            return self
        pattern = "|".join(re.escape(c) for c in categories)
        return self.filter(categories__regex=rf"(^| )({pattern})( |$)")

    def local_upvotes_withdrawn(self) -> int:
        """Take one reader's upvote off each paper (their upvotes on these papers were just deleted)."""
        return self.filter(local_upvotes__gt=0).update(local_upvotes=models.F("local_upvotes") - 1)


class PaperManager(models.Manager.from_queryset(PaperQuerySet)):
    def get_queryset(self) -> PaperQuerySet:
        # The tsvector is for the database's own matching; fetched, it would add ~75% to a paper's row.
        return super().get_queryset().defer("search_vector")


class Paper(models.Model):
    """One arXiv paper, keyed by its id without version.

    Every source (RSS, export API, OAI-PMH, Hugging Face) merges into the
    same row; ``versions`` keeps the history of versions seen.
    """

    arxiv_id = models.CharField(max_length=40, unique=True, help_text="arXiv id without version, e.g. 2403.02233")
    version = models.PositiveSmallIntegerField(default=1)
    versions = models.JSONField(default=list, blank=True, help_text='[{"version": 1, "date": "2024-03-04"}, ...]')
    title = models.TextField()
    abstract = models.TextField(blank=True)
    authors = models.JSONField(default=list, blank=True, help_text="Ordered list of author names")
    primary_category = models.CharField(max_length=32, blank=True, db_index=True)
    # Space-separated, primary first (portable across SQLite and PostgreSQL;
    # filter with ``Paper.objects.in_category``).
    categories = models.CharField(max_length=512, blank=True)
    announce_type = models.CharField(max_length=16, choices=AnnounceType.choices, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True, help_text="Date of the latest version")
    announced_on = models.DateField(null=True, blank=True, db_index=True)
    comments = models.TextField(blank=True)
    doi = models.CharField(max_length=255, blank=True)
    journal_ref = models.TextField(blank=True)
    license = models.CharField(max_length=255, blank=True)
    sources = models.JSONField(default=list, blank=True, help_text="Sources that reported this paper")
    # Hugging Face daily papers
    hf_upvotes = models.IntegerField(default=0, help_text="Community upvotes on Hugging Face")
    hf_comments = models.IntegerField(default=0)
    hf_published_on = models.DateField(null=True, blank=True)
    ai_summary = models.TextField(blank=True)
    ai_keywords = models.JSONField(default=list, blank=True)
    github_repo = models.URLField(max_length=500, blank=True)
    github_stars = models.IntegerField(null=True, blank=True)
    # Derived
    tldr = models.TextField(blank=True, help_text="One-sentence extractive summary")
    # Who wrote ``tldr`` ("extractive" or "llm"; empty: extractive, at ingestion) and, for
    # the LLM, which model and for which abstract (a hash), so it is made once per abstract.
    tldr_backend = models.CharField(max_length=32, blank=True)
    tldr_model = models.CharField(max_length=128, blank=True)
    tldr_source_hash = models.CharField(max_length=32, blank=True)
    local_upvotes = models.IntegerField(default=0, help_text="Upvotes by Paperboy users (denormalised)")
    # A reader who put the paper in front of the community ("submitted by", recommender/papers/submit.py).
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="submitted_papers"
    )
    community_submitted_at = models.DateTimeField(null=True, blank=True)
    trending_score = models.FloatField(default=0.0, db_index=True, help_text="See recommender/papers/trending.py")
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)
    # Keyword search on PostgreSQL: title weighted A, abstract B, stored, GIN-indexed by the migration
    # paper_search_vector (on PostgreSQL only: a GinIndex in Meta would break SQLite). NULL elsewhere.
    # The default manager defers it: no page needs it, and it is ~40% of a row.
    search_vector = models.GeneratedField(
        expression=PostgresOnly(
            SearchVector("title", config=SEARCH_CONFIG, weight="A")
            + SearchVector("abstract", config=SEARCH_CONFIG, weight="B")
        ),
        output_field=SearchVectorField(null=True),
        db_persist=True,
    )

    objects = PaperManager()

    class Meta:
        ordering = ["-announced_on", "-id"]
        indexes = [
            models.Index(fields=["-announced_on", "-id"], name="paper_announced_idx"),
            models.Index(fields=["-hf_published_on"], name="paper_hf_published_idx"),
            # Lets the semantic search index notice a changed archive cheaply (recommender/papers/search.py).
            models.Index(fields=["modified_at"], name="recommender_paper_modified_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.arxiv_id}: {self.title[:80]}"

    @property
    def category_list(self) -> list[str]:
        return self.categories.split()

    @property
    def abs_url(self) -> str:
        return f"https://arxiv.org/abs/{self.arxiv_id}"

    @property
    def pdf_url(self) -> str:
        return f"https://arxiv.org/pdf/{self.arxiv_id}"

    @property
    def hf_url(self) -> str:
        return f"https://huggingface.co/papers/{self.arxiv_id}" if "hf-daily" in (self.sources or []) else ""

    @property
    def code_url(self) -> str:
        """The code link shown on the page and in the email and followed by the click redirect ("" if none)."""
        return paper_links.code_url(self.github_repo)

    @property
    def upvotes(self) -> int:
        return self.hf_upvotes + self.local_upvotes


class PaperTranslation(models.Model):
    """A paper's title and TL;DR in one language, made once and cached."""

    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="translations")
    language = models.CharField(max_length=16)
    title = models.TextField()
    tldr = models.TextField(blank=True)
    backend = models.CharField(max_length=64)
    model = models.CharField(max_length=128, blank=True)
    # Hash of the English title and TL;DR translated: a changed source makes the row stale.
    source_hash = models.CharField(max_length=32, blank=True)
    # The abstract as the digest shows it, translated: made only for papers a reader who asked for translated
    # abstracts gets in full (``Profile.translate_abstract``). Its own source hash (of that English abstract):
    # set with an empty ``abstract`` when the model's reply was rejected, so it is not asked again.
    abstract = models.TextField(blank=True)
    abstract_source_hash = models.CharField(max_length=32, blank=True)
    abstract_model = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["paper", "language"], name="uniq_translation_paper_language")]


class LLMUsage(models.Model):
    """Tokens spent per day on the LLM backend, to enforce the daily budget."""

    day = models.DateField(unique=True)
    requests = models.IntegerField(default=0)
    prompt_tokens = models.IntegerField(default=0)
    completion_tokens = models.IntegerField(default=0)
    # Of the above, what translated abstracts took (counted in the same UPDATE: one row keeps the budget atomic).
    abstract_requests = models.IntegerField(default=0, verbose_name="translated abstracts: requests")
    abstract_prompt_tokens = models.IntegerField(default=0)
    abstract_completion_tokens = models.IntegerField(default=0)

    class Meta:
        verbose_name = "LLM usage"
        verbose_name_plural = "LLM usage"


class Frequency(models.TextChoices):
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    OFF = "off", "Off"


class Suppression(models.TextChoices):
    NONE = "", "Not suppressed"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    BOUNCED = "bounced", "Bounced"
    COMPLAINED = "complained", "Complained (spam report)"


class EmptyDay(models.TextChoices):
    """What a subscriber gets on a day with nothing new for them (issue 16)."""

    NOTHING = "nothing", "Send nothing"
    NOTE = "note", 'Send a short "nothing new today" note'


def _new_token() -> str:
    return secrets.token_urlsafe(24)


class Profile(models.Model):
    """A subscriber: digest preferences and subscription state for one user."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    confirmed_at = models.DateTimeField(null=True, blank=True, help_text="When the email address was confirmed")
    onboarded_at = models.DateTimeField(null=True, blank=True)
    frequency = models.CharField(max_length=8, choices=Frequency.choices, default=Frequency.DAILY)
    weekday = models.PositiveSmallIntegerField(default=0, help_text="For weekly digests: 0=Monday ... 6=Sunday")
    send_time = models.TimeField(default="08:00", help_text="Local time of day to send")
    time_zone = models.CharField(max_length=64, default="UTC", help_text="IANA time zone, e.g. Europe/Paris")
    papers_per_email = models.PositiveSmallIntegerField(default=10)
    # What to read (categories, keywords, authors) lives on the subscriber's topics (``Topic``).
    language = models.CharField(max_length=16, default="en", help_text="Digest language (second language if not en)")
    translate_abstract = models.BooleanField(
        default=False, help_text="Second language: also the abstracts of the papers shown in full, machine-translated"
    )
    # Several topics: one email per topic (each its own delivery, ``digest/sections.py``) instead of one with sections.
    email_per_topic = models.BooleanField(
        default=False, help_text="With several topics: one email per topic instead of one email with a section each"
    )
    suppression = models.CharField(max_length=16, choices=Suppression.choices, default=Suppression.NONE, blank=True)
    suppression_reason = models.TextField(blank=True)
    suppressed_at = models.DateTimeField(null=True, blank=True)
    # Precomputed next send moment (UTC) so the beat tick is one indexed query.
    next_digest_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # A pause (recommender/subscriptions/pause.py): no digest from ``paused_from`` until the instant
    # ``paused_until`` (local midnight of the day it comes back); then it resumes by itself.
    paused_from = models.DateTimeField(null=True, blank=True)
    paused_until = models.DateTimeField(null=True, blank=True)
    empty_day = models.CharField(max_length=8, choices=EmptyDay.choices, default=EmptyDay.NOTHING)
    feed_token = models.CharField(max_length=64, unique=True, default=_new_token)
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    class Meta:
        # What operators call them (the admin lists them as "Subscribers").
        verbose_name = "subscriber"
        verbose_name_plural = "subscribers"
        # Reading a subscriber's digest is more than viewing the profile (docs/reliability.md, previews).
        permissions = [("preview_digest", "Can preview a subscriber's digest (links inert)")]

    def __str__(self) -> str:
        return f"Profile<{self.user}>"

    @property
    def is_confirmed(self) -> bool:
        return self.confirmed_at is not None

    @property
    def is_sendable(self) -> bool:
        return (
            self.is_confirmed
            and self.user.is_active
            and self.frequency != Frequency.OFF
            and self.suppression == Suppression.NONE
        )


TOPIC_DEFAULT_NAME = "General"
TOPIC_TRENDING_WEIGHT_DEFAULT = 0.5
"""The personal <-> trending dial of a new topic: the blend exactly as it ranked before topics existed.

0 is "only my taste", 1 "what the community upvotes"; serving maps the dial onto the blend's prior weight
so that this middle value gives today's weight (recommender/serving, docs/recommender.md).
"""


class Topic(models.Model):
    """One line of research of a subscriber ("RL theory"): its own filters, its own votes, its own feed.

    A subscriber always has at least one; the one with the lowest ``position`` is the default (listed first,
    ``/for-you/``, the preferences' "what to read"). The five filters are those a profile had before topics,
    with the same names and meaning, so ranking code reads a topic as it read a profile.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="topics")
    name = models.CharField(max_length=80)
    # Made from the name at creation and kept on rename: the topic's URLs (For you, its feed) never change.
    slug = models.SlugField(max_length=80)
    position = models.PositiveSmallIntegerField(default=0, help_text="Lowest first; the lowest is the default topic")
    categories = models.JSONField(default=list, blank=True, help_text='e.g. ["cs.LG", "cs.CL"]')
    include_keywords = models.JSONField(default=list, blank=True)
    exclude_keywords = models.JSONField(default=list, blank=True)
    include_authors = models.JSONField(default=list, blank=True)
    exclude_authors = models.JSONField(default=list, blank=True)
    trending_weight = models.FloatField(
        default=TOPIC_TRENDING_WEIGHT_DEFAULT,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="0 = only my taste ... 1 = what the community upvotes",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["user", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "slug"], name="uniq_topic_user_slug"),
            models.UniqueConstraint(fields=["user", "name"], name="uniq_topic_user_name"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.name}"


class InteractionKind(models.TextChoices):
    UPVOTE = "upvote", "Upvote"
    THUMBS_UP = "thumbs_up", "Thumbs up"
    THUMBS_DOWN = "thumbs_down", "Thumbs down"
    NOT_INTERESTED = "not_interested", "Not interested"
    SAVE = "save", "Save"
    CLICK = "click", "Click"


class InteractionSource(models.TextChoices):
    WEB = "web", "Web"
    EMAIL = "email", "Email"
    ONBOARDING = "onboarding", "Onboarding"
    IMPORT = "import", "Library import"  # recommender/library: BibTeX, RIS, CSV, ids, "my own papers"


class Interaction(models.Model):
    """One user's signal about one paper: the recommender's training data."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="interactions")
    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="interactions")
    kind = models.CharField(max_length=16, choices=InteractionKind.choices)
    source = models.CharField(max_length=16, choices=InteractionSource.choices, default=InteractionSource.WEB)
    # The topic the vote was cast under; NULL: account-wide (counts for every topic: imports without a
    # topic, every vote from before topics). One row per (user, paper, kind): cast again under another
    # topic, it moves there.
    topic = models.ForeignKey(Topic, null=True, blank=True, on_delete=models.CASCADE, related_name="interactions")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "paper", "kind"], name="uniq_interaction_user_paper_kind")
        ]
        indexes = [
            models.Index(fields=["paper", "kind"], name="interaction_paper_kind_idx"),
            models.Index(fields=["kind", "source", "created_at"], name="interaction_kind_source_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind} {self.paper_id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    SKIPPED = "skipped", "Skipped"
    FAILED = "failed", "Failed"


class DigestDelivery(models.Model):
    """One digest for one user and one period: claimed before sending, so never sent twice.

    What it lists is its ``DeliveredPaper`` rows (``delivered``), nothing on the row itself.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="deliveries")
    period_key = models.CharField(max_length=32, help_text="2026-11-22 (daily) or 2026-W47 (weekly)")
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    language = models.CharField(max_length=16, default="en")
    subject = models.CharField(max_length=300, blank=True)
    message_id = models.CharField(max_length=255, blank=True, db_index=True)
    error = models.TextField(blank=True)
    skip_reason = models.CharField(max_length=255, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    planned_at = models.DateTimeField(
        null=True, blank=True, help_text="When the plan phase stored this digest's selection"
    )
    modified_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "digest deliveries"
        constraints = [
            models.UniqueConstraint(fields=["user", "period_key"], name="uniq_delivery_user_period"),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="delivery_status_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.period_key} {self.status}"


class DeliveredSection(models.TextChoices):
    PAPERS = "papers", "For you"
    TRENDING = "trending", "Trending"


class DeliveredPaper(models.Model):
    """One paper of one planned digest: the plan phase writes these, the send phase and every reader use them.

    ``user`` repeats ``delivery.user`` so that "was this paper ever sent to this user" is one index probe on
    (user, paper) instead of loading every delivery the user ever had.
    """

    # The plan phase writes ~13 rows per digest (1.3M for 100k subscribers), so each index and foreign-key
    # check is paid 1.3M times. No single-column index on ``delivery`` or ``user``: the unique (delivery,
    # paper) and the (user, paper) index lead with them. No database constraint on ``user`` (a copy of
    # ``delivery.user``, whose constraint already holds) nor on ``topic`` (nullable, set NULL when the topic
    # goes): deleting either is still cascaded by Django's collector. Measured: these four checks and two
    # indexes were about half of PostgreSQL's CPU for the plan phase at 100k subscribers.
    delivery = models.ForeignKey(DigestDelivery, on_delete=models.CASCADE, related_name="delivered", db_index=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="+")
    section = models.CharField(max_length=16, choices=DeliveredSection.choices, default=DeliveredSection.PAPERS)
    rank = models.PositiveSmallIntegerField(help_text="Position within the section, 1 first")
    reason = models.TextField(blank=True)
    # The topic the paper was picked for (NULL: before topics, or the topic was deleted since).
    topic = models.ForeignKey(
        Topic, null=True, blank=True, on_delete=models.SET_NULL, related_name="delivered", db_constraint=False
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["delivery", "section", "rank"], name="uniq_delivered_section_rank"),
            models.UniqueConstraint(fields=["delivery", "paper"], name="uniq_delivered_paper"),
        ]
        indexes = [models.Index(fields=["user", "paper"], name="delivered_user_paper_idx")]

    def __str__(self) -> str:
        return f"{self.delivery_id} {self.section} #{self.rank} {self.paper_id}"


class PaperUpdateKind(models.TextChoices):
    VERSION = "version", "New arXiv version"
    CODE = "code", "Code repository"
    UPVOTES = "upvotes", "Community upvotes"


class PaperUpdate(models.Model):
    """One follow-up event on a paper a reader saved or upvoted, reported once in one digest.

    ``key`` names the event ("v2", the repository URL, the upvote step): the unique
    (user, paper, kind, key) makes a second report of the same event impossible.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=PaperUpdateKind.choices)
    key = models.CharField(max_length=255)
    text = models.TextField(blank=True)
    delivery = models.ForeignKey(DigestDelivery, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "paper", "kind", "key"], name="uniq_paper_update_event"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.paper_id} {self.kind} {self.key}"


class PaperFollow(models.Model):
    """What a reader last knew of a paper they saved or upvoted, and whether they stopped its updates.

    Written the first time the digest looks at the pair (the baseline: nothing before it is news) and
    moved on with every event reported; ``stopped_at`` is the email's "stop updates on this paper".
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="+")
    version = models.PositiveSmallIntegerField(default=1)
    upvotes = models.IntegerField(default=0)
    github_repo = models.URLField(max_length=500, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "paper"], name="uniq_paper_follow")]

    def __str__(self) -> str:
        return f"{self.user_id} follows {self.paper_id}"


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class IngestRun(models.Model):
    """One ingestion of one source: what was asked, what changed, or why it failed."""

    source = models.CharField(max_length=16, db_index=True)
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.RUNNING)
    entries = models.IntegerField(default=0)
    created = models.IntegerField(default=0)
    updated = models.IntegerField(default=0)
    unchanged = models.IntegerField(default=0)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.source} {self.status} {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def duration_s(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class FeedState(models.Model):
    """Conditional-GET validators per fetched URL (ETag / Last-Modified)."""

    url = models.URLField(max_length=1000, unique=True)
    etag = models.CharField(max_length=255, blank=True)
    last_modified = models.CharField(max_length=64, blank=True)
    fetched_at = models.DateTimeField(null=True, blank=True)


class ModelStatus(models.TextChoices):
    TRAINING = "training", "Training"
    READY = "ready", "Ready"
    REJECTED = "rejected", "Rejected (worse than active)"
    FAILED = "failed", "Failed"


class ModelVersion(models.Model):
    """A trained recommender: metrics, data size and the artifact itself.

    The artifact lives in the database (not on a local disk) so that any
    worker on any machine can serve it.
    """

    status = models.CharField(max_length=16, choices=ModelStatus.choices, default=ModelStatus.TRAINING)
    is_active = models.BooleanField(default=False, db_index=True)
    params = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    n_users = models.IntegerField(default=0)
    n_items = models.IntegerField(default=0)
    n_interactions = models.IntegerField(default=0)
    train_seconds = models.FloatField(null=True, blank=True)
    artifact = models.BinaryField(null=True, blank=True, editable=False)
    artifact_size = models.IntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=models.Q(is_active=True), name="uniq_active_model_version"
            )
        ]

    def __str__(self) -> str:
        return f"Model v{self.pk} ({self.status}{', active' if self.is_active else ''})"
