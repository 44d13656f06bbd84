"""Topics in Chromium at phone and desktop widths: create one, set its dial, switch to it on For you and vote
there (the vote is stored with the topic, through htmx); no page scrolls sideways."""

from __future__ import annotations

import pytest

from recommender.models import Interaction
from tests.factories import make_paper, make_subscriber

from .layout import assert_no_sideways_scroll, signed_in_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _inside(page, selector: str, where: str) -> None:
    box = page.locator(selector).first.bounding_box()
    viewport = page.evaluate("window.innerWidth")
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= viewport + 1, f"{where}: {selector} {box}"


@pytest.mark.parametrize("width", [375, 1280])
def test_create_a_topic_set_its_dial_and_vote_under_it(browser, live_server, width, shoot):
    user = make_subscriber(f"topics{width}@example.org", categories=["cs.CL"])
    for i in range(3):
        make_paper(category="cs.LG", title=f"Regret bounds for bandits, part {i}", trending_score=3.0 - i)
    context, page = signed_in_page(browser, live_server, user, width=width)
    try:
        page.goto(f"{live_server.url}/account/topics/")
        page.fill("input[name=new-name]", "RL theory")
        page.click("text=Create topic")
        page.wait_for_url("**/account/topics/rl-theory/")
        page.check("input[name=categories][value='cs.LG']")
        page.locator("input[type=range]").fill("0.8")
        # The preview follows the dial at once (htmx), before anything is saved.
        page.wait_for_selector("#dial-preview >> text=mostly what the community upvotes")
        assert page.locator("#dial-preview ol.dial-picks li a").count() >= 1
        for end in ("Only my taste", "What the community upvotes"):
            _inside(page, f".dial-end:text('{end}')", f"dial at {width}px")
        assert_no_sideways_scroll(page, f"topic page at {width}px")
        if width == 375:
            shoot(page, "topic-edit-375")
        page.click("text=Save topic")
        page.wait_for_selector("text=Topic “RL theory” saved.")
        assert page.locator("input[type=range]").input_value() == "0.8"

        page.goto(f"{live_server.url}/account/topics/")
        assert_no_sideways_scroll(page, f"topics list at {width}px")
        if width == 1280:
            shoot(page, "topics-1280")

        page.goto(f"{live_server.url}/for-you/")
        page.click(".topic-switch >> text=RL theory")
        page.wait_for_url("**/for-you/rl-theory/")
        assert page.inner_text(".topic-switch a[aria-current=page]") == "RL theory"
        assert_no_sideways_scroll(page, f"For you at {width}px")
        _inside(page, ".topic-switch", f"switcher at {width}px")
        if width == 375:
            shoot(page, "for-you-topics-375")
        card = page.locator("article.card").first
        card.locator("button[data-kind=save]").click()
        card.locator("button[data-kind=save][aria-pressed=true]").wait_for()
        (vote,) = Interaction.objects.filter(user=user, kind="save")
        assert vote.topic.name == "RL theory" and vote.topic.trending_weight == 0.8
    finally:
        context.close()
