"""The summary backend interface and the registry that picks one.

A backend is any object with ``name`` and ``summarize(abstract, *, language)``.
A caller may name one by dotted path; the default is the extractive one. Whether
TL;DRs come from the LLM is the one setting ``SUMMARY_BACKEND`` ("auto" or
"extractive", read by ``summaries/services.py``), not a second one here.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Protocol, runtime_checkable

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
    """Return the backend at dotted ``path`` (default: extractive); instances are cached per process."""
    return _load(path or DEFAULT_BACKEND)


def summarize(abstract: str, *, language: str = "en", backend: str | None = None) -> str:
    """Return a one-sentence summary of ``abstract`` using the configured backend."""
    return get_backend(backend).summarize(abstract, language=language)
