"""Digest deliveries in the admin: the send log, the email as the subscriber saw it, and retries.

What a delivery listed is its plan rows (``DeliveredPaper``: section, rank,
reason), the record the send phase composed the email from. "View email"
composes those rows again through the digest's own context builder and
templates, so the operator sees the same papers, order and reasons the
subscriber got, not today's recommendations. Links are inert and a paper
deleted since then is left out. A batch the circuit breaker stopped leaves
its untried rows pending with a ``circuit breaker: ...`` error: the list
marks them and filters them ("held back"), and the dashboard counts them.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from ..digest.context import digest_build_planned
from ..digest.outcomes import SKIP_NOT_SENDABLE_PREFIX, delivery_outcome
from ..digest.render import render_digest
from ..digest.selectors import BREAKER, IN_DOUBT
from ..models import DeliveredSection, DeliveryStatus, DigestDelivery, Paper
from .links import admin_change_url, paper_public_url, short_datetime
from .operations import OperatorActionsMixin, action_confirmation, action_confirmed
from .services import delivery_reopen
from .subscribers import deliveries_send

SUBJECT_CHARS = 90
PROBLEM_CHARS = 70


STATUS_COLOURS = {"sent": "#2e7d32", "failed": "#ba2121", "skipped": "#777", "sending": "#b26a00", "pending": "#555"}


@dataclass(frozen=True)
class DeliveryItems:
    """What a delivery listed: paper ids in the order sent, the trending section's ids, the reason per paper."""

    papers: list[int]
    trending: list[int]
    reasons: dict[int, str]


def delivery_items(*, delivery: DigestDelivery) -> DeliveryItems:
    """The one place that reads what a delivery listed: its plan rows (``DeliveredPaper``, docs/digest.md).

    Everything in the admin goes through here. ``delivery.delivered.all()`` uses the rows prefetched by the
    changelist's queryset (one query per page), else one query.
    """
    papers, trending, reasons = [], [], {}
    for row in sorted(delivery.delivered.all(), key=lambda r: (r.section, r.rank)):
        (papers if row.section == DeliveredSection.PAPERS else trending).append(row.paper_id)
        if row.reason:
            reasons[row.paper_id] = row.reason
    return DeliveryItems(papers=papers, trending=trending, reasons=reasons)


def _paper_rows(ids: list[int], papers: dict[int, Paper], reasons: dict[int, str]):
    for pid in ids:
        paper = papers.get(pid)
        if paper is None:
            yield format_html("<li>paper #{} (deleted since)</li>", pid)
            continue
        public = paper_public_url(paper.arxiv_id)
        yield format_html(
            '<li><a href="{}">{}</a> <span class="quiet">· {}{}</span>{}</li>',
            admin_change_url(paper),
            paper.title,
            format_html('<a href="{}">{}</a>', public, paper.arxiv_id) if public else paper.arxiv_id,
            format_html(" · {}", paper.primary_category) if paper.primary_category else "",
            format_html('<br><span class="quiet">why: {}</span>', reasons[pid]) if reasons.get(pid) else "",
        )


def delivery_sections(*, delivery: DigestDelivery) -> list[tuple[str, object]]:
    """``[(section heading, HTML list of linked titles)]`` for the delivery's detail page (one query)."""
    items = delivery_items(delivery=delivery)
    papers = Paper.objects.only("id", "arxiv_id", "title", "primary_category").in_bulk(items.papers + items.trending)
    sections = []
    for heading, ids in (("Papers (in the order sent)", items.papers), ("Trending", items.trending)):
        rows = list(_paper_rows(ids, papers, items.reasons))
        body = format_html(
            '<ol class="pb-papers" style="margin:0;padding-left:1.6em">{}</ol>',
            format_html_join("", "{}", ((r,) for r in rows)),
        )
        sections.append((heading, body if rows else "-"))
    return sections


def delivery_content(*, delivery: DigestDelivery):
    """Rebuild the ``DigestContent`` of a stored delivery from its plan rows (same papers, order, reasons, language).

    Never ranked again; links are inert (an operator reads it, not the subscriber).
    """
    return digest_build_planned(delivery=delivery, inert_links=True)


class HeldBackFilter(admin.SimpleListFilter):
    """Deliveries an operator may have to look at: held by the circuit breaker, or in doubt."""

    title = "held back"
    parameter_name = "held"

    def lookups(self, request, model_admin):
        return [("breaker", "stopped by the circuit breaker"), ("in-doubt", "in doubt (not resent)")]

    def queryset(self, request, queryset):
        if self.value() == "breaker":
            return queryset.filter(status=DeliveryStatus.PENDING, error__startswith=BREAKER)
        if self.value() == "in-doubt":
            return queryset.filter(status=DeliveryStatus.FAILED, error__startswith=IN_DOUBT)
        return queryset


@admin.register(DigestDelivery)
class DigestDeliveryAdmin(OperatorActionsMixin, admin.ModelAdmin):
    # Dates as one short unbreakable line, so Subject keeps the room it needs at 1280 px (issue 18).
    list_display = (
        "created",
        "user_email",
        "period",
        "status_badge",
        "paper_count",
        "short_subject",
        "sent",
        "problem",
        "reason_short",
        "view_email",
    )
    list_filter = ("status", HeldBackFilter, "created_at", "sent_at", "language")
    list_select_related = ("user",)
    search_fields = ("=user__email", "=message_id", "=period_key")
    search_help_text = "Exact subscriber email, Message-ID (with <>) or period (2026-11-22, 2026-W47)."
    show_full_result_count = False
    ordering = ("-created_at", "-id")
    raw_id_fields = ("user",)
    actions = ["retry_failed"]
    readonly_fields = (
        "user_link",
        "period_key",
        "status",
        "subject",
        "paper_list",
        "language",
        "message_id",
        "error",
        "skip_reason",
        "reason",
        "attempts",
        "created_at",
        "claimed_at",
        "sent_at",
        "modified_at",
        "view_email",
    )
    fields = readonly_fields

    def get_queryset(self, request):
        # The plan rows of a page in one query (paper_count and view_email read them per row).
        return super().get_queryset(request).prefetch_related("delivered")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # the send log is written by the senders only

    def lookup_allowed(self, lookup, value, request=None):
        if lookup == "user__id__exact":  # the subscriber page links here
            return True
        return super().lookup_allowed(lookup, value, request)

    # --- columns ------------------------------------------------------------------------------

    @admin.display(description="user", ordering="user__email")
    def user_email(self, obj):
        return obj.user.email

    @admin.display(description="user")
    def user_link(self, obj):
        return format_html('<a href="{}">{}</a>', admin_change_url(obj.user), obj.user.email)

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        # The attempts ride along when there was more than one: a column of their own overflowed 1280 px.
        tries = format_html('<br><span class="quiet">{} tries</span>', obj.attempts) if obj.attempts > 1 else ""
        held = (
            format_html('<br><span class="quiet" title="{}">held: circuit breaker</span>', obj.error)
            if obj.status == DeliveryStatus.PENDING and obj.error.startswith(BREAKER)
            else ""
        )
        return format_html(
            '<strong style="color:{}">{}</strong>{}{}',
            STATUS_COLOURS.get(obj.status, "#555"),
            obj.get_status_display(),
            tries,
            held,
        )

    @admin.display(description="created", ordering="created_at")
    def created(self, obj):
        return short_datetime(obj.created_at)

    @admin.display(description="sent", ordering="sent_at")
    def sent(self, obj):
        """The time alone when sent the day the delivery was created (the usual case)."""
        if obj.sent_at and timezone.localtime(obj.sent_at).date() == timezone.localtime(obj.created_at).date():
            return timezone.localtime(obj.sent_at).strftime("%H:%M")
        return short_datetime(obj.sent_at)

    @admin.display(description="period", ordering="period_key")
    def period(self, obj):
        return format_html('<span style="white-space:nowrap">{}</span>', obj.period_key)

    @admin.display(description="subject", ordering="subject")
    def short_subject(self, obj):
        text = obj.subject if len(obj.subject) <= SUBJECT_CHARS else obj.subject[: SUBJECT_CHARS - 1] + "…"
        return format_html('<span style="display:block;min-width:16em" title="{}">{}</span>', obj.subject, text)

    @admin.display(description="papers")
    def paper_count(self, obj) -> int:
        return len(delivery_items(delivery=obj).papers)

    @admin.display(description="papers")
    def paper_list(self, obj):
        return format_html_join("", '<h3 class="pb-section">{}</h3>{}', delivery_sections(delivery=obj))

    @admin.display(description="error / skip reason")
    def problem(self, obj):
        text = obj.error or obj.skip_reason
        if not text:
            return ""
        text = text if len(text) <= PROBLEM_CHARS else text[: PROBLEM_CHARS - 1] + "…"
        return format_html(
            '<span style="display:block;max-width:11em" title="{}">{}</span>', obj.error or obj.skip_reason, text
        )

    @admin.display(description="reason (as the reader sees it)")
    def reason(self, obj):
        """The plain-words reason of the reader's "My digests" page (``digest.outcomes``), for the same row."""
        # Only a "not sendable" skip reads the subscriber's state (one query then, none for the other rows).
        profile = getattr(obj.user, "profile", None) if obj.skip_reason.startswith(SKIP_NOT_SENDABLE_PREFIX) else None
        return delivery_outcome(delivery=obj, profile=profile).text

    @admin.display(description="outcome")
    def reason_short(self, obj):
        """``reason`` in a column of bounded width under a short heading (headings never wrap), so the list fits
        1280 px."""
        return format_html('<span style="display:block;max-width:12em">{}</span>', self.reason(obj))

    @admin.display(description="email")
    def view_email(self, obj):
        if not delivery_items(delivery=obj).papers:
            return "-"
        return format_html('<a href="{}">view</a>', reverse("admin:recommender_digestdelivery_email", args=[obj.pk]))

    # --- the email as sent ----------------------------------------------------------------------

    def get_urls(self):
        return [
            path(
                "<int:pk>/email/",
                self.admin_site.admin_view(self.email_view),
                name="recommender_digestdelivery_email",
            )
        ] + super().get_urls()

    def email_view(self, request, pk: int):
        # A stored digest is read like a preview: the explicit permission, and inert links (delivery_content).
        if not self.has_view_permission(request) or not request.user.has_perm("recommender.preview_digest"):
            raise PermissionDenied
        delivery = get_object_or_404(DigestDelivery.objects.select_related("user"), pk=pk)
        rendered, skip_reason, paper_count = None, "", 0
        sent_ids = delivery_items(delivery=delivery).papers
        if sent_ids:
            content = delivery_content(delivery=delivery)
            skip_reason = content.skip_reason
            paper_count = len(content.paper_ids)
            if not skip_reason:
                rendered = render_digest(content.context)
        else:
            skip_reason = delivery.skip_reason or "this delivery holds no papers"
        missing = len(sent_ids) - paper_count if rendered else 0
        note = f"Re-rendered from the stored papers and reasons ({delivery.get_status_display().lower()})."
        if missing:
            note += f" {missing} paper(s) no longer exist and are left out."
        context = {
            **self.admin_site.each_context(request),
            "title": f"Digest {delivery.period_key} for {delivery.user.email}",
            "subtitle": None,
            "opts": self.model._meta,
            "original": delivery,
            "rendered": rendered,
            "skip_reason": skip_reason,
            "paper_count": paper_count,
            "note": note,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/paperboy/digest_preview.html", context)

    # --- retry --------------------------------------------------------------------------------

    @admin.action(description="Retry the selected failed deliveries", permissions=["operate"])
    def retry_failed(self, request, queryset):
        failed = queryset.filter(Q(status=DeliveryStatus.FAILED))
        if not failed.exists():
            self.message_user(request, "None of the selected deliveries failed.", messages.WARNING)
            return None
        if not action_confirmed(request):
            return action_confirmation(
                self,
                request,
                failed,
                action="retry_failed",
                title="Retry failed deliveries",
                question="Send the selected failed digests again?",
                details=[
                    "An 'in-doubt' delivery may already have reached the subscriber: check the mail server log "
                    "for its Message-ID first.",
                    "Digests are rebuilt from the papers new at the moment of sending.",
                ],
                button="Yes, send again",
            )
        user_ids = []
        for delivery in failed.select_related("user"):
            if delivery_reopen(delivery_id=delivery.pk, only_failed=True):
                self.log_change(request, delivery, f"Retry (was: {delivery.error[:150]})")
                user_ids.append(delivery.user_id)
        deliveries_send(modeladmin=self, request=request, user_ids=sorted(set(user_ids)))
        return None
