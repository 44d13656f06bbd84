"""Request guards that protect every view at once: no NUL character gets past the URL.

PostgreSQL text cannot hold NUL (0x00): a NUL in a path segment or query
parameter that reaches a lookup (``/papers/<id>/``, ``/feed/<token>/``, an
admin search) makes the driver raise and the page answer 500. No URL of this
site ever needs a NUL, so the request is refused with 400 before any view
runs. Form bodies are covered by Django's forms, which refuse NUL in every
CharField (``ProhibitNullCharactersValidator``); ingested text is cleaned by
``recommender.ingest.entries.clean_text``. See docs/reliability.md.
"""

from __future__ import annotations

from django.http import HttpResponseBadRequest


def _has_nul(request) -> bool:
    if "\x00" in request.path or "\x00" in request.path_info:
        return True
    return any("\x00" in key or any("\x00" in v for v in values) for key, values in request.GET.lists())


class RejectNulMiddleware:
    """Answer 400 to any request whose path or query string carries a NUL character."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if _has_nul(request):
            return HttpResponseBadRequest("NUL characters are not allowed in URLs.", content_type="text/plain")
        return self.get_response(request)
