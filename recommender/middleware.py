"""Request guards that protect every view at once: no NUL character gets past the URL.

PostgreSQL text cannot hold NUL (0x00): a NUL in a path segment or query
parameter that reaches a lookup (``/papers/<id>/``, ``/feed/<token>/``, an
admin search) makes the driver raise and the page answer 500. No URL of this
site ever needs a NUL, so the request is refused with 400 before any view
runs. Form bodies are covered by Django's forms, which refuse NUL in every
CharField (``ProhibitNullCharactersValidator``); ingested text is cleaned by
``recommender.ingest.entries.clean_text``. See docs/reliability.md.

Form bodies Django cannot read are refused the same way
(``RejectUnreadableFormMiddleware``): a urlencoded body declared in another
charset than UTF-8 (``charset=utf-16``) makes every access to ``request.POST``
raise ``BadRequest``, and Django's error views read it again through their
CSRF check, so the answer was a 500 with an empty body.
"""

from __future__ import annotations

from django.http import HttpResponseBadRequest
from django.http.multipartparser import MultiPartParser


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


FORM_URLENCODED = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
ASCII_PROBE = "name=value&x-y.z_1"


def _ascii_compatible(charset: str) -> bool:
    try:
        return ASCII_PROBE.encode(charset) == ASCII_PROBE.encode("ascii")
    except (LookupError, UnicodeError):
        return False


def unreadable_form_reason(request) -> str | None:
    """Why Django could not parse this request's form body (None when it can, or it is not a form POST).

    Mirrors Django's own rules: a urlencoded body must be UTF-8 (a declared
    charset other than ``utf-8`` raises ``BadRequest``); a multipart body needs
    a valid boundary and is decoded part by part in its declared charset, which
    must therefore exist and keep ASCII (the part headers) as ASCII.
    """
    if request.method != "POST" or request.content_type not in (FORM_URLENCODED, MULTIPART):
        return None
    charset = request.content_params.get("charset")
    if request.content_type == FORM_URLENCODED:
        if charset is not None and charset.lower() != "utf-8":
            return "Form bodies must be UTF-8 encoded (charset=utf-8 or no charset)."
        return None
    if charset is not None and not _ascii_compatible(charset):
        return "Unknown or unsupported charset for a multipart form body."
    if not MultiPartParser.boundary_re.fullmatch(request.content_params.get("boundary", "")):
        return "Invalid boundary in multipart form body."
    return None


class RejectUnreadableFormMiddleware:
    """Answer 400 to a POST whose form body Django cannot decode, before CSRF or a view reads it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        reason = unreadable_form_reason(request)
        if reason:
            return HttpResponseBadRequest(reason, content_type="text/plain")
        return self.get_response(request)
