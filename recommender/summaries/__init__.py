"""One-line summaries (TL;DR) of paper abstracts and their translations into subscribers' languages.

``extractive`` (the default, no network) picks one sentence from the
abstract; ``summarize`` (through ``backends.get_backend``) is what callers
that need a TL;DR right now use, and it never touches the network.
The LLM path is separate and asynchronous: ``services.summaries_fill`` (run
by ``tasks.summaries_fill`` after each ingestion) asks an OpenAI-compatible
endpoint (``llm``) for TL;DRs and translations, checks them (``guards``),
and caches them in the database, where the digest only reads them.
See docs/summaries.md.
"""

from .backends import SummaryBackend, get_backend, summarize

__all__ = ["SummaryBackend", "get_backend", "summarize"]
