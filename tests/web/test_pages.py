"""Public pages: daily (days, categories, pages), trending, search, paper page; escaping and query counts."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from recommender.models import Interaction, PaperTranslation
from tests.factories import make_paper

from .conftest import DAY1, DAY2, DAY3

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_daily_shows_latest_day_first(client, corpus):
    html = client.get("/").content.decode()
    assert corpus["attention"].title in html
    assert corpus["audio"].title in html
    assert corpus["vision"].title not in html  # an older day
    # most upvoted first, like the HF daily page
    assert html.index(corpus["attention"].title) < html.index(corpus["audio"].title)
    assert f"?day={DAY2.isoformat()}" in html  # previous-day link
    assert "2 authors" in html


def test_daily_day_navigation_both_ways(client, corpus):
    html = client.get("/", {"day": DAY2.isoformat()}).content.decode()
    assert corpus["vision"].title in html
    assert f"?day={DAY1.isoformat()}" in html
    assert f"?day={DAY3.isoformat()}" in html


def test_daily_category_filter(client, corpus):
    html = client.get("/", {"day": DAY3.isoformat(), "category": "eess.AS"}).content.decode()
    assert corpus["audio"].title in html
    assert corpus["attention"].title not in html


def test_daily_bad_parameters_fall_back(client, corpus):
    response = client.get("/", {"day": "not-a-date", "category": "<b>x</b>", "page": "9999"})
    assert response.status_code == 200
    assert corpus["attention"].title in response.content.decode()
    assert "<b>x</b>" not in response.content.decode()


def test_daily_empty_archive(client, db):
    response = client.get("/")
    assert response.status_code == 200
    assert "No papers yet" in response.content.decode()


def test_daily_paginates(client, db):
    for i in range(35):
        make_paper(title=f"Bulk paper {i:02d}", announced_on=DAY3, hf_upvotes=100 - i)
    first = client.get("/").content.decode()
    second = client.get("/", {"page": 2}).content.decode()
    assert "Bulk paper 00" in first and "Bulk paper 34" not in first
    assert "Bulk paper 34" in second and "Page 2 of 2" in second


def test_listing_query_count_is_bounded(member_client, member, django_assert_max_num_queries):
    papers = [make_paper(announced_on=DAY3) for _ in range(30)]
    for p in papers[:10]:
        Interaction.objects.create(user=member, paper=p, kind="upvote")
    # Session, user, the day (latest, count, neighbours, rows), marks, the reader's profile (pause banner), and
    # the category popularity behind the filter (one GROUP BY, cached for ten minutes: absent on a warm cache).
    with django_assert_max_num_queries(10):
        html = member_client.get("/").content.decode()
    assert html.count('aria-pressed="true"') == 10


def test_ingested_text_is_escaped_everywhere(client, db):
    paper = make_paper(title=XSS, abstract=XSS, authors=[XSS], announced_on=DAY3, trending_score=1.0)
    for url in ["/", reverse("web:trending"), reverse("web:paper", args=[paper.arxiv_id])]:
        html = client.get(url).content.decode()
        assert "<script>alert" not in html, url
        assert "<img src=x" not in html, url
        assert "&lt;script&gt;" in html, url


def test_trending_order_and_formula(client, corpus):
    html = client.get(reverse("web:trending")).content.decode()
    a, v, s = (html.index(corpus[k].title) for k in ("attention", "vision", "audio"))
    assert a < v < s
    assert corpus["old"].title not in html  # score 0 is not trending
    assert "(age_hours + 2)" in html and "How is trending computed?" in html


@pytest.mark.parametrize("mode", ["keyword", "semantic", "blend"])
def test_search_modes_find_the_paper(client, corpus, mode):
    html = client.get(reverse("web:search"), {"q": "audio representation", "mode": mode}).content.decode()
    assert corpus["audio"].title in html
    assert html.index(corpus["audio"].title) < html.find(corpus["vision"].title) or corpus["vision"].title not in html


def test_keyword_search_uses_stems_and_any_word_fallback(client, corpus):
    html = client.get(reverse("web:search"), {"q": "diffusion zebra", "mode": "keyword"}).content.decode()
    assert corpus["vision"].title in html  # no paper has both words: any word matches


def test_semantic_search_ranks_topic_without_exact_title_words(corpus):
    from recommender.papers.search import semantic_search

    ids = semantic_search(query="denoising noise images", n=3)
    assert ids[0] == corpus["vision"].id


def test_search_escapes_query_and_ignores_operators(client, corpus):
    for q in [XSS, '"unbalanced', "NEAR( AND OR *", "title:attention -x"]:
        response = client.get(reverse("web:search"), {"q": q, "mode": "keyword"})
        assert response.status_code == 200
        assert "<script>alert" not in response.content.decode()


def test_search_overlong_query_is_rejected_gracefully(client, corpus):
    response = client.get(reverse("web:search"), {"q": "attention " * 200})
    assert response.status_code == 200
    html = response.content.decode()
    assert "results for" not in html and "result for" not in html


def test_search_index_follows_updates_and_deletes(client, corpus):
    from recommender.papers.search import keyword_search

    corpus["old"].title = "Quantum annealing schedules"
    corpus["old"].save()
    assert keyword_search(query="annealing") == [corpus["old"].id]
    assert keyword_search(query="graph") == []  # the old title is gone from the index
    corpus["old"].delete()
    assert keyword_search(query="annealing") == []


def test_paper_page(client, corpus):
    paper = corpus["attention"]
    html = client.get(reverse("web:paper", args=[paper.arxiv_id])).content.decode()
    assert paper.abstract in html
    assert f"https://arxiv.org/abs/{paper.arxiv_id}" in html
    assert f"https://arxiv.org/pdf/{paper.arxiv_id}" in html
    assert "Similar papers" in html
    assert 'data-kind="upvote" href="/accounts/login/?next=' in html  # anonymous: a login link


def test_paper_page_404(client, db):
    assert client.get(reverse("web:paper", args=["0000.00000"])).status_code == 404


def test_paper_page_bilingual_for_users_language(member_client, member, corpus):
    paper = corpus["attention"]
    PaperTranslation.objects.create(paper=paper, language="fr", title="Attention creuse", tldr="En bref.", backend="t")
    member.profile.language = "fr"
    member.profile.save()
    html = member_client.get(reverse("web:paper", args=[paper.arxiv_id])).content.decode()
    html = html[html.index("<main") :]
    assert html.index("Attention creuse") < html.index(paper.title)
    assert "En bref." in html


def test_pages_reject_wrong_method(client, corpus):
    assert client.post("/").status_code in (403, 405)
    assert client.delete(reverse("web:trending")).status_code == 405
    assert client.put(reverse("web:search")).status_code == 405


def test_sqlite_search_index_heals_after_a_table_rebuild(corpus):
    """Django's SQLite schema editor rebuilds a table to alter it and drops its triggers."""
    from django.db import connection

    from recommender.papers.search import keyword_search, search_index_ensure

    if connection.vendor != "sqlite":
        pytest.skip("SQLite-specific structures")
    with connection.cursor() as cur:
        for suffix in ("ai", "ad", "au"):
            cur.execute(f"DROP TRIGGER recommender_paper_fts_{suffix}")
        cur.execute("INSERT INTO recommender_paper_fts(recommender_paper_fts) VALUES ('delete-all')")
    search_index_ensure()
    assert keyword_search(query="diffusion") == [corpus["vision"].id]  # rebuilt from the table
    corpus["vision"].title = "Flow matching for images"
    corpus["vision"].save()
    assert keyword_search(query="flow matching") == [corpus["vision"].id]  # triggers are back


@pytest.mark.django_db
def test_every_page_has_an_icon_and_favicon_ico_resolves(client):
    """No 404 for the icon a browser asks for on every page (site, admin, feeds)."""
    from django.contrib.staticfiles import finders
    from django.templatetags.static import static

    assert b'rel="icon"' in client.get("/").content
    icon = client.get("/favicon.ico")
    assert icon.status_code == 301 and icon["Location"] == static("favicon.svg")
    assert b"<svg" in Path(finders.find("favicon.svg")).read_bytes()
