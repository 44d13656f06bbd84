"""Listing cards in Chromium: the category's name (longer than its code) stays inside its card, at phone and
desktop widths, for every recorded paper on the trending listing (issue 18)."""

from __future__ import annotations

import pytest

from recommender.ingest import arxiv_api, arxiv_rss, hf_daily
from recommender.ingest.services import paper_upsert_many
from recommender.models import Paper

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Newest first on the listing: the arXiv papers (which carry categories) ingested last.
FEEDS = [
    ("hf-daily", hf_daily.parse, "daily_papers_30.json"),
    ("arxiv-rss", arxiv_rss.parse, "arxiv_cs_cl.xml"),
    ("arxiv-api", arxiv_api.parse, "query_testing_100.xml"),
]


@pytest.fixture
def listed(shared_data, transactional_db):
    for source, parse, name in FEEDS:
        paper_upsert_many(entries=parse((shared_data / "feeds" / source / name).read_bytes()), source=source)
    Paper.objects.update(trending_score=1.0)


@pytest.mark.parametrize("width", [375, 1280])
def test_category_names_and_snippets_stay_inside_their_cards(browser, live_server, listed, shoot, width):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(live_server.url + "/trending/")
        cards = page.locator("article.card").all()
        assert len(cards) >= 20 and page.locator("article.card .tag").count() >= 20
        for card in cards:
            box = card.bounding_box()
            for part in (*card.locator(".tag").all(), card.locator(".snippet")):
                inner = part.bounding_box()
                assert box["x"] <= inner["x"] and inner["x"] + inner["width"] <= box["x"] + box["width"] + 0.5, (
                    f"{part.inner_text()!r} spills out of its card at {width} px"
                )
        assert "(" in page.locator("article.card .tag").first.inner_text()  # a name, not a bare code
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        shoot(page, f"cards-{width}", full_page=False)
    finally:
        context.close()
