"""Links between admin pages and to the public site, resolved defensively.

Some pages belong to other parts of the service (the public paper page, the
staff digest preview); the admin must keep working while they evolve.
"""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html


def admin_changelist_url(model, **filters) -> str:
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    if filters:
        from urllib.parse import urlencode

        url += "?" + urlencode(filters)
    return url


def admin_change_url(obj) -> str:
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])


def paper_public_url(arxiv_id: str) -> str | None:
    """The paper's public page, or None for a stored id that is no arXiv identifier (it has no page)."""
    try:
        return reverse("web:paper", args=[arxiv_id])
    except NoReverseMatch:
        return None


def digest_preview_url(user_id: int) -> str | None:
    try:
        return reverse("digest:preview_user", args=[user_id])
    except NoReverseMatch:
        return None


def link(url: str, text: str):
    return format_html('<a href="{}">{}</a>', url, text)


def short_datetime(value):
    """``2026-11-22 07:58`` (local time) on one unbreakable line, a dash when unset: list columns stay narrow."""
    if value is None:
        return "-"
    return format_html(
        '<span style="white-space:nowrap">{}</span>', timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    )
