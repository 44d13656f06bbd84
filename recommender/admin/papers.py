"""Papers in the admin: search by title, arXiv id and author; filter by category, source, date, version.

``authors`` and ``sources`` are JSON lists and ``categories`` a space-separated
string, so the filters and the author search are written here to work the
same on SQLite and PostgreSQL (a text cast of the JSON, and
``Paper.objects.in_category``). The list is ordered by the indexed
announcement date and never counts the whole table.
"""

from __future__ import annotations

import json

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.cache import cache
from django.db.models import JSONField, Q, TextField
from django.db.models.functions import Cast
from django.utils.html import format_html

from ..arxiv_ids import is_arxiv_id
from ..ingest.services import SOURCES
from ..models import Interaction, Paper
from ..validators import json_without_nul
from .links import admin_changelist_url, paper_public_url

CATEGORY_CHOICES_TTL = 600


def _json_text_variants(term: str) -> list[str]:
    """The term as it may appear inside JSON text: raw (PostgreSQL jsonb) and \\u-escaped (SQLite json.dumps)."""
    escaped = json.dumps(term)[1:-1]
    return [term] if escaped == term else [term, escaped]


class CategoryFilter(admin.SimpleListFilter):
    title = "category"
    parameter_name = "category"

    def lookups(self, request, model_admin):
        # Distinct primary categories read through the index, cached: the
        # filter sidebar must not scan 100k rows on every page view.
        categories = cache.get("admin:paper-categories")
        if categories is None:
            primary = Paper.objects.order_by().values_list("primary_category", flat=True).distinct()
            categories = sorted({c for c in primary if c} | set(settings.PAPERBOY.get("INGEST_CATEGORIES", [])))
            cache.set("admin:paper-categories", categories, CATEGORY_CHOICES_TTL)
        return [(c, c) for c in categories]

    def queryset(self, request, queryset):
        if self.value():
            # The plain substring test runs first and is cheap; the exact
            # token match (a regex, slow on SQLite) only sees its survivors.
            return queryset.filter(categories__contains=self.value()).in_category(self.value())
        return queryset


class SourceFilter(admin.SimpleListFilter):
    title = "source"
    parameter_name = "source"

    def lookups(self, request, model_admin):
        return [(s, s) for s in SOURCES]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.annotate(sources_text=Cast("sources", TextField())).filter(
                sources_text__contains=json.dumps(self.value())
            )
        return queryset


class VersionFilter(admin.SimpleListFilter):
    title = "version"
    parameter_name = "revised"

    def lookups(self, request, model_admin):
        return [("no", "First version (v1)"), ("yes", "Revised (v2 or later)")]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(version__lte=1)
        if self.value() == "yes":
            return queryset.filter(version__gt=1)
        return queryset


class PaperAdminForm(forms.ModelForm):
    def clean_arxiv_id(self) -> str:
        """Only a real identifier (either scheme, no version): every page of the site links to it by URL."""
        value = self.cleaned_data["arxiv_id"].strip()
        if not is_arxiv_id(value):
            raise forms.ValidationError("An arXiv identifier without version, e.g. 2403.02233 or hep-th/9901001.")
        return value


@admin.register(Paper)
class PaperAdmin(admin.ModelAdmin):
    form = PaperAdminForm
    # PostgreSQL refuses \u0000 in jsonb: a form error instead of a 500 (docs/reliability.md).
    formfield_overrides = {JSONField: {"validators": [json_without_nul]}}
    list_display = (
        "arxiv_id",
        "short_title",
        "primary_category",
        "announced_on",
        "version",
        "hf_upvotes",
        "local_upvotes",
        "source_list",
        "public_page",
    )
    list_display_links = ("arxiv_id", "short_title")
    list_filter = (CategoryFilter, SourceFilter, "announced_on", VersionFilter, "announce_type")
    search_fields = ("arxiv_id", "title")
    search_help_text = "Search by arXiv id, title or author name."
    show_full_result_count = False
    list_per_page = 50
    readonly_fields = ("local_upvotes", "trending_score", "created_at", "modified_at", "public_page", "votes_link")
    fieldsets = (
        (None, {"fields": ("arxiv_id", "version", "title", "authors", "abstract", "tldr", "public_page")}),
        (
            "arXiv",
            {
                "fields": (
                    "primary_category",
                    "categories",
                    "announce_type",
                    "announced_on",
                    "submitted_at",
                    "updated_at",
                    "versions",
                    "comments",
                    "doi",
                    "journal_ref",
                    "license",
                    "sources",
                )
            },
        ),
        (
            "Community",
            {
                "fields": (
                    "hf_upvotes",
                    "hf_comments",
                    "hf_published_on",
                    "ai_summary",
                    "ai_keywords",
                    "github_repo",
                    "github_stars",
                    "local_upvotes",
                    "votes_link",
                    "trending_score",
                )
            },
        ),
        ("History", {"fields": ("created_at", "modified_at")}),
    )

    def get_queryset(self, request):
        # The list never shows abstracts; do not ship them from the database.
        return super().get_queryset(request).defer("abstract", "ai_summary", "comments", "journal_ref")

    def get_search_results(self, request, queryset, search_term):
        """Add author search: a case-insensitive match on the JSON list cast to text (SQLite and PostgreSQL)."""
        searched, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if term:
            author_match = Q()
            for variant in _json_text_variants(term):
                author_match |= Q(authors_text__icontains=variant)
            by_author = (
                self.model.objects.annotate(authors_text=Cast("authors", TextField())).filter(author_match).values("pk")
            )
            # ``queryset`` already carries the sidebar filters; keep them.
            searched = searched | queryset.filter(pk__in=by_author)
        return searched, may_have_duplicates

    @admin.display(description="title", ordering="title")
    def short_title(self, obj: Paper) -> str:
        title = " ".join(obj.title.split())
        return title if len(title) <= 90 else title[:89] + "…"

    @admin.display(description="sources")
    def source_list(self, obj: Paper) -> str:
        return ", ".join(obj.sources or [])

    @admin.display(description="public page")
    def public_page(self, obj: Paper):
        url = paper_public_url(obj.arxiv_id) if obj.arxiv_id else None
        if url is None:
            return "-"
        return format_html('<a href="{}" target="_blank" rel="noopener">view</a>', url)

    @admin.display(description="votes and clicks")
    def votes_link(self, obj: Paper):
        if obj.pk is None:
            return "-"
        return format_html(
            '<a href="{}">interactions with this paper</a>',
            admin_changelist_url(Interaction, paper__id__exact=obj.pk),
        )
