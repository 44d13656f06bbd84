"""``make test-fast`` (``pytest -m "not slow"``) never starts a Celery worker or a browser.

``tests/conftest.py`` marks ``slow`` every test that uses a real worker (thread or process) or is marked ``browser``;
this test checks the collected session, whatever selection it runs in: under ``-m "not slow"`` nothing of the kind
may be left, in a full run every such test carries the mark.
"""

from __future__ import annotations

from tests.conftest import SLOW_FIXTURES


def test_every_test_with_a_real_worker_or_a_browser_is_marked_slow(request):
    unmarked = [
        item.nodeid
        for item in request.session.items
        if (SLOW_FIXTURES & set(item.fixturenames) or item.get_closest_marker("browser"))
        and not item.get_closest_marker("slow")
    ]
    assert unmarked == []
