"""django-anymail's ESP webhooks, mounted so that a malformed or unexpected request is a 4xx, never a 500.

anymail mounts a tracking and an inbound webhook for every ESP it supports,
configured or not, and parses their payloads without checking their shape:
``{}`` or ``[]`` posted to ``/anymail/resend/tracking/`` raises ``KeyError`` /
``TypeError``, a non-JSON body ``JSONDecodeError``, an ESP without its signing
key ``AnymailConfigurationError``, Amazon SES without boto3
``AnymailImproperlyInstalled``: each a 500 anyone can trigger. The same views
are mounted here (same routes and names, ``digest:anymail:…``), each wrapped:
an unconfigured ESP answers 404, a payload anymail cannot read 400 (logged
with its traceback, so a real parsing change shows up in the log). Errors of
our own receivers (``recommender.digest.signals``) are not caught: a database
outage stays a 500 and the ESP retries.
"""

from __future__ import annotations

import functools
import logging

from anymail import urls as anymail_urls
from anymail.exceptions import AnymailConfigurationError
from django.db import DatabaseError
from django.http import HttpResponseBadRequest, HttpResponseNotFound
from django.urls import URLPattern

logger = logging.getLogger(__name__)

MALFORMED_PAYLOAD_ERRORS = (ValueError, KeyError, TypeError, AttributeError, IndexError)


def guarded(view):
    """``view`` answering 404 when its ESP is not configured here and 400 when it cannot read the payload."""

    @functools.wraps(view)  # keeps csrf_exempt: ESPs post without a CSRF token
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except AnymailConfigurationError as exc:
            logger.warning("ESP webhook %s is not configured: %s", request.path, exc)
            return HttpResponseNotFound("This ESP webhook is not configured.", content_type="text/plain")
        except DatabaseError:
            raise  # ours, not the payload's: a 500 makes the ESP retry later
        except MALFORMED_PAYLOAD_ERRORS:
            logger.warning("malformed ESP webhook payload at %s", request.path, exc_info=True)
            return HttpResponseBadRequest("Malformed webhook payload.", content_type="text/plain")

    return wrapper


def esp_webhook_patterns() -> tuple[list[URLPattern], str]:
    """anymail's URL patterns with guarded views, for ``include()`` (namespace ``anymail``)."""
    patterns = [URLPattern(p.pattern, guarded(p.callback), p.default_args, p.name) for p in anymail_urls.urlpatterns]
    return patterns, anymail_urls.app_name
