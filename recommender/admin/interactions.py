"""Interactions in the admin: who voted, clicked or hid what, from the web or from an email.

The table grows to millions of rows: the list joins user and paper in the
same query, orders by the indexed ``created_at``, never counts the whole
table and offers raw-id widgets instead of select boxes of every user and
paper. A subscriber's page links here with ``?user__id__exact=<id>``.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html

from ..interactions.services import interaction_undo
from ..models import Interaction
from .links import admin_change_url


@admin.register(Interaction)
class InteractionAdmin(admin.ModelAdmin):
    list_display = ("created_at", "user_email", "kind", "source", "paper_link")
    list_filter = ("kind", "source", "created_at")
    list_select_related = ("user", "paper")
    raw_id_fields = ("user", "paper")
    search_fields = ("=user__email", "=paper__arxiv_id")
    search_help_text = "Exact subscriber email or arXiv id."
    show_full_result_count = False
    ordering = ("-created_at", "-id")
    list_per_page = 100

    def get_queryset(self, request):
        # Only what the list shows: no abstracts or user rows' other columns.
        return (
            super()
            .get_queryset(request)
            .only(
                "id",
                "kind",
                "source",
                "created_at",
                "user_id",
                "paper_id",
                "user__id",
                "user__email",
                "paper__id",
                "paper__arxiv_id",
                "paper__title",
            )
        )

    def has_add_permission(self, request):
        return False  # interactions come from subscribers, not from operators

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        # Through the service, so a removed upvote leaves the paper's count.
        interaction_undo(user=obj.user, paper=obj.paper, kind=obj.kind)

    def delete_queryset(self, request, queryset):
        for obj in queryset.select_related("user", "paper"):
            self.delete_model(request, obj)

    def lookup_allowed(self, lookup, value, request=None):
        # Per-user and per-paper views linked from the subscriber and paper pages.
        if lookup in ("user__id__exact", "paper__id__exact"):
            return True
        return super().lookup_allowed(lookup, value, request)

    @admin.display(description="user", ordering="user__email")
    def user_email(self, obj: Interaction) -> str:
        return obj.user.email

    @admin.display(description="paper")
    def paper_link(self, obj: Interaction):
        title = " ".join(obj.paper.title.split())
        title = title if len(title) <= 80 else title[:79] + "…"
        return format_html('<a href="{}">{}</a> {}', admin_change_url(obj.paper), obj.paper.arxiv_id, title)
