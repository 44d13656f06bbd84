"""One-line summaries (TL;DR) of paper abstracts, behind a small backend interface.

``extractive`` (the default, no network) picks one sentence from the
abstract. Other backends (an LLM, translations) plug in through
``backends.get_backend``; callers only use ``summarize``.
"""

from .backends import SummaryBackend, get_backend, summarize

__all__ = ["SummaryBackend", "get_backend", "summarize"]
