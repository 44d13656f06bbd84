"""Subscribers in the admin: confirmation, preferences, last digest, ratings, suppression, and what to do about them.

The list is one query per page: the last delivery and the number of
ratings are correlated subqueries (they use the ``(user, ...)`` indexes and
run only for the rows shown), not per-row lookups. Actions call the digest
and interaction services; the ones that send email or forget data show a
confirmation page first and are written to the admin log.

Secrets stay out of the admin: ``Profile.feed_token`` is never shown, and
the user page says only whether a password is set, never its hash.
"""

from __future__ import annotations

import logging

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, IntegerField, JSONField, OuterRef, Prefetch, Q, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from ..digest import tasks as digest_tasks
from ..digest.planning import deliveries_plan
from ..digest.services import batches, digest_preview, digest_send_batch
from ..interactions.services import interactions_reset
from ..models import (
    DeliveryStatus,
    DigestDelivery,
    Frequency,
    Interaction,
    InteractionKind,
    Profile,
    Suppression,
    Topic,
)
from ..subscriptions.services import profile_reschedule
from ..validators import json_without_nul
from .links import admin_change_url, admin_changelist_url, digest_preview_url
from .operations import OperatorActionsMixin, action_confirmation, action_confirmed, task_enqueue
from .services import delivery_reopen_for_now, digest_test_send, subscriber_deactivate

User = get_user_model()
logger = logging.getLogger(__name__)

# Up to this many digests are sent during the admin request, so the operator
# sees the outcome at once; larger selections go to the send queue.
SEND_INLINE_MAX = 20


def last_delivery_subquery(field: str) -> Subquery:
    latest = DigestDelivery.objects.filter(user_id=OuterRef("user_id")).order_by("-created_at", "-pk")
    return Subquery(latest.values(field)[:1])


def ratings_subquery() -> Coalesce:
    """Explicit feedback only (votes, saves, hides): clicks are not ratings."""
    counted = (
        Interaction.objects.filter(user_id=OuterRef("user_id"))
        .exclude(kind=InteractionKind.CLICK)
        .order_by()
        .values("user_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [
            ("active", "Receiving digests"),
            ("unconfirmed", "Not confirmed"),
            ("suppressed", "Suppressed"),
            ("off", "Frequency off"),
            ("deactivated", "Account deactivated"),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "active":
            return queryset.filter(
                confirmed_at__isnull=False, user__is_active=True, suppression=Suppression.NONE
            ).exclude(frequency=Frequency.OFF)
        if value == "unconfirmed":
            return queryset.filter(confirmed_at__isnull=True)
        if value == "suppressed":
            return queryset.exclude(suppression=Suppression.NONE)
        if value == "off":
            return queryset.filter(frequency=Frequency.OFF)
        if value == "deactivated":
            return queryset.filter(user__is_active=False)
        return queryset


class LastDigestFilter(admin.SimpleListFilter):
    title = "last digest"
    parameter_name = "last_digest"

    def lookups(self, request, model_admin):
        return DeliveryStatus.choices

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(last_digest_status=self.value())
        return queryset


@admin.register(Profile)
class SubscriberAdmin(OperatorActionsMixin, admin.ModelAdmin):
    """Registered on ``Profile``: one row per subscriber."""

    # PostgreSQL refuses \u0000 in jsonb: a form error instead of a 500 (docs/reliability.md).
    formfield_overrides = {JSONField: {"validators": [json_without_nul]}}
    list_display = (
        "email",
        "confirmed",
        "frequency",
        "schedule",
        "topic_list",
        "last_digest",
        "ratings",
        "suppression_state",
    )
    list_filter = (StateFilter, "suppression", "frequency", LastDigestFilter, "language", "confirmed_at")
    list_select_related = ("user",)
    search_fields = ("user__email",)
    search_help_text = "Subscriber email (part of it)."
    show_full_result_count = False
    ordering = ("-created_at",)
    exclude = ("feed_token",)
    readonly_fields = (
        "user_link",
        "confirmed_at",
        "onboarded_at",
        "next_digest_at",
        "suppressed_at",
        "created_at",
        "modified_at",
        "activity",
        "topics_table",
    )
    fieldsets = (
        (None, {"fields": ("user_link", "activity", "confirmed_at", "onboarded_at")}),
        (
            "Schedule",
            {"fields": ("frequency", "weekday", "send_time", "time_zone", "next_digest_at", "papers_per_email")},
        ),
        # What they read is per topic (categories, keywords, authors, dial): listed here, edited on the user page.
        ("Interests", {"fields": ("topics_table", "language")}),
        ("Suppression", {"fields": ("suppression", "suppression_reason", "suppressed_at")}),
        ("History", {"fields": ("created_at", "modified_at")}),
    )
    actions = [
        "preview_digest",
        "send_test_digest",
        "resend_today",
        "reset_recommendations",
        "deactivate",
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                last_digest_period=last_delivery_subquery("period_key"),
                last_digest_status=last_delivery_subquery("status"),
                ratings=ratings_subquery(),
            )
            # One query for the topics of every row shown, not one per row.
            .prefetch_related(Prefetch("user__topics", queryset=Topic.objects.order_by("position", "id")))
        )

    def has_add_permission(self, request):
        return False  # subscribers sign up, or are created from the user page

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # Schedule or suppression may have changed: the tick reads next_digest_at.
        profile_reschedule(profile=obj)

    # --- columns --------------------------------------------------------------------------

    @admin.display(description="email", ordering="user__email")
    def email(self, obj: Profile) -> str:
        return obj.user.email

    @admin.display(description="confirmed", boolean=True, ordering="confirmed_at")
    def confirmed(self, obj: Profile) -> bool:
        return obj.confirmed_at is not None

    @admin.display(description="when")
    def schedule(self, obj: Profile) -> str:
        when = f"{obj.send_time:%H:%M}" if hasattr(obj.send_time, "hour") else str(obj.send_time)
        return f"{when} {obj.time_zone}"

    @admin.display(description="topics: categories")
    def topic_list(self, obj: Profile) -> str:
        return "; ".join(f"{t.name}: {', '.join(t.categories or []) or 'all'}" for t in obj.user.topics.all())

    @admin.display(description="topics")
    def topics_table(self, obj: Profile):
        """Each topic's filters, dial and votes; edited on the user page (``TopicInline``)."""
        votes = dict(
            Interaction.objects.filter(user_id=obj.user_id, topic__isnull=False)
            .values_list("topic_id")
            .annotate(n=Count("pk"))
            .values_list("topic_id", "n")
        )
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    t.name,
                    ", ".join(t.categories or []) or "all",
                    _rules(t.include_keywords, t.exclude_keywords),
                    _rules(t.include_authors, t.exclude_authors),
                    f"{t.trending_weight:.2f}",
                    votes.get(t.pk, 0),
                    t.slug,
                )
                for t in obj.user.topics.all()
            ),
        )
        return format_html(
            '<table class="topics"><thead><tr><th>name</th><th>categories</th><th>keywords (+ / -)</th>'
            "<th>authors (+ / -)</th><th>trending dial</th><th>votes</th><th>slug</th></tr></thead>"
            '<tbody>{}</tbody></table><p><a href="{}#topics-group">Edit the topics on the user page</a></p>',
            rows,
            admin_change_url(obj.user),
        )

    @admin.display(description="last digest", ordering="last_digest_period")
    def last_digest(self, obj: Profile):
        if not getattr(obj, "last_digest_period", None):
            return "-"
        colour = {"sent": "#2e7d32", "failed": "#ba2121", "skipped": "#777"}.get(obj.last_digest_status, "#555")
        return format_html(
            '<a href="{}">{}</a> <span style="color:{}">{}</span>',
            admin_changelist_url(DigestDelivery, user__id__exact=obj.user_id),
            obj.last_digest_period,
            colour,
            obj.last_digest_status,
        )

    @admin.display(description="ratings", ordering="ratings")
    def ratings(self, obj: Profile):
        return format_html(
            '<a href="{}">{}</a>', admin_changelist_url(Interaction, user__id__exact=obj.user_id), obj.ratings
        )

    @admin.display(description="suppression", ordering="suppression")
    def suppression_state(self, obj: Profile):
        if not obj.suppression:
            return "" if obj.user.is_active else "deactivated"
        reason = obj.suppression_reason if len(obj.suppression_reason) <= 60 else obj.suppression_reason[:59] + "…"
        return format_html('<span style="color:#ba2121">{}</span> {}', obj.get_suppression_display(), reason)

    @admin.display(description="user")
    def user_link(self, obj: Profile):
        state = "active" if obj.user.is_active else "deactivated"
        return format_html('<a href="{}">{}</a> ({})', admin_change_url(obj.user), obj.user.email, state)

    @admin.display(description="activity")
    def activity(self, obj: Profile):
        links = [
            (admin_changelist_url(Interaction, user__id__exact=obj.user_id), "Interactions"),
            (admin_changelist_url(DigestDelivery, user__id__exact=obj.user_id), "Digests sent"),
            (reverse("admin:recommender_profile_digest_preview", args=[obj.pk]), "Preview today's digest"),
        ]
        return format_html_join(" · ", '<a href="{}">{}</a>', links)

    # --- preview ----------------------------------------------------------------------------

    def get_urls(self):
        return [
            path(
                "<int:pk>/digest-preview/",
                self.admin_site.admin_view(self.digest_preview_view),
                name="recommender_profile_digest_preview",
            )
        ] + super().get_urls()

    def digest_preview_view(self, request, pk: int):
        """Show what this subscriber would get now (subject, HTML in a sandboxed frame, text); nothing is recorded.

        Same rule as the staff preview page: the explicit preview permission, and inert links unless it is yours.
        """
        if not self.has_view_permission(request) or not self.has_preview_permission(request):
            raise PermissionDenied
        profile = get_object_or_404(Profile.objects.select_related("user"), pk=pk)
        inert = profile.user_id != request.user.pk
        content, rendered = digest_preview(user=profile.user, now=timezone.now(), inert_links=inert)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Digest preview for {profile.user.email}",
            "subtitle": None,
            "opts": self.model._meta,
            "original": profile,
            "skip_reason": content.skip_reason,
            "rendered": rendered,
            "paper_count": len(content.paper_ids),
            "staff_preview_url": digest_preview_url(profile.user_id),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/paperboy/digest_preview.html", context)

    def has_preview_permission(self, request) -> bool:
        """Reading a subscriber's digest needs ``recommender.preview_digest`` (viewing the profile is not enough)."""
        return request.user.has_perm("recommender.preview_digest")

    # --- actions ----------------------------------------------------------------------------

    @admin.action(description="Preview the digest of the selected subscriber", permissions=["preview"])
    def preview_digest(self, request, queryset):
        from django.http import HttpResponseRedirect

        profile = queryset.first()
        if queryset.count() != 1 or profile is None:
            self.message_user(request, "Select exactly one subscriber to preview.", messages.WARNING)
            return None
        return HttpResponseRedirect(reverse("admin:recommender_profile_digest_preview", args=[profile.pk]))

    @admin.action(description="Send me a test digest as the selected subscriber would get it", permissions=["operate"])
    def send_test_digest(self, request, queryset):
        to = (request.user.email or "").strip()
        if not to:
            self.message_user(request, "Your staff account has no email address.", messages.ERROR)
            return None
        if queryset.count() > 5:
            self.message_user(request, "Select at most 5 subscribers for test digests.", messages.WARNING)
            return None
        if not action_confirmed(request):
            return action_confirmation(
                self,
                request,
                queryset,
                action="send_test_digest",
                title="Send a test digest",
                question=f"Send {to} the digest each selected subscriber would get now?",
                details=[
                    "Nothing is recorded as sent, and the subscriber receives nothing.",
                    "Links in the test email do nothing: they never vote or unsubscribe for the subscriber.",
                ],
                button="Yes, send it to me",
            )
        now = timezone.now()
        sent = 0
        for profile in queryset.select_related("user"):
            try:
                skipped = digest_test_send(user=profile.user, to=to, now=now)
            except Exception as exc:  # a mail server refusal must reach the operator, not a 500 page
                logger.exception("test digest for %s failed", profile.user.email)
                self.message_user(request, f"{profile.user.email}: sending failed ({exc!r}).", messages.ERROR)
                continue
            if skipped:
                self.message_user(request, f"{profile.user.email}: no digest now ({skipped}).", messages.WARNING)
                continue
            sent += 1
            self.log_change(request, profile, f"Sent a test digest to {to}")
        if sent:
            self.message_user(request, f"Sent {sent} test digest(s) to {to}.", messages.SUCCESS)
        return None

    @admin.action(description="Resend today's digest to the selected subscribers", permissions=["operate"])
    def resend_today(self, request, queryset):
        if not action_confirmed(request):
            return action_confirmation(
                self,
                request,
                queryset,
                action="resend_today",
                title="Resend today's digest",
                question="Send each selected subscriber the digest of the current period again, built from now?",
                details=[
                    "A digest that was already sent is sent a second time.",
                    "Suppressed, unconfirmed or deactivated subscribers are skipped.",
                    f"Up to {SEND_INLINE_MAX} are sent right away; more are queued for the workers.",
                ],
                button="Yes, send again",
            )
        now = timezone.now()
        user_ids = []
        for profile in queryset.select_related("user"):
            delivery = delivery_reopen_for_now(user=profile.user, now=now)
            if delivery.status != DeliveryStatus.PENDING:  # a worker is sending it right now
                continue
            self.log_change(request, profile, f"Resend digest {delivery.period_key}")
            user_ids.append(profile.user_id)
        deliveries_send(modeladmin=self, request=request, user_ids=user_ids)
        return None

    @admin.action(description="Reset recommendations (forget all votes and clicks)", permissions=["operate"])
    def reset_recommendations(self, request, queryset):
        if not action_confirmed(request):
            return action_confirmation(
                self,
                request,
                queryset,
                action="reset_recommendations",
                title="Reset recommendations",
                question="Delete every vote, save, hide and click of the selected subscribers?",
                details=[
                    "Their recommendations start again from their categories and keywords. This cannot be undone."
                ],
                button="Yes, forget them",
            )
        total = 0
        for profile in queryset.select_related("user"):
            deleted = interactions_reset(user=profile.user)
            total += deleted
            self.log_change(request, profile, f"Reset recommendations ({deleted} interactions)")
        self.message_user(request, f"Deleted {total} interactions.", messages.SUCCESS)
        return None

    @admin.action(
        description="Deactivate the selected subscribers (no more digests, no login)", permissions=["operate"]
    )
    def deactivate(self, request, queryset):
        if not action_confirmed(request):
            return action_confirmation(
                self,
                request,
                queryset,
                action="deactivate",
                title="Deactivate subscribers",
                question="Deactivate the selected accounts? They stop receiving digests and cannot log in.",
                details=["Reactivate from the user page (Active) if needed; their data is kept."],
                button="Yes, deactivate",
            )
        count = 0
        for profile in queryset.select_related("user"):
            count += subscriber_deactivate(user=profile.user)
            self.log_change(request, profile, "Deactivated")
        self.message_user(request, f"Deactivated {count} subscriber(s).", messages.SUCCESS)
        return None


def deliveries_send(*, modeladmin, request, user_ids: list[int]) -> None:
    """Send the open deliveries of ``user_ids``: inline for a few, through the send queue for many."""
    if not user_ids:
        return
    deliveries_plan(now=timezone.now(), user_ids=user_ids)  # the plan phase first: send tasks never rank
    if len(user_ids) <= SEND_INLINE_MAX:
        result = digest_send_batch(user_ids=user_ids, now=timezone.now())
        level = messages.SUCCESS if not (result.failed or result.retry) else messages.WARNING
        modeladmin.message_user(
            request,
            f"Sent {len(result.sent)}, skipped {len(result.skipped)}, failed {len(result.failed)}, "
            f"to retry {len(result.retry)}.",
            level,
        )
        return
    for batch in batches(user_ids):
        task_enqueue(digest_tasks.digest_send_batch, user_ids=batch)
    modeladmin.message_user(request, f"Queued {len(user_ids)} digests for the send workers.", messages.SUCCESS)


# --- users ------------------------------------------------------------------------------------


def _rules(include: list[str], exclude: list[str]) -> str:
    return f"+ {', '.join(include or []) or '-'} / - {', '.join(exclude or []) or '-'}"


class TopicInline(admin.StackedInline):
    """A subscriber's topics on the user page (the default topic, lowest position, first)."""

    model = Topic
    extra = 0
    can_delete = False  # deleting a topic deletes its votes: the reader does that (account pages), not the admin
    # PostgreSQL refuses \u0000 in jsonb: a form error instead of a 500 (docs/reliability.md).
    formfield_overrides = {JSONField: {"validators": [json_without_nul]}}
    fields = (
        "name",
        "slug",
        "position",
        "categories",
        ("include_keywords", "exclude_keywords"),
        ("include_authors", "exclude_authors"),
        "trending_weight",
    )
    readonly_fields = ("slug",)
    ordering = ("position", "id")

    def has_add_permission(self, request, obj=None):
        return False  # topics are the reader's own (account pages); the admin corrects, never invents them


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False
    exclude = ("feed_token",)
    # The pause and the empty-day choice are the reader's own (account pages): shown, not edited here.
    readonly_fields = (
        "confirmed_at",
        "next_digest_at",
        "suppressed_at",
        "paused_from",
        "paused_until",
        "empty_day",
        "created_at",
        "modified_at",
    )
    extra = 0


class PaperboyUserAdmin(UserAdmin):
    """Django's user admin without the password hash (only whether a password is set)."""

    inlines = [ProfileInline, TopicInline]

    def get_inlines(self, request, obj):
        # A new user gets their profile from the post_save signal; an inline form would add a second one.
        return self.inlines if obj is not None else []

    list_display = ("email", "username", "is_active", "is_staff", "date_joined", "last_login")
    list_filter = ("is_staff", "is_superuser", "is_active")
    search_fields = ("email", "username")
    ordering = ("-date_joined",)
    show_full_result_count = False
    readonly_fields = ("password_status", "last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("username", "email", "password_status")}),
        ("Personal info", {"fields": ("first_name", "last_name")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )

    @admin.display(description="password")
    def password_status(self, obj) -> str:
        if obj.pk is None:
            return "-"
        return "password set" if obj.has_usable_password() else "unusable (signs in by email link or not at all)"


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, PaperboyUserAdmin)


def subscribers_with_state():
    """Counts for the dashboard: total, confirmed, receiving digests, suppressed by reason."""
    active = Q(confirmed_at__isnull=False, user__is_active=True, suppression=Suppression.NONE) & ~Q(
        frequency=Frequency.OFF
    )
    return Profile.objects.aggregate(
        total=Count("pk"),
        confirmed=Count("pk", filter=Q(confirmed_at__isnull=False)),
        active=Count("pk", filter=active),
        unsubscribed=Count("pk", filter=Q(suppression=Suppression.UNSUBSCRIBED)),
        bounced=Count("pk", filter=Q(suppression=Suppression.BOUNCED)),
        complained=Count("pk", filter=Q(suppression=Suppression.COMPLAINED)),
    )
