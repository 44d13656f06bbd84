"""Issue 16's account pages in Chromium, at phone and desktop widths: pausing from the preferences page
shows the banner everywhere, My digests and Submit a paper lay out without sideways scrolling."""

from __future__ import annotations

import pytest
from django.utils import timezone

from recommender.models import DigestDelivery
from tests.factories import make_subscriber

from .layout import assert_no_sideways_scroll, signed_in_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [375, 1280])
def test_pause_banner_my_digests_and_submit(browser, live_server, width, shoot):
    user = make_subscriber(f"reader{width}@example.org")
    DigestDelivery.objects.create(
        user=user,
        period_key="2026-11-28",
        status="skipped",
        skip_reason="no new papers announced since the last digest",
    )
    DigestDelivery.objects.create(
        user=user,
        period_key="2026-11-27",
        status="failed",
        error="in-doubt: no reply after the final dot",
        claimed_at=timezone.now(),
    )
    context, page = signed_in_page(browser, live_server, user, width=width)
    try:
        page.goto(f"{live_server.url}/account/preferences/#pause")
        page.check("input[name=length][value='2']")
        page.click("#pause button[type=submit]")
        page.wait_for_selector("#pause-banner")
        assert "paused until" in page.inner_text("#pause-banner")
        for path in ("/account/digests/", "/account/submit/", "/account/import/"):
            page.goto(live_server.url + path)
            assert page.is_visible("#pause-banner"), path
            assert_no_sideways_scroll(page, f"{path} at {width}px")
        page.goto(f"{live_server.url}/account/digests/")
        text = page.inner_text("main")
        assert "arXiv had no mailing on Saturday" in text and "did not confirm it took this digest" in text
        shoot(page, f"my-digests-{width}")
        page.click("#pause-banner button")
        page.wait_for_load_state()
        assert not page.is_visible("#pause-banner")
    finally:
        context.close()
