"""The summary backend interface and the registry that picks one.

A backend is any object with ``name`` and ``summarize(abstract, *, language)``.
Backends are named by dotted path in ``settings.PAPERBOY["SUMMARY_BACKEND"]``
(default: the extractive one), so a later LLM backend needs no change here.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Protocol, runtime_checkable

from django.conf import settings
from django.utils.module_loading import import_string

DEFAULT_BACKEND = "recommender.summaries.extractive.ExtractiveBackend"


@runtime_checkable
class SummaryBackend(Protocol):
    name: str

    def summarize(self, abstract: str, *, language: str = "en") -> str: ...


@lru_cache(maxsize=8)
def _load(path: str) -> SummaryBackend:
    return import_string(path)()


def get_backend(path: str | None = None) -> SummaryBackend:
    """Return the configured backend (instances are cached per process)."""
    path = path or getattr(settings, "PAPERBOY", {}).get("SUMMARY_BACKEND") or DEFAULT_BACKEND
    return _load(path)


def summarize(abstract: str, *, language: str = "en", backend: str | None = None) -> str:
    """Return a one-sentence summary of ``abstract`` using the configured backend."""
    return get_backend(backend).summarize(abstract, language=language)
