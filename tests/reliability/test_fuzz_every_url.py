"""No request makes the site answer 500: every URL pattern, arbitrary methods, bodies, charsets and query strings.

The URL patterns come from the project's URL conf (site, digest links, accounts,
admin, ESP webhooks), so a new view is covered the day it is added. Path
parameters are filled with generated values and with real ones (paper ids in
both identifier schemes, user and row ids, valid signed tokens, the feed
token) so the requests reach the views' inner code, not only their 404s.
Requests go through the whole middleware stack as an anonymous visitor, a
subscriber and a superuser, with and without CSRF enforcement (a CSRF cookie
makes the middleware read the body, as for a real browser).
"""

from __future__ import annotations

import re
from urllib.parse import quote, quote_from_bytes, urlencode

import pytest
from django.middleware.csrf import get_token
from django.test import Client, RequestFactory
from django.urls import URLResolver, get_resolver
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from recommender.digest.tokens import (
    click_token,
    delivery_click_token,
    delivery_feedback_token,
    feedback_token,
    unsubscribe_token,
)
from recommender.models import Profile
from tests.factories import make_delivery, make_paper, make_subscriber

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-9"
PARAM = re.compile(r"<(?:(?P<conv>\w+):)?(?P<name>\w+)>")
GROUP = re.compile(r"\(\?P<(?P<name>\w+)>(?P<body>[^()]*)\)")
OPTIONAL = re.compile(r"\([^()]*\)\?")
METHODS = ["GET", "POST", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"]
FORM = "application/x-www-form-urlencoded"
CONTENT_TYPES = [
    FORM,
    f"{FORM}; charset=utf-8",
    f"{FORM}; charset=utf-16",
    f"{FORM}; charset=utf-32",
    f"{FORM}; charset=latin-1",
    f"{FORM}; charset=bogus",
    "multipart/form-data",
    "multipart/form-data; boundary=",
    "multipart/form-data; boundary=xyz",
    "multipart/form-data; boundary=xyz; charset=utf-16",
    "multipart/form-data; boundary=xyz; charset=bogus",
    "application/json",
    "application/json; charset=utf-16",
    "text/plain; charset=utf-16",
    "text/xml",
    "",
]
FIELDS = [
    "email", "login", "password", "password1", "password2", "remember", "next", "kind", "q", "mode", "page",
    "category", "day", "categories", "csrfmiddlewaretoken", "frequency", "time_zone", "language",
    "papers_per_email", "include_keywords", "rating-1", "confirm", "action", "_selected_action", "post", "code",
]  # fmt: skip


def url_patterns() -> list[str]:
    """Every route of the URL conf, as a template with ``<conv:name>`` placeholders (regex routes simplified)."""

    def walk(patterns, prefix):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            else:
                yield prefix + str(p.pattern)

    out = []
    for route in walk(get_resolver().url_patterns, ""):
        route = OPTIONAL.sub("", route.replace("^", "").replace("$", ""))
        route = GROUP.sub(lambda m: f"<re:{m['name']}>" if "|" not in m["body"] else m["body"].split("|")[0], route)
        out.append(route.replace(".*", "<path:url>"))
    return sorted(set(out))


PATTERNS = url_patterns()


@pytest.fixture
def world(db):
    """A paper in each identifier scheme, a subscriber with a delivery, a superuser; real values for every kind
    of path parameter."""
    from django.contrib.auth import get_user_model

    new, old = make_paper(category="cs.LG"), make_paper(category="hep-th", arxiv_id="hep-th/9901001")
    member = make_subscriber("member@example.org", password=PASSWORD, categories=["cs.LG"])
    admin = get_user_model().objects.create_superuser(username="op", email="op@lab.example", password=PASSWORD)
    delivery = make_delivery(member, period_key="2026-11-20", status="sent", papers=[new.pk])
    profile = Profile.objects.get(user=member)
    ids = [str(x) for x in (new.pk, old.pk, member.pk, admin.pk, delivery.pk, profile.pk)]
    tokens = [
        unsubscribe_token.make_token(u=member.pk),
        feedback_token.make_token(u=member.pk, p=new.pk, k="thumbs_up"),
        click_token.make_token(u=member.pk, p=new.pk, l="abs"),
        delivery_click_token.make_token(u=member.pk, d=delivery.pk),
        delivery_feedback_token.make_token(u=member.pk, d=delivery.pk),
        profile.feed_token,
    ]
    return {
        "member": member,
        "admin": admin,
        "real": {
            "arxiv_id": [new.arxiv_id, old.arxiv_id, "astro-ph/0601001v2", "2611.00001v3"],
            "token": tokens,
            "link": ["abs", "pdf", "hf", "code"],
            "kind": ["thumbs_up", "thumbs_down", "upvote", "save"],
            "app_label": ["recommender", "auth"],
        },
        "ids": ids,
    }


segment_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
raw_bytes = st.binary(max_size=24)


def path_value(world, conv: str, name: str):
    real = world["real"].get(name, [])
    if conv == "int" or name in ("pk", "id", "object_id", "user_id", "paper_id", "content_type_id"):
        real = real + world["ids"]
    generated = st.one_of(
        st.integers(-(10**20), 10**20).map(str),
        segment_text.map(lambda s: quote(s, safe="")),
        raw_bytes.map(lambda b: quote_from_bytes(b, safe="")),
    )
    return st.sampled_from(real) | generated if real else generated


@st.composite
def requests(draw, world):
    route = draw(st.sampled_from(PATTERNS))
    path = "/" + PARAM.sub(lambda m: draw(path_value(world, m["conv"] or "str", m["name"])), route)
    field = st.sampled_from(FIELDS) | segment_text
    pairs = st.lists(st.tuples(field, segment_text | st.sampled_from(world["real"]["arxiv_id"])), max_size=6)
    query = draw(pairs.map(urlencode) | raw_bytes.map(lambda b: quote_from_bytes(b, safe="=&")))
    content_type = draw(st.sampled_from(CONTENT_TYPES))
    if "charset=utf-16" in content_type and draw(st.booleans()):
        body = draw(pairs.map(urlencode)).encode("utf-16")
    else:
        body = draw(pairs.map(lambda p: urlencode(p).encode()) | st.binary(max_size=200))
    return {
        "method": draw(st.sampled_from(METHODS)),
        "path": path + (f"?{query}" if query else ""),
        "content_type": content_type,
        "body": body,
        "who": draw(st.sampled_from(["anonymous", "member", "admin"])),
        "csrf": draw(st.booleans()),
    }


def send(world, request):
    client = Client(enforce_csrf_checks=request["csrf"])
    user = world.get(request["who"])
    if user is not None and type(user).objects.filter(pk=user.pk).exists():  # an admin POST may have deleted it
        client.force_login(user)
    if request["csrf"]:
        client.cookies["csrftoken"] = get_token(RequestFactory().get("/"))
    response = client.generic(request["method"], request["path"], request["body"], content_type=request["content_type"])
    assert response.status_code < 500, (request, response.status_code)
    return response


def test_the_url_conf_is_fully_enumerated():
    assert len(PATTERNS) > 150
    for route in ["", "healthz", "accounts/login/", "admin/recommender/paper/", "d/preview/"]:
        assert route in PATTERNS, route
    assert any(p.startswith("papers/<") for p in PATTERNS) and any(p.startswith("feed/<") for p in PATTERNS)


@pytest.mark.slow
def test_every_url_pattern_with_real_values_and_a_hostile_body(world):
    """Each pattern with real path values, GET then an unreadable POST, as a superuser for the admin and anonymous
    and as a subscriber elsewhere: a deterministic sweep (about 400 requests)."""
    real = world["real"]

    def fill(route):
        def value(m):
            pool = real.get(m["name"]) or world["ids"]
            return quote(pool[0], safe="")

        return "/" + PARAM.sub(value, route)

    for route in PATTERNS:
        for who in ("admin",) if route.startswith("admin/") else ("anonymous", "member"):
            base = {"path": fill(route), "who": who, "csrf": True}
            send(world, {**base, "method": "GET", "content_type": "", "body": b""})
            send(world, {**base, "method": "POST", "content_type": f"{FORM}; charset=utf-16", "body": b"a=1"})


@pytest.mark.slow
@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
def test_arbitrary_requests_on_every_url_pattern_never_answer_500(world, settings, debug):
    settings.DEBUG = debug

    @hsettings(
        max_examples=200 if not debug else 60,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(request=requests(world))
    def check(request):
        send(world, request)

    check()
