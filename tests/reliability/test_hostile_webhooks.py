"""Every ESP webhook anymail mounts answers malformed or unexpected requests with a 4xx, never a 500.

Before: ``{}`` to ``/anymail/resend/tracking/`` (KeyError), ``[]`` to ``/anymail/postmark/inbound/``
(AttributeError), any request to an ESP without its signing key (AnymailConfigurationError) or to
Amazon SES without boto3 (AnymailImproperlyInstalled) answered 500. Found by the sweep in
``test_fuzz_every_url.py``.
"""

from __future__ import annotations

import pytest
from anymail import urls as anymail_urls
from django.test import Client

pytestmark = pytest.mark.django_db

BODIES = [
    ("application/json", b"{}"),
    ("application/json", b"[]"),
    ("application/json", b"null"),
    ("application/json", b"[1]"),
    ("application/json", b'{"type": 1, "RecordType": "Bounce", "msys": 1}'),
    ("application/json", b"not json"),
    ("application/x-www-form-urlencoded", b"event=bounced&recipient=a%40b.org"),
    ("text/plain", b"\xff\xfe"),
]


def _webhook_urls() -> list[str]:
    urls = []
    for p in anymail_urls.urlpatterns:
        route = str(p.pattern).replace("^", "").replace("$", "").replace("(_mime)?", "")
        urls.append("/anymail/" + route)
    return urls


@pytest.mark.parametrize("url", _webhook_urls())
def test_malformed_esp_webhook_requests_are_not_server_errors(url):
    client = Client(raise_request_exception=False)
    assert client.get(url).status_code < 500
    for content_type, body in BODIES:
        response = client.generic("POST", url, body, content_type=content_type)
        assert response.status_code < 500, (url, content_type, body, response.status_code)
