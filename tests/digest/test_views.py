"""The links in a digest: clicks, one-click feedback, RFC 8058 unsubscribe, previews."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from recommender.digest.tokens import click_token, feedback_token, unsubscribe_token
from recommender.models import Interaction, Profile, Suppression
from tests.factories import make_paper, subscriber

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():
    return subscriber("reader@example.org")


@pytest.fixture
def paper():
    p = make_paper(category="cs.LG", github_repo="https://github.com/example/code")
    return p


def _click(user, paper, link="pdf"):
    return reverse("digest:click", args=[click_token.make_token(u=user.pk, p=paper.pk, l=link)])


def test_click_records_interaction_and_redirects_to_stored_url(client, user, paper):
    response = client.get(_click(user, paper, "pdf"))
    assert response.status_code == 302 and response["Location"] == paper.pdf_url
    assert Interaction.objects.filter(user=user, paper=paper, kind="click", source="email").count() == 1
    assert client.get(_click(user, paper, "code"))["Location"] == "https://github.com/example/code"
    # A Hugging Face link for a paper not on HF falls back to arXiv.
    assert client.get(_click(user, paper, "hf"))["Location"] == paper.abs_url


def test_click_cannot_redirect_elsewhere(client, user, paper):
    url = _click(user, paper, "abs")
    # Query parameters and tokens naming an unknown link never change the target.
    response = client.get(url + "?next=https://evil.example/&url=//evil.example")
    assert response["Location"] == paper.abs_url
    bad = reverse("digest:click", args=[click_token.make_token(u=user.pk, p=paper.pk, l="https://evil.example/")])
    assert client.get(bad).status_code == 404
    assert client.get(reverse("digest:click", args=["garbage:token"])).status_code == 404
    # A feedback token is not a click token.
    other = feedback_token.make_token(u=user.pk, p=paper.pk, k="thumbs_up")
    assert client.get(reverse("digest:click", args=[other])).status_code == 404


def test_stored_url_that_is_not_web_falls_back_to_arxiv(client, user):
    paper = make_paper(category="cs.LG", github_repo="https://github.com/x/y")
    type(paper).objects.filter(pk=paper.pk).update(github_repo="javascript:alert(1)")
    assert client.get(_click(user, paper, "code"))["Location"] == paper.abs_url


def test_feedback_get_records_nothing_post_records_vote():
    user = subscriber("voter@example.org")
    paper = make_paper(category="cs.LG", title="A <b>bold</b> claim")
    client = Client(enforce_csrf_checks=True)
    url = reverse("digest:feedback", args=[feedback_token.make_token(u=user.pk, p=paper.pk, k="thumbs_up")])
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'method="post"' in html and "<script>" in html and "<button" in html
    assert "A &lt;b&gt;bold&lt;/b&gt; claim" in html
    assert not Interaction.objects.filter(user=user).exists()  # link scanners stop here
    csrf = client.cookies["csrftoken"].value
    done = client.post(url, {"csrfmiddlewaretoken": csrf})
    assert done.status_code == 200
    assert Interaction.objects.filter(user=user, paper=paper, kind="thumbs_up", source="email").exists()
    # The opposite vote replaces it.
    down = reverse("digest:feedback", args=[feedback_token.make_token(u=user.pk, p=paper.pk, k="thumbs_down")])
    client.post(down, {"csrfmiddlewaretoken": csrf})
    assert set(Interaction.objects.filter(user=user).values_list("kind", flat=True)) == {"thumbs_down"}


def test_feedback_rejects_bad_tokens(client, user, paper):
    for token in ["nope", click_token.make_token(u=user.pk, p=paper.pk, l="abs")]:
        response = client.post(reverse("digest:feedback", args=[token]))
        assert response.status_code in (400, 403)
    assert not Interaction.objects.filter(user=user).exists()


def test_unsubscribe_get_changes_nothing(client, user):
    url = reverse("digest:unsubscribe", args=[unsubscribe_token.make_token(u=user.pk)])
    page = client.get(url)
    assert page.status_code == 200 and 'method="post"' in page.content.decode()
    assert Profile.objects.get(user=user).suppression == Suppression.NONE


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_one_click_unsubscribe_post_without_cookies_or_csrf(user, encoding):
    client = Client(enforce_csrf_checks=True)
    url = reverse("digest:unsubscribe", args=[unsubscribe_token.make_token(u=user.pk)])
    if encoding == "urlencoded":
        response = client.post(url, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    else:
        response = client.post(url, {"List-Unsubscribe": "One-Click"})  # multipart/form-data
    assert response.status_code == 200  # no redirect
    profile = Profile.objects.get(user=user)
    assert profile.suppression == Suppression.UNSUBSCRIBED and profile.next_digest_at is None


def test_unsubscribe_rejects_other_tokens(user):
    client = Client(enforce_csrf_checks=True)
    token = feedback_token.make_token(u=user.pk, p=1, k="thumbs_up")
    assert client.post(reverse("digest:unsubscribe", args=[token])).status_code == 400
    assert Profile.objects.get(user=user).suppression == Suppression.NONE


def test_feedback_and_paper_pages_need_csrf_on_post(user, paper):
    client = Client(enforce_csrf_checks=True)
    url = reverse("digest:feedback", args=[feedback_token.make_token(u=user.pk, p=paper.pk, k="not_interested")])
    assert client.post(url).status_code == 403
    assert not Interaction.objects.filter(user=user).exists()


def test_preview_for_user_and_staff(client, papers_today, django_user_model):
    user = subscriber("previewer@example.org")
    assert client.get(reverse("digest:preview")).status_code == 302  # login first
    client.force_login(user)
    page = client.get(reverse("digest:preview"))
    assert page.status_code == 200
    assert papers_today[0].title in page.content.decode()
    text = client.get(reverse("digest:preview") + "?format=text")
    assert papers_today[0].title in text.content.decode() and text["Content-Type"].startswith("text/plain")
    assert client.get(reverse("digest:preview_user", args=[user.pk])).status_code == 302  # not staff
    staff = django_user_model.objects.create_user("boss", "boss@example.org", "pw", is_staff=True)
    client.force_login(staff)
    assert client.get(reverse("digest:preview_user", args=[user.pk])).status_code == 403  # staff, no permission
    staff.user_permissions.add(Permission.objects.get(codename="preview_digest"))
    client.force_login(staff)
    page = client.get(reverse("digest:preview_user", args=[user.pk]))
    assert page.status_code == 200 and papers_today[0].title in page.content.decode()


def test_per_email_links_work_only_for_the_papers_of_that_delivery(client, user, paper):
    from recommender.digest.tokens import delivery_click_token, delivery_feedback_token
    from tests.factories import make_delivery

    other_paper = make_paper(category="cs.LG")
    trend = make_paper(category="cs.LG")
    # The links are checked against the plan rows (DeliveredPaper), not the legacy JSON lists.
    delivery = make_delivery(user, period_key="2026-11-22", papers=[paper.pk], trending=[trend.pk])
    click = delivery_click_token.make_token(u=user.pk, d=delivery.pk)
    vote = delivery_feedback_token.make_token(u=user.pk, d=delivery.pk)

    def c(pid, link="pdf", token=click):
        return reverse("digest:click_paper", args=[token, pid, link])

    def f(pid, kind="thumbs_up", token=vote):
        return reverse("digest:feedback_paper", args=[token, pid, kind])

    response = client.get(c(paper.pk))
    assert response.status_code == 302 and response["Location"] == paper.pdf_url
    assert client.get(c(trend.pk, "abs"))["Location"] == trend.abs_url
    assert Interaction.objects.filter(user=user, kind="click", source="email").count() == 2
    # A paper the email did not list, an unknown link name, another purpose's token, a tampered token: refused.
    assert client.get(c(other_paper.pk)).status_code == 404
    assert client.get(c(paper.pk, "https:")).status_code == 404
    assert client.get(c(paper.pk, token=vote)).status_code == 404
    assert client.get(c(paper.pk, token=click[:-2] + ("AA" if click[-2:] != "AA" else "BB"))).status_code == 404
    forged = delivery_click_token.make_token(u=user.pk + 1, d=delivery.pk)  # another user, this delivery
    assert client.get(c(paper.pk, token=forged)).status_code == 404
    # Feedback: GET records nothing, POST records the vote; only for the delivery's papers.
    assert client.get(f(paper.pk)).status_code == 200
    assert not Interaction.objects.filter(kind="thumbs_up").exists()
    csrf_client = Client(enforce_csrf_checks=False)
    assert csrf_client.post(f(paper.pk)).status_code == 200
    assert Interaction.objects.filter(user=user, paper=paper, kind="thumbs_up", source="email").count() == 1
    assert csrf_client.post(f(other_paper.pk)).status_code == 400
    assert csrf_client.post(f(paper.pk, "delete_account")).status_code == 400
    assert csrf_client.post(f(paper.pk, token=click)).status_code == 400
    # The old per-link format keeps working for emails already sent.
    assert client.get(_click(user, paper, "abs"))["Location"] == paper.abs_url
