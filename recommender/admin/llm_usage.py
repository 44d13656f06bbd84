"""LLM usage in the admin: requests and tokens per UTC day against the budget, translated abstracts apart.

A read-only log (``LLMUsage`` rows are written by ``summaries/budget.py`` only). Translated abstracts have
columns of their own because they are the dearest requests and a reader's choice (``Profile.
translate_abstract``): an operator sees what that choice costs before raising the budget or not.
"""

from __future__ import annotations

from django.contrib import admin

from ..models import LLMUsage
from ..summaries.budget import daily_budget


@admin.register(LLMUsage)
class LLMUsageAdmin(admin.ModelAdmin):
    list_display = ("day", "requests", "tokens", "budget_share", "abstract_requests", "abstract_tokens")
    list_display_links = None
    ordering = ("-day",)
    date_hierarchy = "day"
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="tokens (prompt + completion)")
    def tokens(self, obj: LLMUsage) -> int:
        return obj.prompt_tokens + obj.completion_tokens

    @admin.display(description="share of the daily budget")
    def budget_share(self, obj: LLMUsage) -> str:
        return f"{(obj.prompt_tokens + obj.completion_tokens) / max(1, daily_budget()):.0%}"

    @admin.display(description="translated abstracts: tokens")
    def abstract_tokens(self, obj: LLMUsage) -> int:
        return obj.abstract_prompt_tokens + obj.abstract_completion_tokens
