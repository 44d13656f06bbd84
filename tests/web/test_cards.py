"""Listing cards over every recorded paper: the category by name, the snippet never cut mid-word (issue 18).

The invariant, checked on the rendered trending pages (every paper of the recorded feeds is given a
trending score, so the listing shows each one once): a card's tag reads "Machine Learning (cs.LG)", as
the onboarding step does; its snippet is the TL;DR (or, without one, the abstract) whole, whole sentences
of it, or a cut at a word boundary ending in "…", never inside a ``$…$`` span, within 300 columns.
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from lxml import html as lxml_html

from recommender.ingest import arxiv_api, arxiv_oai, arxiv_rss, hf_daily
from recommender.ingest.services import paper_upsert_many
from recommender.models import Paper
from recommender.papers import taxonomy

pytestmark = pytest.mark.django_db

SNIPPET_COLUMNS = 300
FEEDS = {
    "arxiv-api": (arxiv_api.parse, ["query_testing_100.xml", "query_testing_10.xml", "old_format_author_query.xml"]),
    "arxiv-oai": (arxiv_oai.parse, ["arXivRaw_ListRecords.xml", "arXiv_ListRecords_hep-th.xml"]),
    "arxiv-rss": (arxiv_rss.parse, ["arxiv_cs_ai.xml", "arxiv_cs_cl.xml"]),
    "hf-daily": (hf_daily.parse, ["daily_papers_30.json"]),
}


@pytest.fixture
def recorded(shared_data) -> dict[str, Paper]:
    for source, (parse, names) in FEEDS.items():
        for name in names:
            paper_upsert_many(entries=parse((shared_data / "feeds" / source / name).read_bytes()), source=source)
    Paper.objects.update(trending_score=1.0)  # every paper on the trending listing
    papers = {p.arxiv_id: p for p in Paper.objects.all()}
    assert len(papers) > 100
    return papers


def _cards(client) -> dict[str, lxml_html.HtmlElement]:
    """arXiv id -> its card, over every page of the trending listing."""
    cards, page = {}, 1
    while True:
        response = client.get(reverse("web:trending"), {"page": page})
        assert response.status_code == 200
        tree = lxml_html.fromstring(response.content.decode())
        for card in tree.cssselect("article.card"):
            cards[card.get("id").removeprefix("paper-")] = card
        if not tree.cssselect('a[rel="next"]'):
            return cards
        page += 1


def _mid_word(source: str, cut: str) -> bool:
    return bool(cut) and len(cut) < len(source) and cut[-1].isalnum() and source[len(cut)].isalnum()


def _snippet_problem(source: str, shown: str) -> str:
    """Why ``shown`` is not a fair snippet of ``source``, or ""."""
    source, shown = " ".join(source.split()), " ".join(shown.split())
    if shown == source:
        return ""
    if len(shown) > SNIPPET_COLUMNS:
        return f"{len(shown)} characters"
    cut = shown.removesuffix("…").rstrip()
    if not source.startswith(cut):
        return "not the start of the text"
    if shown.endswith("…"):
        if _mid_word(source, cut):
            return f"cut mid-word: …{cut[-20:]!r} + {source[len(cut) : len(cut) + 10]!r}"
        if cut.count("$") % 2:
            return "cut inside a $…$ span"
        return ""
    if cut[-1] not in ".!?" or not source[len(cut)].isspace():
        return "shortened without an ellipsis, not at a sentence end"
    return ""


@pytest.mark.slow
@pytest.mark.parametrize("summary", ["tldr", "abstract"])
def test_every_card_names_its_category_and_cuts_at_a_word_boundary(client, recorded, summary):
    """With the TL;DRs ingestion writes, and without them (the card shows the abstract, which is longer)."""
    if summary == "abstract":
        Paper.objects.update(tldr="")
        recorded = {p.arxiv_id: p for p in Paper.objects.all()}
    cards = _cards(client)
    assert set(cards) == set(recorded), "every recorded paper has exactly one card"
    problems, cut = [], 0
    for arxiv_id, card in cards.items():
        paper = recorded[arxiv_id]
        if paper.primary_category:
            [tag] = card.cssselect(".tag")
            assert tag.text_content().strip() == taxonomy.category_label(paper.primary_category)
            if paper.primary_category in taxonomy.NAMES:
                assert taxonomy.NAMES[paper.primary_category] in tag.text_content()
        [snippet] = card.cssselect(".snippet")
        shown = snippet.text_content()
        cut += shown.strip().endswith("…")
        problem = _snippet_problem(paper.tldr or paper.abstract, shown)
        if problem:
            problems.append(f"{arxiv_id}: {problem}")
    assert not problems, problems[:10]
    if summary == "abstract":
        assert cut > 20  # the check above ran on real cuts, not only on whole texts


def test_papers_to_rate_at_onboarding_cut_at_a_word_boundary(member_client, member, recorded):
    """Step 2's cards show the same fair snippet as the listings, for the recorded papers with the longest text."""
    longest = sorted(recorded.values(), key=lambda p: len(p.abstract), reverse=True)[:10]
    Paper.objects.exclude(pk__in=[p.pk for p in longest]).delete()
    Paper.objects.update(tldr="", hf_upvotes=10)
    response = member_client.get(reverse("web:onboarding_rate"))
    assert response.status_code == 200
    tree = lxml_html.fromstring(response.content.decode())
    shown = [" ".join(p.text_content().split()) for p in tree.cssselect("fieldset.rate p.snippet")]
    assert len(shown) == len(longest)
    by_start = {" ".join(p.abstract.split())[:40]: p.abstract for p in longest}
    for text in shown:
        source = by_start[text[:40]]
        assert len(text) <= 221 and not _snippet_problem(source, text), text
