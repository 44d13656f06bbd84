"""Rendering: CSS inlined once per template gives the same email as premailer per email; summaries; queries."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from recommender.digest.context import authors_display, digest_batch_build, digest_build
from recommender.digest.render import inline_template_source, render_digest
from recommender.summaries import summarize as summarize_pluggable
from recommender.summaries.extractive import split_sentences, summarize
from tests.factories import subscriber

pytestmark = pytest.mark.django_db


def _normalise(html: str) -> str:
    return re.sub(r"\s+", " ", html).strip()


def test_inlined_once_equals_premailer_per_email(papers_today, trending_old):
    user = subscriber("render@example.org")
    content = digest_build(user=user, now=timezone.now())
    assert not content.skip_reason
    fast = render_digest(content.context)
    naive = render_digest(content.context, naive=True)
    assert fast.subject == naive.subject and fast.text == naive.text
    styles = lambda html: re.findall(r'style="([^"]*)"', html)  # noqa: E731
    assert styles(fast.html) == styles(naive.html)
    # The layout's few inline styles (wrapper, container, section titles, paper titles); the rest in <style>.
    assert len(styles(fast.html)) >= 10 and "max-width:640px" in fast.html.replace(" ", "")
    assert ".summary td" in fast.html and ".summary td" in naive.html
    assert _normalise(re.sub(r"<[^>]+>", "", fast.html)) == _normalise(re.sub(r"<[^>]+>", "", naive.html))


def test_template_tags_survive_inlining():
    source = (
        "<html><head><style>.x{color:red}</style></head><body><table>"
        '{% for i in items %}<tr><td class="x"><a href="{{ i.url }}">{{ i.t }}</a></td></tr>{% endfor %}'
        "</table></body></html>"
    )
    out = inline_template_source(source)
    assert "{% for i in items %}" in out and "{% endfor %}" in out and 'href="{{ i.url }}"' in out
    assert re.search(r'<td class="x" style="color:\s*red', out)


def test_authors_are_truncated():
    assert authors_display(["A", "B"]) == "A, B"
    assert authors_display([f"N{i}" for i in range(12)]) == "N0, N1, N2 et al. (12 authors)"


def test_extractive_summary_picks_the_contribution():
    abstract = (
        "arXiv:2403.02233v1 Announce Type: new  Abstract: Graph neural networks are widely used. "
        "However, their training is slow on large graphs, e.g. social networks. "
        "In this paper, we propose a sampling method that trains graph neural networks ten times faster "
        "on large graphs without losing accuracy. Experiments confirm it."
    )
    tldr = summarize(abstract)
    assert tldr.startswith("In this paper, we propose a sampling method")
    assert "e.g. social networks" in split_sentences(abstract)[1]
    assert summarize("") == "" and len(summarize("word " * 200 + ".")) <= 280
    assert summarize_pluggable(abstract) == tldr  # the default backend is the extractive one


def test_stored_tldr_wins(papers_today):
    papers_today[0].tldr = "A stored one-liner."
    papers_today[0].save(update_fields=["tldr"])
    user = subscriber("tldr@example.org")
    content = digest_build(user=user, now=timezone.now())
    first = next(i for i in content.context["items"] if i["id"] == papers_today[0].pk)
    assert first["tldr"] == "A stored one-liner."
    assert content.context["language"] == "en"


def test_batch_context_costs_the_same_queries_for_2_or_20_users(papers_today):
    users = [subscriber(f"q{i}@example.org") for i in range(20)]
    now = timezone.now()
    digest_batch_build(user_ids=[u.pk for u in users[:2]], now=now)  # warm caches (model, content types)
    with CaptureQueriesContext(connection) as small:
        digest_batch_build(user_ids=[u.pk for u in users[:2]], now=now)
    with CaptureQueriesContext(connection) as large:
        digest_batch_build(user_ids=[u.pk for u in users], now=now)
    assert len(large) == len(small)


def test_fragments_are_byte_for_byte_the_whole_render(papers_today, trending_old):
    from recommender.digest.render import render_digest_whole
    from recommender.models import Paper

    # Hostile text in the paper's own fields and in a per-subscriber field (the reason).
    Paper.objects.filter(pk=papers_today[0].pk).update(
        title='<script>alert(1)</script> & "quotes" \x01PB', abstract="a < b && c > d. We propose <b>x</b>."
    )
    users = [subscriber(f"frag{i}@example.org") for i in range(3)]
    batch = digest_batch_build(user_ids=[u.pk for u in users], now=timezone.now())
    for n, user in enumerate(users):
        content = digest_build(user=user, now=timezone.now(), batch=batch, delivery_id=1000 + n)
        assert not content.skip_reason
        content.context["items"][0]["reason"] = "<img src=x onerror=alert(1)> & you"
        for _ in range(2):  # the second time from the cached pieces
            fast, whole = render_digest(content.context), render_digest_whole(content.context)
            assert (fast.subject, fast.text, fast.html) == (whole.subject, whole.text, whole.html)
        assert "<script>alert(1)" not in fast.html and "&lt;script&gt;alert(1)&lt;/script&gt;" in fast.html
        assert "<img src=x" not in fast.html and "&lt;img src=x onerror=alert(1)&gt; &amp; you" in fast.html
        assert "\x00" not in fast.html + fast.text
        assert "/d/c/" in fast.html and "/d/f/" in fast.text


def test_preferences_link_is_the_preferences_page(settings):
    from django.urls import reverse

    from recommender.digest.context import preferences_url

    assert preferences_url() == settings.SITE_URL + reverse("web:preferences")
