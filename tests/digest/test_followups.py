"""Updates on your papers (issue 16, part 2), end to end: recorded RSS ``replace`` entries, the tick, real SMTP.

Each event is reported once (unique per user + paper + event), at most three per digest, each with a
one-click "stop updates on this paper" (a signed link; GET shows a page, POST acts).
"""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from recommender.digest import followups
from recommender.ingest.services import ingest_run
from recommender.models import Interaction, Paper, PaperFollow, PaperUpdate
from tests.factories import due_now, make_paper, plan_and_send, subscriber

pytestmark = pytest.mark.django_db
SAMPLE = Path(__file__).resolve().parents[2] / "recommender" / "fixtures" / "sample" / "arxiv_rss_sample.xml"
REPLACED = re.findall(r"arXiv:(\d{4}\.\d{4,5})v(\d+) Announce Type: replace", SAMPLE.read_text())


def _text(message) -> str:
    return message.get_body(("plain",)).get_content()


def _day(k: int) -> dt.datetime:
    return timezone.now() + dt.timedelta(days=k)


def _new_paper_on(moment):
    make_paper(category="cs.LG", announced_on=moment.date())


def test_a_new_version_is_reported_once_with_a_stop_link(smtp_server):
    arxiv_id, version = REPLACED[0]
    followed = make_paper(category="cs.LG", announced_on=(_day(0) - dt.timedelta(days=40)).date())
    Paper.objects.filter(pk=followed.pk).update(arxiv_id=arxiv_id, version=1, versions=[])
    user = subscriber("follower@example.org")
    Interaction.objects.create(user=user, paper=followed, kind="save")

    _new_paper_on(_day(0))
    due_now(user, at=_day(0))
    assert plan_and_send(_day(0)).sent == [user.pk]  # the first digest: the baseline, nothing is news yet
    assert "UPDATES ON YOUR PAPERS" not in _text(smtp_server.wait_for(1)[0])

    ingest_run(source="arxiv-rss", path=SAMPLE)  # the recorded feed announces the replacement
    assert Paper.objects.get(pk=followed.pk).version == int(version)
    _new_paper_on(_day(1))
    due_now(user, at=_day(1))
    assert plan_and_send(_day(1)).sent == [user.pk]
    message = smtp_server.wait_for(2)[1]
    text = _text(message)
    assert "UPDATES ON YOUR PAPERS" in text and f"v{version}" in text
    assert "Updates on your papers" in message.get_body(("html",)).get_content()
    [update] = PaperUpdate.objects.filter(user=user)
    assert update.key == f"v{version}" and update.delivery.user_id == user.pk

    _new_paper_on(_day(2))
    due_now(user, at=_day(2))
    plan_and_send(_day(2))
    assert "UPDATES ON YOUR PAPERS" not in _text(smtp_server.wait_for(3)[2])  # reported once

    # One click: the GET only shows a page, the POST stops the updates.
    url = re.search(r"Stop updates on this paper: (\S+)", text).group(1)
    path = urllib.parse.urlsplit(url).path
    client = Client()
    assert client.get(path).status_code == 200
    assert PaperFollow.objects.get(user=user, paper=followed).stopped_at is None
    assert client.post(path).status_code == 200
    assert PaperFollow.objects.get(user=user, paper=followed).stopped_at is not None
    Paper.objects.filter(pk=followed.pk).update(github_repo="https://github.com/example/code", hf_upvotes=500)
    _new_paper_on(_day(3))
    due_now(user, at=_day(3))
    plan_and_send(_day(3))
    assert "UPDATES ON YOUR PAPERS" not in _text(smtp_server.wait_for(4)[3])
    assert Client().post(path.replace("/d/stop/", "/d/stop/x")).status_code == 400


def test_at_most_three_per_digest_and_the_rest_next_time(smtp_server):
    user = subscriber("many@example.org")
    papers = [make_paper(category="cs.LG", announced_on=(_day(0) - dt.timedelta(days=40)).date()) for _ in range(4)]
    for paper in papers:
        Interaction.objects.create(user=user, paper=paper, kind="upvote")
    followups.pending_events(user_ids=[user.pk])  # the baselines
    Paper.objects.filter(pk__in=[p.pk for p in papers]).update(version=2, comments="camera-ready, NeurIPS")
    _new_paper_on(_day(0))
    due_now(user, at=_day(0))
    plan_and_send(_day(0))
    text = _text(smtp_server.wait_for(1)[0])
    assert text.count("v2: camera-ready, NeurIPS") == 3
    _new_paper_on(_day(1))
    due_now(user, at=_day(1))
    plan_and_send(_day(1))
    assert _text(smtp_server.wait_for(2)[1]).count("v2: camera-ready, NeurIPS") == 1
    assert PaperUpdate.objects.filter(user=user).count() == 4


@pytest.mark.parametrize(("arxiv_id", "version"), REPLACED)
def test_every_recorded_replacement_is_an_event_for_its_followers(arxiv_id, version):
    paper = make_paper(category="cs.LG")
    Paper.objects.filter(pk=paper.pk).update(arxiv_id=arxiv_id, version=1, versions=[])
    user = subscriber(f"f{arxiv_id}@example.org")
    Interaction.objects.create(user=user, paper=paper, kind="save")
    assert followups.pending_events(user_ids=[user.pk]) == {}  # baseline
    ingest_run(source="arxiv-rss", path=SAMPLE)
    [event] = followups.pending_events(user_ids=[user.pk])[user.pk]
    assert event.kind == "version" and event.key == f"v{version}"


def test_code_and_upvote_jumps(db):
    user = subscriber("jumps@example.org")
    paper = make_paper(category="cs.LG", hf_upvotes=10)
    Interaction.objects.create(user=user, paper=paper, kind="save")
    followups.pending_events(user_ids=[user.pk])
    Paper.objects.filter(pk=paper.pk).update(hf_upvotes=25)  # +15: not a jump
    assert followups.pending_events(user_ids=[user.pk]) == {}
    Paper.objects.filter(pk=paper.pk).update(hf_upvotes=40, github_repo="https://github.com/example/x")
    kinds = [e.kind for e in followups.pending_events(user_ids=[user.pk])[user.pk]]
    assert kinds == ["code", "upvotes"]


def test_the_admin_sees_the_updates_that_were_sent(smtp_server):
    from recommender.admin.deliveries import delivery_content
    from recommender.digest.render import render_digest

    user = subscriber("audited@example.org")
    paper = make_paper(category="cs.LG", announced_on=(_day(0) - dt.timedelta(days=40)).date())
    Interaction.objects.create(user=user, paper=paper, kind="save")
    followups.pending_events(user_ids=[user.pk])
    Paper.objects.filter(pk=paper.pk).update(version=3, comments="journal version")
    _new_paper_on(_day(0))
    due_now(user, at=_day(0))
    plan_and_send(_day(0))
    smtp_server.wait_for(1)
    Paper.objects.filter(pk=paper.pk).update(version=4, comments="a later one, never sent")
    delivery = PaperUpdate.objects.get(user=user).delivery
    html = render_digest(delivery_content(delivery=delivery).context).html
    assert "v3: journal version" in html and "never sent" not in html
