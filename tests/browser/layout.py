"""Helpers for the Chromium tests: a browser context signed in as a user, and the no-sideways-scroll check."""

from __future__ import annotations

from django.conf import settings
from django.test import Client


def signed_in_page(browser, live_server, user, *, width: int = 1280, **context_options):
    """Open a context signed in as ``user`` (Django's session cookie on the live server); return (context, page).

    ``context_options`` go to Playwright's ``new_context`` (e.g. ``timezone_id``); the caller closes the context.
    """
    client = Client()
    client.force_login(user)
    context = browser.new_context(viewport={"width": width, "height": 900}, **context_options)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
    page = context.new_page()
    page.set_default_timeout(15_000)
    return context, page


def assert_no_sideways_scroll(page, where: str) -> None:
    """The page is no wider than the viewport (one pixel of rounding allowed)."""
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.evaluate("window.innerWidth")
    assert width <= viewport + 1, f"{where}: the page scrolls sideways ({width} > {viewport})"
