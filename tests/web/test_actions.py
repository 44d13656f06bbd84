"""Vote and feedback buttons: toggling, htmx partials, anonymous users, CSRF, safe redirects."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from recommender.models import Interaction, Paper


def act_url(paper):
    return reverse("web:act", args=[paper.arxiv_id])


def test_anonymous_vote_goes_to_login(client, corpus):
    paper = corpus["attention"]
    response = client.post(act_url(paper), {"kind": "upvote", "next": "/trending/"})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")
    assert "%2Ftrending%2F" in response["Location"]
    assert not Interaction.objects.exists()


def test_anonymous_htmx_vote_redirects_the_page(client, corpus):
    response = client.post(act_url(corpus["attention"]), {"kind": "upvote"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    assert response["HX-Redirect"].startswith("/accounts/login/")


def test_vote_toggles_and_counts(member_client, member, corpus):
    paper = corpus["attention"]
    response = member_client.post(act_url(paper), {"kind": "upvote", "next": "/?day=2026-11-20"})
    assert response.status_code == 302 and response["Location"] == "/?day=2026-11-20"
    assert Interaction.objects.filter(user=member, paper=paper, kind="upvote").exists()
    assert Paper.objects.get(pk=paper.pk).local_upvotes == 1
    member_client.post(act_url(paper), {"kind": "upvote"})
    assert not Interaction.objects.filter(user=member, paper=paper).exists()
    assert Paper.objects.get(pk=paper.pk).local_upvotes == 0


def test_vote_shows_on_reload(member_client, corpus):
    paper = corpus["attention"]
    member_client.post(act_url(paper), {"kind": "save"})
    html = member_client.get(reverse("web:paper", args=[paper.arxiv_id])).content.decode()
    assert 'value="save" data-kind="save" aria-pressed="true"' in html


def test_htmx_vote_returns_partial(member_client, corpus):
    paper = corpus["attention"]
    response = member_client.post(act_url(paper), {"kind": "upvote"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith("<form") and "<html" not in html
    assert 'value="upvote" data-kind="upvote" aria-pressed="true"' in html
    assert '<span class="count">41</span>' in html  # 40 HF + 1 local


def test_thumbs_are_exclusive(member_client, member, corpus):
    paper = corpus["vision"]
    member_client.post(act_url(paper), {"kind": "thumbs_up"})
    member_client.post(act_url(paper), {"kind": "thumbs_down"})
    assert set(Interaction.objects.filter(user=member, paper=paper).values_list("kind", flat=True)) == {"thumbs_down"}


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)", "\\\\evil"])
def test_next_must_be_same_site(member_client, corpus, target):
    paper = corpus["attention"]
    response = member_client.post(act_url(paper), {"kind": "upvote", "next": target})
    assert response["Location"] == reverse("web:paper", args=[paper.arxiv_id])


def test_unknown_kind_or_paper_is_404(member_client, corpus):
    assert member_client.post(act_url(corpus["attention"]), {"kind": "click"}).status_code == 404
    assert member_client.post(act_url(corpus["attention"]), {"kind": "<script>"}).status_code == 404
    assert member_client.post(reverse("web:act", args=["9999.99999"]), {"kind": "upvote"}).status_code == 404


def test_vote_requires_post(member_client, corpus):
    assert member_client.get(act_url(corpus["attention"]), {"kind": "upvote"}).status_code == 405


def test_vote_requires_csrf_token(member, corpus):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(member)
    response = strict.post(act_url(corpus["attention"]), {"kind": "upvote"})
    assert response.status_code == 403
    assert not Interaction.objects.exists()
