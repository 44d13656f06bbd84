"""Validators shared by every form that writes to the database: no NUL character, anywhere.

PostgreSQL text and jsonb cannot hold NUL (``\\x00`` / ``\\u0000``); a NUL that
reaches a query is a 500. Django's ``CharField`` already refuses NUL in plain
form fields; JSON form fields decode ``"\\u0000"`` escapes into strings that it
does not check, so the admin's JSON fields use :func:`json_without_nul`.
See docs/reliability.md.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


def json_without_nul(value) -> None:
    """Refuse a decoded JSON value that contains a NUL character in any string or key."""
    if _has_nul(value):
        raise ValidationError("NUL characters (\\u0000) are not allowed.", code="null_characters_not_allowed")
