"""Hostile web input: NUL and controls, header injection, overlong input, SQL and XSS payloads, CSRF, methods.

Each case is a real request through the full middleware stack; the assertions are
on what came back (status, HTML) and on what the database holds afterwards.
The suite runs on SQLite and on PostgreSQL, which refuses NUL in text: a NUL
that reached a query there would be a 500.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.urls import reverse

from recommender.digest.tokens import feedback_token, unsubscribe_token
from recommender.models import Interaction, Paper, Profile, Topic
from recommender.subscriptions.topics import topic_default, topics_of
from tests.factories import make_paper

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-9"  # for accounts the tests sign up (the member has ``password``)
XSS = '<script>alert("pb-xss")</script><img src=x onerror=alert(1)>'
CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@pytest.fixture
def paper(db):
    return make_paper(category="cs.LG", title="Graph networks for reliable mail", trending_score=1.0)


def _no_controls_stored() -> None:
    """No text column of the rows the web writes holds a C0 control character."""
    for topic in Topic.objects.all():
        assert not CONTROL_RE.search(topic.name), topic.name
        for name in ("include_keywords", "exclude_keywords", "include_authors", "exclude_authors"):
            for rule in getattr(topic, name) or []:
                assert not CONTROL_RE.search(rule), (name, rule)
    for profile in Profile.objects.all():
        assert not CONTROL_RE.search(profile.time_zone)
    for user in get_user_model().objects.all():
        assert not CONTROL_RE.search(user.email + user.username), user.email


# --- NUL and control characters on every input path ----------------------------------

NUL_GETS = [
    "/papers/2611.00001%00/",
    "/papers/%00/",
    "/feed/%00abc/atom.xml",
    "/search/?q=graph%00networks",
    "/search/?q=%00&mode=%00",
    "/?day=2026-11-20%00&category=cs.LG%00&page=1%00",
    "/trending/?category=%00",
    "/d/click/%00/",
    "/d/feedback/%00/",
    "/d/unsubscribe/%00/",
    "/accounts/login/?next=/%00",
    "/accounts/confirm-email/%00/",
    "/accounts/password/reset/key/%00-set-password/",
]


@pytest.mark.parametrize("url", NUL_GETS)
def test_nul_in_urls_is_not_a_server_error(client, paper, url):
    response = client.get(url)
    assert response.status_code == 400, (url, response.status_code)  # recommender.middleware.RejectNulMiddleware


@pytest.mark.parametrize("url", ["/admin/recommender/paper/?q=%00", "/admin/auth/user/?q=a%00b", "/admin/?q=%00"])
def test_nul_in_admin_search_is_not_a_server_error(staff_client, paper, url):
    assert staff_client.get(url).status_code == 400


@pytest.mark.parametrize(
    "url, data",
    [
        ("/subscribe/", {"email": "nul\x00@example.org"}),
        ("/accounts/login/", {"login": "member\x00@example.org", "password": "x\x00"}),
        ("/accounts/signup/", {"email": "new\x00@example.org", "password1": PASSWORD, "password2": PASSWORD}),
        ("/accounts/password/reset/", {"email": "member@example.org\x00"}),
        ("/d/unsubscribe/%00/", {"List-Unsubscribe": "One-Click\x00"}),
    ],
    ids=["subscribe", "login", "signup", "reset", "unsubscribe"],
)
def test_nul_in_anonymous_forms_is_rejected_not_stored(client, member, url, data):
    users_before = get_user_model().objects.count()
    response = client.post(url, data)
    assert response.status_code < 500
    assert get_user_model().objects.count() == users_before  # nothing created from a NUL address
    assert not mail.outbox
    _no_controls_stored()


def _topic_data(**fields) -> dict:
    """What the default topic's page posts (what to read lives on the topics: recommender/web/topics.py)."""
    data = {
        "name": "General",
        "categories": ["cs.LG"],
        "include_keywords": "",
        "exclude_keywords": "",
        "include_authors": "",
        "exclude_authors": "",
        "trending_weight": "0.5",
    }
    return {**data, **fields}


TOPIC_URL = "/account/topics/general/"


@pytest.mark.parametrize("control", ["\x00", "\x01", "\x07", "\x1b", "\x1f", "\x7f"])
def test_controls_in_preferences_never_reach_the_database(member_client, member, control):
    data = {
        "frequency": "daily",
        "weekday": "0",
        "send_time": "08:00",
        "time_zone": "Europe/Paris",
        "papers_per_email": "10",
        "language": "en",
    }
    response = member_client.post(reverse("web:preferences"), data)
    assert response.status_code in (200, 302)
    rules = _topic_data(
        include_keywords=f"graph{control}neural, diffusion",
        exclude_keywords=f"{control}crypto",
        include_authors=f"Ada{control} Lovelace",
    )
    assert member_client.post(TOPIC_URL, rules).status_code in (200, 302)
    assert member_client.post(reverse("web:topics"), {"new-name": f"RL{control} theory"}).status_code in (200, 302)
    assert member_client.post(TOPIC_URL, _topic_data(name=f"Gen{control}eral")).status_code in (200, 302)
    _no_controls_stored()


def test_nul_in_a_vote_is_rejected(member_client, paper):
    response = member_client.post(reverse("web:act", args=[paper.arxiv_id]), {"kind": "upvote\x00"})
    assert response.status_code == 404
    assert not Interaction.objects.exists()


# --- email header injection, invalid and overlong addresses --------------------------

BAD_ADDRESSES = [
    "victim@example.org\r\nBcc: many@evil.example",
    "victim@example.org\nSubject: free money",
    "victim@example.org%0ABcc:many@evil.example",
    "Victim <victim@example.org>, other@evil.example",
    "not-an-address",
    "@example.org",
    "victim@",
    "a" * 250 + "@example.org",
    "victim@example.org" + " " * 3 + "x",
    "",
]


@pytest.mark.parametrize("address", BAD_ADDRESSES)
def test_subscribe_refuses_bad_addresses_and_sends_nothing(client, db, address):
    users_before = get_user_model().objects.count()
    response = client.post(reverse("web:subscribe"), {"email": address})
    assert response.status_code < 500
    assert get_user_model().objects.count() == users_before
    assert not mail.outbox


@pytest.mark.parametrize("address", BAD_ADDRESSES[:4] + BAD_ADDRESSES[7:8])
def test_signup_and_reset_refuse_header_injection(client, member, address):
    users_before = get_user_model().objects.count()
    signup = client.post("/accounts/signup/", {"email": address, "password1": PASSWORD, "password2": PASSWORD})
    reset = client.post("/accounts/password/reset/", {"email": address})
    assert signup.status_code < 500 and reset.status_code < 500
    assert get_user_model().objects.count() == users_before
    for message in mail.outbox:  # nothing at all, or nothing to anyone but a single clean address
        assert message.to == [] or all("\n" not in to and "," not in to for to in message.to)
        assert "evil.example" not in " ".join(message.to + message.bcc + message.cc)
        assert "free money" not in message.subject


def test_overlong_inputs_are_refused_gracefully(client, member_client, member, paper):
    huge = "x" * 100_000
    assert client.get("/papers/" + "9" * 5000 + "/").status_code == 404
    assert client.post("/accounts/login/", {"login": huge + "@example.org", "password": huge}).status_code < 500
    assert client.post(reverse("web:subscribe"), {"email": huge + "@example.org"}).status_code < 500
    response = member_client.post(TOPIC_URL, _topic_data(include_keywords=huge))
    assert response.status_code == 200  # the form again, with an error
    assert topic_default(user=member).include_keywords == []
    assert member_client.post(reverse("web:topics"), {"new-name": huge}).status_code == 200
    assert len(topics_of(user=member)) == 1
    assert not mail.outbox


# --- SQL metacharacters ------------------------------------------------------------------

SQL_PAYLOADS = [
    "' OR '1'='1",
    "graph'; DROP TABLE recommender_paper; --",
    '" OR ""="',
    "1) UNION SELECT password FROM auth_user --",
    "%' AND 1=1 --",
    "\\'; SELECT pg_sleep(5); --",
    "graph & | ! : * ( ) <-> networks",
    "NEAR(graph networks) OR title:*",
]


@pytest.mark.parametrize("payload", SQL_PAYLOADS)
def test_sql_metacharacters_are_data(client, member_client, staff_client, paper, payload):
    before = Paper.objects.count()
    for mode in ("keyword", "semantic", "blend"):
        response = client.get(reverse("web:search"), {"q": payload, "mode": mode})
        assert response.status_code == 200, (mode, payload)
    assert client.get("/", {"category": payload, "day": payload, "page": payload}).status_code == 200
    # No such id has a URL of the site (reverse refuses it); requested by hand, the path is a 404.
    assert client.get("/papers/" + quote(payload, safe="") + "/").status_code == 404
    assert staff_client.get("/admin/recommender/paper/", {"q": payload}).status_code == 200
    assert member_client.post(reverse("web:act", args=[paper.arxiv_id]), {"kind": payload}).status_code == 404
    assert Paper.objects.count() == before
    assert get_user_model().objects.filter(email="member@example.org").exists()


# --- reflected XSS -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, params",
    [
        ("/search/", {"q": XSS}),
        ("/search/", {"q": "graph", "mode": XSS}),
        ("/", {"category": XSS, "day": XSS, "page": XSS}),
        ("/trending/", {"category": XSS}),
        ("/accounts/login/", {"next": XSS}),
        ("/accounts/signup/", {"next": XSS}),
        ("/papers/" + XSS.replace("/", "%2F") + "/", {}),
        ("/d/feedback/" + XSS.replace("/", "%2F") + "/", {}),
    ],
)
def test_reflected_script_is_escaped(client, paper, url, params):
    html = client.get(url, params).content.decode()
    assert "<script>alert(" not in html and "<img src=x" not in html


def test_xss_in_every_preferences_text_field_is_escaped(member_client, member):
    data = {
        "frequency": "daily",
        "weekday": "0",
        "send_time": "08:00",
        "time_zone": "UTC",
        "papers_per_email": "10",
        "language": "en",
    }
    member_client.post(reverse("web:preferences"), data)
    rules = {name: XSS for name in ("include_keywords", "exclude_keywords", "include_authors", "exclude_authors")}
    member_client.post(TOPIC_URL, _topic_data(**rules))
    member_client.post(reverse("web:topics"), {"new-name": XSS})
    for url in (reverse("web:preferences"), TOPIC_URL, reverse("web:topics"), reverse("web:for_you")):
        html = member_client.get(url).content.decode()
        assert "<script>alert(" not in html and "<img src=x" not in html, url
    assert member_client.post(reverse("web:preferences"), {**data, "time_zone": XSS}).status_code == 200
    html = member_client.post(reverse("web:preferences"), {**data, "time_zone": XSS}).content.decode()
    assert "<script>alert(" not in html


# --- CSRF on every state-changing endpoint, methods -------------------------------------------


def _post_endpoints(paper, member, password):
    token = feedback_token.make_token(u=member.pk, p=paper.pk, k="thumbs_up")
    return [
        (reverse("web:subscribe"), {"email": "csrf@example.org"}),
        (reverse("web:act", args=[paper.arxiv_id]), {"kind": "upvote"}),
        (reverse("web:preferences"), {"frequency": "off"}),
        (reverse("web:feed_token"), {}),
        (reverse("web:reset"), {}),
        (reverse("web:reset"), {"topic": "general"}),
        (reverse("web:topics"), {"new-name": "CSRF topic"}),
        (TOPIC_URL, _topic_data(name="Renamed by CSRF")),
        (reverse("web:topic_delete", args=["general"]), {}),
        (reverse("web:delete"), {"confirm": "on", "password": password}),
        (reverse("web:onboarding"), {"categories": ["cs.CL"]}),
        (reverse("web:onboarding_rate"), {}),
        (reverse("digest:feedback", args=[token]), {}),
        ("/accounts/login/", {"login": "member@example.org", "password": password}),
        ("/accounts/signup/", {"email": "csrf2@example.org", "password1": PASSWORD, "password2": PASSWORD}),
        ("/accounts/password/reset/", {"email": "member@example.org"}),
        ("/accounts/logout/", {}),
        ("/accounts/email/", {"email": "second@example.org", "action_add": ""}),
        (
            "/accounts/password/change/",
            {"oldpassword": password, "password1": "n3w-" + password, "password2": "n3w-" + password},
        ),
    ]


def test_every_state_changing_post_needs_the_csrf_token(member, paper, password):
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    profile_before = Profile.objects.filter(user=member).values().get()
    for url, data in _post_endpoints(paper, member, password):
        response = client.post(url, data)
        assert response.status_code == 403, (url, response.status_code)
    assert Profile.objects.filter(user=member).values().get() == profile_before
    assert [(t.name, t.slug) for t in topics_of(user=member)] == [("General", "general")]
    assert not Interaction.objects.exists()
    assert get_user_model().objects.count() == 1
    member.refresh_from_db()
    assert member.check_password(password)
    assert not mail.outbox


@pytest.mark.parametrize(
    "method, url_name, args",
    [
        ("get", "web:subscribe", []),
        ("get", "web:feed_token", []),
        ("get", "web:reset", []),
        ("put", "web:preferences", []),
        ("delete", "web:delete", []),
        ("post", "web:daily", []),
        ("post", "web:search", []),
        ("post", "web:trending", []),
        ("put", "web:for_you", []),
        ("post", "web:export_json", []),
    ],
)
def test_wrong_method_is_405_and_changes_nothing(member_client, member, method, url_name, args):
    before = Profile.objects.filter(user=member).values().get()
    response = getattr(member_client, method)(reverse(url_name, args=args))
    assert response.status_code == 405
    assert Profile.objects.filter(user=member).values().get() == before


def test_vote_by_get_is_405(member_client, paper):
    assert member_client.get(reverse("web:act", args=[paper.arxiv_id]), {"kind": "upvote"}).status_code == 405
    assert not Interaction.objects.exists()


def test_unsubscribe_get_and_head_change_nothing(client, member):
    token = unsubscribe_token.make_token(u=member.pk)
    for method in ("get", "head", "options"):
        getattr(client, method)(reverse("digest:unsubscribe", args=[token]))
    assert Profile.objects.get(user=member).suppression == ""


@pytest.mark.parametrize(
    "url",
    [
        "/papers/%FF%FE/",
        "/papers/%C0%AF%C0%AF/",
        "/search/?q=%FF%FE%FD",
        "/?category=%C3%28&day=%E2%82",
        "/feed/%ED%A0%80/atom.xml",  # an encoded lone surrogate
        "/d/unsubscribe/%FF/",
    ],
)
def test_invalid_utf8_in_urls_is_not_a_server_error(client, paper, url):
    assert client.get(url).status_code < 500


def test_invalid_utf8_in_a_form_body_is_not_a_server_error(client, db):
    response = client.post(
        reverse("web:subscribe"), b"email=%FF%FE%40example.org", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code < 500
    assert get_user_model().objects.count() == 0 and not mail.outbox


def _admin_form_data(client, url: str) -> dict:
    """The admin change form's current values, as the browser would post them back."""
    import html as html_lib

    page = client.get(url).content.decode()
    data = {}
    for match in re.finditer(r'<input[^>]*name="([a-zA-Z0-9_-]+)"[^>]*>', page):
        tag = match.group(0)
        if 'type="checkbox"' in tag and "checked" not in tag:
            continue
        value = re.search(r'value="([^"]*)"', tag)
        data[match.group(1)] = html_lib.unescape(value.group(1)) if value else ""
    for match in re.finditer(r'<textarea[^>]*name="([a-zA-Z0-9_-]+)"[^>]*>(.*?)</textarea>', page, re.S):
        data[match.group(1)] = html_lib.unescape(match.group(2)).strip()
    for match in re.finditer(r'<select[^>]*name="([a-zA-Z0-9_-]+)"[^>]*>(.*?)</select>', page, re.S):
        selected = re.findall(r'<option value="([^"]*)"[^>]*selected', match.group(2))
        data[match.group(1)] = selected if "multiple" in match.group(0) else (selected[0] if selected else "")
    data.pop("csrfmiddlewaretoken", None)
    return {**data, "_save": "Save"}


@pytest.mark.parametrize(
    "model, field, value",
    [
        ("paper", "authors", '["Ada\\u0000Lovelace"]'),
        ("paper", "ai_keywords", '["x", {"k": "\\u0000"}]'),
        ("topic", "include_keywords", '["graph\\u0000"]'),  # inline on the user page
    ],
)
def test_nul_escaped_in_admin_json_fields_is_refused_not_a_server_error(
    staff_client, member, paper, model, field, value
):
    if model == "paper":
        obj, url, posted = paper, f"/admin/recommender/paper/{paper.pk}/change/", field
    else:
        obj, url, posted = topic_default(user=member), f"/admin/auth/user/{member.pk}/change/", f"topics-0-{field}"
    before = type(obj).objects.filter(pk=obj.pk).values(field).get()
    response = staff_client.post(url, {**_admin_form_data(staff_client, url), posted: value})
    assert response.status_code == 200  # the form again, with an error
    assert "NUL" in response.content.decode()
    assert type(obj).objects.filter(pk=obj.pk).values(field).get() == before


def test_hostile_rules_are_saved_and_the_subscriber_still_gets_a_digest(member_client, member, smtp_server):
    """Rules with regex syntax, markup and catastrophic-backtracking shapes are plain text to the ranking."""
    import time

    from recommender.digest.services import digest_send_now
    from tests.factories import make_paper

    for i in range(4):
        make_paper(category="cs.LG", title=f"Graph (networks) [{i}] a+b", trending_score=1.0 + i)
    rules = "(, [unclosed, \\, .*, (a+)+$, " + XSS + ", " + "a" * 99
    data = _topic_data(include_keywords=rules, exclude_keywords="(a|a)*b, ((((", include_authors=rules)
    assert member_client.post(TOPIC_URL, data).status_code == 302
    assert "(a+)+$" in topic_default(user=member).include_keywords
    started = time.monotonic()
    delivery, _ = digest_send_now(user=member)
    assert time.monotonic() - started < 10
    assert delivery.status == "sent", (delivery.status, delivery.error, delivery.skip_reason)
    (message,) = smtp_server.wait_for(1)
    assert "<script>alert(" not in message.get_body(preferencelist=("html",)).get_content()
    assert member_client.get(reverse("web:for_you")).status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "/?day=0001-01-01",
        "/?day=9999-12-31",
        "/?day=2026-02-30",
        "/?page=-1",
        "/?page=99999999999999999999",
        "/search/?q=graph&page=99999999999999999999",
        "/trending/?page=0",
    ],
)
def test_out_of_range_dates_and_pages_fall_back(client, paper, url):
    assert client.get(url).status_code == 200
