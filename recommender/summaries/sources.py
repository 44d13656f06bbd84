"""What each stored TL;DR and translation was made from, so that a changed source is never shown.

``text_hash`` fingerprints the English a text was made from (stored next to it as ``*_source_hash``);
``abstract_shown`` is the abstract exactly as the digest prints it, which is what a translated abstract
translates: the reader sees the translation above the very text it renders. Pure functions, no I/O.
"""

from __future__ import annotations

import hashlib

from .extractive import trim

# The digest prints at most this much of an abstract (cut on a word boundary, never inside $...$).
ABSTRACT_SHOWN_CHARS = 1500


def text_hash(*parts: str) -> str:
    """A short fingerprint of ``parts`` with whitespace collapsed (layout changes are not new text)."""
    joined = "\x1f".join(" ".join((p or "").split()) for p in parts)
    return hashlib.sha256(joined.encode()).hexdigest()[:32]


def abstract_shown(abstract: str) -> str:
    """``abstract`` as the digest shows it: one paragraph, at most ``ABSTRACT_SHOWN_CHARS`` characters."""
    return trim(" ".join((abstract or "").split()), ABSTRACT_SHOWN_CHARS)
