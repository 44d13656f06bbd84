"""``{% load taxonomy %}``: arXiv category names in templates (``{{ code|category_label }}``)."""

from __future__ import annotations

from django import template

from ..papers import taxonomy

register = template.Library()


@register.filter
def category_label(code: str) -> str:
    """ "Machine Learning (cs.LG)"; an unknown code as itself."""
    return taxonomy.category_label(code or "")


@register.filter
def category_name(code: str) -> str:
    """ "Machine Learning"; an unknown code as itself."""
    return taxonomy.category_name(code or "")
