"""Onboarding and preferences in Chromium: named categories, papers to rate laid out inside their cards with
their authors, and the browser's own time zone (Playwright's ``timezone_id`` plays a reader in Tokyo)."""

from __future__ import annotations

import pytest

from recommender.ingest.services import ingest_sample
from recommender.models import Profile
from tests.factories import make_subscriber

from .layout import signed_in_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def reader(transactional_db):
    ingest_sample()
    return make_subscriber("newcomer@example.org")


def test_step_one_names_the_categories_and_fills_in_the_browsers_time_zone(browser, live_server, reader, shoot):
    context, page = signed_in_page(browser, live_server, reader, timezone_id="Asia/Tokyo")
    try:
        page.goto(live_server.url + "/welcome/")
        groups = page.locator(".category-group-title").all_inner_texts()
        assert groups[0] == "Computer Science" and "Statistics" in groups
        assert page.locator("label", has_text="Machine Learning (cs.LG)").count() == 1
        for group in page.locator(".category-group").all():
            box = group.bounding_box()
            for label in group.locator("label").all():
                inner = label.bounding_box()
                assert box["y"] < inner["y"] and inner["y"] + inner["height"] <= box["y"] + box["height"], (
                    f"{label.inner_text()!r} spills out of its group"
                )
        assert page.input_value("#id_time_zone") == "Asia/Tokyo"
        assert "from this browser" in page.inner_text(".browser-zone")
        page.check("input[value='cs.LG']")
        page.check("input[value='stat.ML']")
        shoot(page, "onboarding")
        page.click("main form button[type=submit]")
        page.wait_for_url("**/welcome/rate/")
        assert Profile.objects.get(user=reader).time_zone == "Asia/Tokyo"

        cards = page.locator("fieldset.card.rate")
        assert cards.count() >= 5
        for i in range(cards.count()):
            card, legend = cards.nth(i).bounding_box(), cards.nth(i).locator("legend").bounding_box()
            assert legend["y"] >= card["y"] + 8, f"card {i}: the title sits on the card's top border"
            assert legend["x"] >= card["x"] + 8 and legend["x"] + legend["width"] <= card["x"] + card["width"]
        assert cards.first.locator(".authors").inner_text().strip(), "no authors on the first paper"
        shoot(page, "onboarding-rate")
    finally:
        context.close()


def test_preferences_offer_the_browsers_zone_without_changing_the_saved_one(browser, live_server, reader, shoot):
    Profile.objects.filter(user=reader).update(time_zone="Europe/Paris")
    context, page = signed_in_page(browser, live_server, reader, timezone_id="America/New_York")
    try:
        page.goto(live_server.url + "/account/preferences/")
        assert page.input_value("#id_time_zone") == "Europe/Paris"
        offer = page.locator("button.browser-zone")
        assert offer.inner_text() == "Use America/New_York (this browser)"
        shoot(page, "preferences")
        offer.click()
        assert page.input_value("#id_time_zone") == "America/New_York"
        assert page.get_attribute("#id_time_zone", "list") == "id_time_zone-list"
    finally:
        context.close()
