"""A newcomer in a real browser: subscribe, confirm from the email, onboard, vote, search, browse days."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail

from recommender.models import Interaction, Paper

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DAYS = [dt.date(2026, 11, 18), dt.date(2026, 11, 19), dt.date(2026, 11, 20)]
# Invented papers (not copied from anywhere) that make the pages look like a real day.
PAPERS = [
    (
        "Sparse Hierarchical Attention for Million-Token Contexts",
        "cs.CL cs.LG",
        2,
        "We prune attention with a tree search over key blocks, reaching sub-quadratic cost without retraining.",
    ),
    (
        "Self-Supervised Audio Representations with State Space Models",
        "eess.AS cs.LG",
        2,
        "A bidirectional state space encoder learns audio features from unlabelled clips and beats transformers.",
    ),
    (
        "Retrieval-Augmented Agents that Cite Their Sources",
        "cs.CL cs.AI",
        2,
        "Agents that retrieve, quote and cite documents answer open-domain questions with verifiable evidence.",
    ),
    (
        "Diffusion Transformers at Low Precision",
        "cs.CV cs.LG",
        2,
        "Four-bit weights and activations keep image quality of diffusion transformers within one FID point.",
    ),
    (
        "Curriculum Reinforcement Learning for Theorem Proving",
        "cs.AI cs.LG",
        1,
        "A language model prover trained with a difficulty curriculum solves more competition problems.",
    ),
    (
        "Benchmarking Long-Context Retrieval in Language Models",
        "cs.CL",
        1,
        "Needle-in-a-haystack tests miss multi-hop failures; we propose a harder benchmark with 40k questions.",
    ),
    (
        "Graph Neural Networks for Molecular Property Prediction",
        "cs.LG q-bio.BM",
        0,
        "Message passing networks with 3D geometry predict quantum chemical properties of molecules.",
    ),
    (
        "Efficient Video Generation with Latent Motion Tokens",
        "cs.CV",
        1,
        "Compressing motion into latent tokens makes minute-long video generation fit on one GPU.",
    ),
]


@pytest.fixture
def site(transactional_db):
    papers = []
    for i, (title, cats, day, abstract) in enumerate(PAPERS):
        papers.append(
            Paper.objects.create(
                arxiv_id=f"2611.{i + 10001}",
                title=title,
                abstract=abstract + " " + "We release code and models. " * 3,
                authors=[f"Author {j}" for j in range(1 + i % 6)],
                categories=cats,
                primary_category=cats.split()[0],
                announced_on=DAYS[day],
                hf_upvotes=50 - 5 * i,
                trending_score=5.0 - 0.5 * i,
                sources=["rss", "hf-daily"] if i % 2 == 0 else ["rss"],
            )
        )
    return papers


def test_newcomer_subscribes_confirms_onboards_and_votes(page, live_server, site, shoot):
    page.goto(live_server.url + "/")
    shoot(page, "daily")
    page.fill("#subscribe-email", "newcomer@example.org")
    page.click(".subscribe button[type=submit]")
    page.wait_for_selector(".messages li.success")
    assert "Check your inbox" in page.inner_text(".messages")
    assert len(mail.outbox) == 1

    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", mail.outbox[0].body).group(0)
    path = link.split("/accounts/", 1)[1]
    page.goto(f"{live_server.url}/accounts/{path}")
    page.click("main form button[type=submit]")
    page.wait_for_url("**/welcome/")
    page.check("input[value='cs.CL']")
    page.check("input[value='cs.LG']")
    shoot(page, "onboarding")
    page.click("main form button[type=submit]")
    page.wait_for_url("**/welcome/rate/")
    first = site[0]
    page.check(f"input[name='rating-{first.id}'][value='up']")
    page.click("main form button[type=submit]")
    page.wait_for_url("**/for-you/")
    shoot(page, "for-you")
    assert Interaction.objects.get(paper=first).source == "onboarding"

    # Vote in place (htmx), then check it survives a reload.
    page.goto(live_server.url + "/")
    target = site[1]
    button = page.locator(f"#actions-{target.id} button[value='upvote']")
    button.click()
    page.wait_for_selector(f"#actions-{target.id} button[value='upvote'][aria-pressed='true']")
    assert page.url.rstrip("/") == live_server.url  # no navigation happened: htmx swapped the buttons
    page.reload()
    assert page.get_attribute(f"#actions-{target.id} button[value='upvote']", "aria-pressed") == "true"
    assert Paper.objects.get(pk=target.pk).local_upvotes == 1

    page.goto(live_server.url + "/account/preferences/")
    shoot(page, "preferences")
    page.fill("#id_time_zone", "Asia/Tokyo")
    page.fill("#id_papers_per_email", "12")
    page.click("form.prefs button[type=submit]")
    page.wait_for_selector(".messages li.success")
    assert page.input_value("#id_time_zone") == "Asia/Tokyo"


def test_search_from_the_header(page, live_server, site, shoot):
    page.goto(live_server.url + "/")
    page.fill("#header-q", "audio state space")
    page.press("#header-q", "Enter")
    page.wait_for_url("**/search/?q=*")
    cards = page.locator("article.card h2")
    assert "Self-Supervised Audio" in cards.first.inner_text()
    shoot(page, "search")
    page.check("input[name=mode][value=semantic]")
    page.click(".search-form button[type=submit]")
    page.wait_for_url("**mode=semantic*")
    assert page.locator("article.card").count() >= 1


def test_day_navigation_trending_and_paper(page, live_server, site, shoot):
    page.goto(live_server.url + "/")
    assert "Nov 20" in page.inner_text(".lede") or "November 20" in page.inner_text(".lede")
    page.click(".day-nav a[rel=prev]")
    page.wait_for_url("**day=2026-11-19*")
    assert "Retrieval-Augmented Agents" not in page.inner_text(".cards")
    assert "Curriculum Reinforcement Learning" in page.inner_text(".cards")
    page.click(".day-nav a[rel=next]")
    page.wait_for_url("**day=2026-11-20*")
    assert "Retrieval-Augmented Agents" in page.inner_text(".cards")

    page.goto(live_server.url + "/trending/")
    shoot(page, "trending")
    page.click("article.card h2 a >> nth=0")
    page.wait_for_url("**/papers/**")
    assert page.locator("a", has_text="PDF").count() == 1
    shoot(page, "paper")

    # An anonymous vote leads to the login page.
    page.click(".paper .actions [data-kind='upvote']")
    page.wait_for_url("**/accounts/login/**")


def test_phone_layout(browser, live_server, site, shoot):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, device_scale_factor=2)
    page = context.new_page()
    page.goto(live_server.url + "/")
    width = page.evaluate("document.documentElement.scrollWidth")
    wide = page.evaluate(
        "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 391)"
        ".slice(0, 5).map(e => e.tagName + '.' + e.className)"
    )
    assert width <= 390, f"the daily page scrolls sideways on a phone: {wide}"
    shoot(page, "phone-daily", full_page=False)
    context.close()
