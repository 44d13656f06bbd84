"""Form bodies in encodings Django cannot read answer 400, never 500, on every CSRF-protected POST.

Before: ``Content-Type: application/x-www-form-urlencoded; charset=utf-16`` made
``CsrfViewMiddleware`` read ``request.POST``, which raises ``BadRequest`` on every
access (Django does not mark the failed parse); the error page read it again, so
with ``DEBUG=1`` the answer was a 500 with an empty body. Now
``recommender.middleware.RejectUnreadableFormMiddleware`` refuses such bodies before
anything reads them.
"""

from __future__ import annotations

import pytest
from django.middleware.csrf import get_token
from django.test import Client, RequestFactory

from tests.factories import make_paper, make_subscriber

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-9"
FORM = "application/x-www-form-urlencoded"
BODY = b"email=reader%40example.org&login=reader%40example.org&password=x&kind=upvote"

PART = b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--'
UNREADABLE = [
    (f"{FORM}; charset=utf-16", "email=reader%40example.org".encode("utf-16")),
    (f"{FORM}; charset=utf-16", BODY),
    (f"{FORM}; charset=UTF-16LE", BODY),
    (f"{FORM}; charset=utf-32", BODY),
    (f"{FORM}; charset=latin-1", BODY),
    (f"{FORM}; charset=utf8", BODY),  # Django accepts only the spelling "utf-8" and raises on the rest
    (f"{FORM}; charset=bogus", BODY),
    (f"{FORM}; charset=", BODY),
    ("multipart/form-data", b"--x\r\n\r\n"),
    ("multipart/form-data; boundary=", b"--\r\n"),
    ("multipart/form-data; boundary=" + "a" * 300, b"--aaa\r\n"),
    ("multipart/form-data; boundary=\x01bad", b"--\x01bad\r\n"),
    ('multipart/form-data; boundary="x"; charset=utf-16', PART),
    ("multipart/form-data; boundary=x; charset=bogus", PART),
]


@pytest.fixture
def targets(db):
    paper = make_paper(category="cs.LG")
    member = make_subscriber("member@example.org", password=PASSWORD)
    return member, [
        "/subscribe/",
        "/accounts/login/",
        "/accounts/signup/",
        "/accounts/password/reset/",
        f"/papers/{paper.arxiv_id}/act/",
        "/account/preferences/",
        "/welcome/",
    ]


@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
@pytest.mark.parametrize("content_type, body", UNREADABLE, ids=[c[:60] for c, _ in UNREADABLE])
def test_unreadable_form_bodies_are_400_on_every_csrf_protected_post(settings, targets, debug, content_type, body):
    settings.DEBUG = debug
    member, urls = targets
    for who in ("anonymous", "member"):
        client = Client(enforce_csrf_checks=True, raise_request_exception=False)
        if who == "member":
            client.force_login(member)
        token = get_token(RequestFactory().get("/"))
        client.cookies["csrftoken"] = token  # a real browser has the cookie: the middleware then reads the body
        for url in urls:
            response = client.generic("POST", url, body, content_type=content_type)
            assert response.status_code == 400, (who, url, response.status_code, response.content[:200])
            assert response.content, "a 400 says why"


@pytest.mark.parametrize(
    "content_type",
    [FORM, f"{FORM}; charset=utf-8", f"{FORM}; charset=UTF-8", f'{FORM}; charset="utf-8"'],
)
def test_utf8_form_bodies_still_work(targets, content_type):
    member, _ = targets
    client = Client()
    response = client.generic("POST", "/subscribe/", b"email=reader%40example.org", content_type=content_type)
    assert response.status_code == 302
