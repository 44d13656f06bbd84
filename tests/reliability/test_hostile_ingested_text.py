"""A hostile paper from a feed, end to end: ingested as text, escaped on every page, in the feed and in the email.

The paper enters through the real ingestion path (an arXiv RSS document read
by ``ingest_run``), with a script tag, an event-handler image and LaTeX in its
title, abstract and author names. It must be stored verbatim as text and never appear as live
markup in: the daily listing, search, the paper page, for-you, the Atom feed,
the admin list and change page, the digest preview and the digest email
received by a real SMTP server. (XML 1.0 cannot carry control characters at
all; controls and NULs arriving in JSON are covered in tests/ingest/test_hostile.py.)
"""

from __future__ import annotations

import re
from xml.etree import ElementTree

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from recommender.digest.services import digest_send_now
from recommender.ingest.services import ingest_run
from recommender.models import Paper, Profile, Topic
from recommender.papers import search
from tests.factories import make_subscriber

pytestmark = pytest.mark.django_db

TITLE = 'Attention <script>alert("pb-title")</script> is $\\mathcal{O}(n^2)$ & <b>bold</b>'
ABSTRACT = (
    'We show <img src=x onerror=alert("pb-abstract")> that $\\alpha < \\beta$ holds. <iframe src="//evil.example">'
)
AUTHOR = '<svg onload=alert("pb-author")>Mallory'
LIVE_MARKUP = [
    '<script>alert("pb-title")',
    "<img src=x onerror",
    "<iframe",
    "<svg onload",
    "<b>bold</b>",
]


def _rss(day) -> bytes:
    from xml.sax.saxutils import escape

    description = f"arXiv:2611.99001v1 Announce Type: new \nAbstract: {ABSTRACT}"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>t</title>'
        f"<pubDate>{day:%a, %d %b %Y} 00:00:00 -0500</pubDate>"
        f"<item><title>{escape(TITLE)}</title><link>https://arxiv.org/abs/2611.99001</link>"
        f"<description>{escape(description)}</description><category>cs.LG</category>"
        f"<dc:creator>{escape(AUTHOR)}, Ada Lovelace</dc:creator></item>"
        "</channel></rss>"
    ).encode()


@pytest.fixture
def hostile_paper(tmp_path, settings):
    day = timezone.now().date()
    path = tmp_path / "hostile.xml"
    path.write_bytes(_rss(day))
    run = ingest_run(source="arxiv-rss", path=path, date=day)
    assert run.created == 1, run.error
    search.semantic_index_reset()
    return Paper.objects.get(arxiv_id="2611.99001")


def _assert_escaped(html: str, where: str) -> None:
    for markup in LIVE_MARKUP:
        assert markup not in html, f"{markup!r} unescaped in {where}"
    assert "&lt;script&gt;" in html or "&amp;lt;script" in html or "\\u003Cscript" in html, f"title missing in {where}"


def test_the_hostile_text_is_stored_as_text(hostile_paper):
    assert "<script>" in hostile_paper.title and "$\\mathcal{O}(n^2)$" in hostile_paper.title
    assert "<img src=x onerror" in hostile_paper.abstract and "\\alpha < \\beta" in hostile_paper.abstract
    # Parenthesised text in an author string is an affiliation and is dropped; the markup stays, as text.
    assert any(a.startswith("<svg onload=alert") for a in hostile_paper.authors)
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", hostile_paper.title + hostile_paper.abstract)


def test_script_in_a_title_never_reaches_any_page_unescaped(hostile_paper, smtp_server):
    member = make_subscriber("reader@example.org", password="correct-horse-battery-9")
    Profile.objects.filter(user=member).update(onboarded_at=timezone.now())
    Topic.objects.filter(user=member).update(categories=["cs.LG"])
    staff = get_user_model().objects.create_superuser(username="op", email="op@lab.example", password="x-Op-pass-42")
    anonymous, signed_in, operator = Client(), Client(), Client()
    signed_in.force_login(member)
    operator.force_login(staff)

    pages = {
        "daily (anonymous)": anonymous.get("/"),
        "daily (signed in)": signed_in.get("/"),
        "trending": anonymous.get(reverse("web:trending")),
        "search": anonymous.get(reverse("web:search"), {"q": "attention", "mode": "keyword"}),
        "search (semantic)": anonymous.get(reverse("web:search"), {"q": "attention alpha beta", "mode": "semantic"}),
        "paper": anonymous.get(reverse("web:paper", args=[hostile_paper.arxiv_id])),
        "for-you": signed_in.get(reverse("web:for_you")),
        "onboarding": signed_in.get(reverse("web:onboarding_rate")),
        "admin list": operator.get("/admin/recommender/paper/", {"q": "2611.99001"}),
        "admin change": operator.get(f"/admin/recommender/paper/{hostile_paper.pk}/change/"),
        "digest preview": signed_in.get(reverse("digest:preview")),
        "digest preview (staff)": operator.get(reverse("digest:preview_user", args=[member.pk])),
    }
    for where, response in pages.items():
        assert response.status_code == 200, where
        html = response.content.decode()
        if where == "onboarding" and "pb-title" not in html:
            continue  # only when the paper is among the suggestions
        assert "pb-title" in html, f"the paper is not on {where}"
        _assert_escaped(html, where)

    feed = anonymous.get(reverse("web:feed", args=[member.profile.feed_token]))
    assert feed.status_code == 200
    root = ElementTree.fromstring(feed.content)  # well-formed: controls dropped, markup escaped
    titles = [e.text for e in root.iter("{http://www.w3.org/2005/Atom}title")]
    assert TITLE in titles  # the text survives intact for the feed reader, which shows it as text
    assert b"<script>" not in feed.content

    delivery, _ = digest_send_now(user=member)
    assert delivery.status == "sent", (delivery.status, delivery.error, delivery.skip_reason)
    (message,) = smtp_server.wait_for(1)
    html = message.get_body(preferencelist=("html",)).get_content()
    _assert_escaped(html, "the digest email (HTML part)")
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "pb-title" in text  # the plain-text part carries it as text, which no client renders
    assert "pb-title" in message["Subject"] and "\n" not in message["Subject"]
