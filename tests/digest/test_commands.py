"""send_digests and preview_digest, as an operator runs them."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from recommender.models import DigestDelivery, Profile
from tests.factories import subscriber

pytestmark = pytest.mark.django_db


def _run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_dry_run_lists_who_gets_what_and_sends_nothing(smtp_server, papers_today):
    user = subscriber("dry@example.org")
    now = timezone.now()
    Profile.objects.filter(user=user).update(next_digest_at=now - dt.timedelta(minutes=1))
    out = _run("send_digests", "--dry-run", "--now", now.isoformat())
    assert "1 subscriber(s) due" in out and "dry@example.org" in out and papers_today[0].title[:40] in out
    assert smtp_server.messages == [] and not DigestDelivery.objects.exists()
    assert Profile.objects.get(user=user).next_digest_at < now  # nothing rescheduled


def test_send_due_then_user_now_never_twice(smtp_server, papers_today):
    due = subscriber("due@example.org")
    other = subscriber("other@example.org", send_time=dt.time(23, 59))
    now = timezone.now()
    Profile.objects.filter(user=due).update(next_digest_at=now - dt.timedelta(minutes=1))
    out = _run("send_digests", "--now", now.isoformat())
    assert "1 sent" in out
    out = _run("send_digests", "--user", "other@example.org")
    assert "other@example.org" in out and ": sent" in out
    again = _run("send_digests", "--user", "OTHER@example.org")
    # The second run sent nothing and must not say it did.
    assert ": already sent earlier for this period, nothing sent now" in again and ": sent" not in again
    assert sorted(m["To"] for m in smtp_server.wait_for(2)) == ["due@example.org", "other@example.org"]
    assert DigestDelivery.objects.filter(user=other).count() == 1


def test_preview_digest_prints_html_and_text(papers_today):
    subscriber("look@example.org")
    html = _run("preview_digest", "look@example.org")
    text = _run("preview_digest", "look@example.org", "--text")
    assert html.lstrip().lower().startswith("<!doctype html>") and 'style="' in html
    assert "FOR YOU" in text and papers_today[0].title in text
    assert not DigestDelivery.objects.exists()
