"""Both arXiv identifier schemes on every surface that builds a URL from an id; the feed's text; the code link.

Surfaces: the URL converter (reverse and resolve), the paper page and its vote
endpoint, the model's arXiv / PDF / Hugging Face links, the admin (its link
to the public page and its form), the ratings export (CSV and JSON), the
digest email (its text and its tracked links) and the personal Atom feed,
whose summary must be text, not markup. The ``code`` link follows one rule
(``recommender.paper_links.code_url``) on the web page, in the email and in
the click redirect.
"""

from __future__ import annotations

import csv
import io
import json
import re
from urllib.parse import urlsplit
from xml.etree import ElementTree

import pytest
from django.contrib.auth import get_user_model
from django.urls import NoReverseMatch, resolve, reverse
from django.utils import timezone

from recommender import arxiv_ids
from recommender.digest.tokens import click_token
from recommender.ingest.entries import DocumentError, split_arxiv_id
from recommender.models import Interaction, Paper, Profile
from recommender.paper_links import code_url
from tests.factories import make_paper, make_subscriber

pytestmark = pytest.mark.django_db

ATOM = "{http://www.w3.org/2005/Atom}"
IDS = ["2403.02233", "0704.0001", "hep-th/9901001", "astro-ph/0601001", "cs/0503050", "math.GT/0309136"]
BOTH = ["2611.04242", "gr-qc/0103067"]
HOSTILE_ABSTRACT = "<svg/onload=alert(1)> and <script>alert('pb')</script> & <b>bold</b>"


# --- the identifier module and the converter --------------------------------------------------


@pytest.mark.parametrize("arxiv_id", IDS)
def test_every_scheme_parses_reverses_and_resolves(arxiv_id):
    assert arxiv_ids.is_arxiv_id(arxiv_id)
    assert arxiv_ids.parse(f"{arxiv_id}v2") == (arxiv_id, 2)
    assert split_arxiv_id(f"http://arxiv.org/abs/{arxiv_id}v3") == (arxiv_id, 3)
    assert split_arxiv_id(f"oai:arXiv.org:{arxiv_id}") == (arxiv_id, None)
    for name, suffix in (("web:paper", ""), ("web:act", "act/")):
        url = reverse(name, args=[arxiv_id])
        assert url == f"/papers/{arxiv_id}/{suffix}"
        assert (resolve(url).view_name, resolve(url).kwargs) == (name, {"arxiv_id": arxiv_id})


BAD = ["", "2403.022", "2403.022334", "hep-th/990100", "hep-th/9901001v2", "../etc/passwd", "a b", "HEP-TH/9901001"]
# The old scheme's YYMM is 1991-2007 with a real month: a submission number or a zero id names no paper.
BAD += ["submit/5423911", "hep-th/0000000", "hep-th/9913001", "math/0801001"]


@pytest.mark.parametrize("bad", BAD)
def test_what_is_no_identifier_has_no_url(bad):
    assert not arxiv_ids.is_arxiv_id(bad)
    with pytest.raises(NoReverseMatch):
        reverse("web:paper", args=[bad])
    if bad and "v2" not in bad:
        with pytest.raises(DocumentError):
            split_arxiv_id(bad)


@pytest.mark.parametrize("arxiv_id", BOTH)
def test_paper_page_vote_and_model_links_for_both_schemes(client, arxiv_id):
    paper = make_paper(arxiv_id=arxiv_id, title="Gravitational waves from cosmic strings")
    paper.sources = ["arxiv-api", "hf-daily"]
    assert paper.abs_url == f"https://arxiv.org/abs/{arxiv_id}"
    assert paper.pdf_url == f"https://arxiv.org/pdf/{arxiv_id}"
    assert paper.hf_url == f"https://huggingface.co/papers/{arxiv_id}"
    response = client.get(f"/papers/{arxiv_id}/")
    assert response.status_code == 200 and f"arXiv:{arxiv_id}" in response.content.decode()
    user = make_subscriber("voter@example.org")
    client.force_login(user)
    response = client.post(f"/papers/{arxiv_id}/act/", {"kind": "upvote"})
    assert response.status_code == 302 and response["Location"] == f"/papers/{arxiv_id}/"
    assert Interaction.objects.filter(user=user, paper=paper, kind="upvote").exists()
    # One canonical URL per paper: a pasted versioned id redirects to it.
    versioned = client.get(f"/papers/{arxiv_id}v1/")
    assert versioned.status_code == 301 and versioned["Location"] == f"/papers/{arxiv_id}/"
    assert client.get(f"/papers/{arxiv_id}v/").status_code == 404


@pytest.mark.parametrize("arxiv_id", BOTH)
def test_admin_links_to_the_public_page_and_refuses_a_malformed_id(client, arxiv_id):
    paper = make_paper(arxiv_id=arxiv_id)
    staff = get_user_model().objects.create_superuser(username="op", email="op@lab.example", password="x-Op-pass-42")
    client.force_login(staff)
    change = f"/admin/recommender/paper/{paper.pk}/change/"
    for url in ("/admin/recommender/paper/", change):
        assert f'href="/papers/{arxiv_id}/"' in client.get(url).content.decode(), url
    form = client.get(change).context["adminform"].form
    data = {k: ("" if v is None else v) for k, v in form.initial.items() if k in form.fields}
    data.update({"arxiv_id": "not an id", "authors": "[]", "versions": "[]", "sources": "[]", "ai_keywords": "[]"})
    response = client.post(change, data)
    assert response.status_code == 200 and "arxiv_id" in response.context["adminform"].form.errors
    assert Paper.objects.get(pk=paper.pk).arxiv_id == arxiv_id


def test_exports_carry_both_schemes_verbatim(client):
    user = make_subscriber("exporter@example.org")
    for arxiv_id in BOTH:
        Interaction.objects.create(user=user, paper=make_paper(arxiv_id=arxiv_id), kind="upvote", source="web")
    client.force_login(user)
    rows = list(csv.DictReader(io.StringIO(client.get(reverse("web:export_csv")).content.decode())))
    assert sorted(r["arxiv_id"] for r in rows) == sorted(BOTH)
    ratings = json.loads(client.get(reverse("web:export_json")).content)["ratings"]
    assert sorted(r["arxiv_id"] for r in ratings) == sorted(BOTH)


def test_digest_email_names_and_links_papers_of_both_schemes(client, smtp_server):
    from recommender.digest.services import digest_send_now

    papers = [make_paper(arxiv_id=a, title=f"Gravity paper {a}", announced_on=timezone.now().date()) for a in BOTH]
    user = make_subscriber("reader@example.org")
    delivery, _ = digest_send_now(user=user)
    assert delivery.status == "sent", (delivery.status, delivery.error, delivery.skip_reason)
    (message,) = smtp_server.wait_for(1)
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    for paper in papers:
        assert f"arXiv:{paper.arxiv_id}" in text and f"arXiv:{paper.arxiv_id}" in html
    targets = set()
    for url in set(re.findall(r'href="([^"]*/d/c/[^"]+)"', html)):
        response = client.get(urlsplit(url).path)
        assert response.status_code == 302, url
        targets.add(response["Location"])
    for paper in papers:
        assert {paper.abs_url, paper.pdf_url} <= targets, (paper.arxiv_id, targets)


# --- the Atom feed carries text as text ---------------------------------------------------------


@pytest.mark.parametrize("arxiv_id", BOTH)
def test_feed_summary_is_text_and_links_both_schemes(client, arxiv_id, settings):
    paper = make_paper(arxiv_id=arxiv_id, title="A <b>title</b> & more", abstract=HOSTILE_ABSTRACT)
    user = make_subscriber("feed@example.org")
    response = client.get(reverse("web:feed", args=[Profile.objects.get(user=user).feed_token]))
    assert response.status_code == 200
    root = ElementTree.fromstring(response.content)  # well-formed XML
    (entry,) = [e for e in root.iter(f"{ATOM}entry") if e.findtext(f"{ATOM}id") == f"arxiv:{arxiv_id}"]
    summary = entry.find(f"{ATOM}summary")
    # type="text": a reader shows the characters; type="html" would make <svg/onload> live markup.
    assert summary.get("type", "text") == "text"
    assert HOSTILE_ABSTRACT in summary.text
    assert entry.find(f"{ATOM}title").get("type", "text") == "text" and entry.findtext(f"{ATOM}title") == paper.title
    assert entry.find(f"{ATOM}link").get("href") == settings.SITE_URL + f"/papers/{arxiv_id}/"
    assert not list(summary)  # no child elements: nothing in it is markup


# --- the code link: one rule for the page, the email and the redirect ----------------------------


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ("https://github.com/example/repo", "https://github.com/example/repo"),
        ("https://gitlab.com/example/repo", ""),
        ("http://github.com/example/repo", ""),
        ("https://github.com.evil.example/repo", ""),
        ("https://github.com@evil.example/repo", ""),
        ("https://github.com/", ""),
        ("https://github.com/\\@evil.example", ""),
        ("https://github.com/a b", ""),
        ("javascript:alert(1)//https://github.com/", ""),
        ("", ""),
    ],
)
def test_code_url_rule(stored, expected):
    assert code_url(stored) == expected


def test_a_non_github_code_link_is_neither_shown_nor_followed(client, smtp_server):
    from recommender.digest.services import digest_send_now

    paper = make_paper(title="Repository elsewhere", github_repo="https://github.com/example/repo")
    Paper.objects.filter(pk=paper.pk).update(github_repo="https://evil.example/phish")  # e.g. typed in the admin
    paper.refresh_from_db()
    user = make_subscriber("clicker@example.org")
    assert paper.code_url == ""
    page = client.get(reverse("web:paper", args=[paper.arxiv_id])).content.decode()
    assert "evil.example" not in page and 'nofollow">Code' not in page
    delivery, _ = digest_send_now(user=user)
    assert delivery.status == "sent", (delivery.status, delivery.error, delivery.skip_reason)
    (message,) = smtp_server.wait_for(1)
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "Repository elsewhere" in html and ">Code<" not in html
    # A "code" link made before the value changed (or forged with a valid token) lands on arXiv instead.
    response = client.get(reverse("digest:click", args=[click_token.make_token(u=user.pk, p=paper.pk, l="code")]))
    assert response.status_code == 302 and response["Location"] == paper.abs_url


def test_a_github_code_link_is_shown_and_followed(client):
    paper = make_paper(title="Code on GitHub", github_repo="https://github.com/example/repo")
    user = make_subscriber("clicker@example.org")
    page = client.get(reverse("web:paper", args=[paper.arxiv_id])).content.decode()
    assert 'href="https://github.com/example/repo"' in page
    response = client.get(reverse("digest:click", args=[click_token.make_token(u=user.pk, p=paper.pk, l="code")]))
    assert response.status_code == 302 and response["Location"] == "https://github.com/example/repo"
