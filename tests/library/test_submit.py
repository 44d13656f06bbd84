"""Submit a paper (issue 16, part 3): paste an id or link; a real Celery worker fetches it from a local arXiv API.

Recorded replies: query_testing_10.xml (ids it holds exist), empty_result.xml (no entry: the id does not
exist) and error_bad_id.xml (arXiv's error entry).
"""

from __future__ import annotations

import time
import urllib.parse

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from recommender.ingest.services import ingest_run
from recommender.library.submit import arxiv_id_from_text
from recommender.models import Interaction, InteractionKind, Paper
from tests.conftest import wait_until
from tests.feed_server import Reply

FOUND = "2405.13786"  # in query_testing_10.xml


@pytest.fixture
def arxiv_api(settings, feed_server, feeds):
    """The export API at a local server: an id of query_testing_10.xml gets it, 0000.00000 an error, others nothing."""
    found = (feeds / "arxiv-api" / "query_testing_10.xml").read_bytes()
    empty = (feeds / "arxiv-api" / "empty_result.xml").read_bytes()
    error = (feeds / "arxiv-api" / "error_bad_id.xml").read_bytes()

    def reply(path):
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(path).query))
        ids = query.get("id_list", "")
        if query.get("start", "0") != "0":  # the recorded reply is a search page: nothing after it
            return Reply(body=empty)
        if ids == FOUND:
            return Reply(body=found)
        return Reply(body=error if ids == "0000.00000" else empty)

    feed_server.route("/api/query", reply)
    settings.PAPERBOY = {**settings.PAPERBOY, "ARXIV_API_URL": feed_server.url("/api/query"), "ARXIV_DELAY_SECONDS": 0}
    return feed_server


def _reader(name="Ada", last="Lovelace"):
    user = get_user_model().objects.create_user(
        username=f"{name.lower()}{time.monotonic_ns()}",
        email=f"{name.lower()}@example.org",
        first_name=name,
        last_name=last,
    )
    client = Client()
    client.force_login(user)
    return user, client


@pytest.mark.slow
def test_a_new_paper_is_fetched_listed_submitted_by_and_upvoted(celery_worker, arxiv_api):
    user, client = _reader()
    response = client.post(reverse("web:submit"), {"paper": f"https://arxiv.org/abs/{FOUND}v1"})
    assert response.status_code == 302
    wait_until(lambda: Paper.objects.filter(arxiv_id=FOUND, submitted_by=user).exists(), what="the fetched paper")
    paper = Paper.objects.get(arxiv_id=FOUND)
    assert Interaction.objects.filter(user=user, paper=paper, kind=InteractionKind.UPVOTE).exists()
    assert paper.local_upvotes == 1 and paper.announced_on is not None
    listing = Client().get(reverse("web:daily"), {"day": paper.announced_on.isoformat()}).content.decode()
    assert paper.title.split()[0] in listing and "submitted by Ada Lovelace" in listing
    wait_until(lambda: "submitted by you" in client.get(reverse("web:submit")).content.decode(), what="the listing")


@pytest.mark.slow
@pytest.mark.parametrize("arxiv_id", ["2999.99999", "0000.00000"])  # no entry; arXiv's error entry
def test_an_id_that_does_not_exist_says_so(celery_worker, arxiv_api, arxiv_id):
    _, client = _reader()
    client.post(reverse("web:submit"), {"paper": arxiv_id})
    wait_until(
        lambda: "arXiv has no paper with this id" in client.get(reverse("web:submit")).content.decode(),
        what="the not-found message",
    )
    assert not Paper.objects.filter(arxiv_id=arxiv_id).exists()


def test_a_known_paper_is_just_upvoted_without_a_fetch(db, feeds, arxiv_api):
    ingest_run(source="arxiv-api", path=feeds / "arxiv-api" / "query_testing_10.xml")
    user, client = _reader()
    page = client.post(reverse("web:submit"), {"paper": f"arXiv:{FOUND}"}, follow=True).content.decode()
    assert "already here: you upvoted it" in page
    paper = Paper.objects.get(arxiv_id=FOUND)
    assert paper.local_upvotes == 1 and paper.submitted_by is None
    assert arxiv_api.requests == []


def test_garbage_is_refused_and_submissions_are_rate_limited(db, arxiv_api, django_capture_on_commit_callbacks):
    _, client = _reader()
    page = client.post(reverse("web:submit"), {"paper": "not a paper"}, follow=True).content.decode()
    assert "That is not an arXiv id or link" in page
    codes = [client.post(reverse("web:submit"), {"paper": "nonsense"}).status_code for _ in range(10)]
    assert codes[:9] == [302] * 9 and codes[9] == 429


def test_submitting_needs_a_login(db):
    assert Client().post(reverse("web:submit"), {"paper": FOUND}).status_code == 302
    assert Client().get(reverse("web:submit")).status_code == 302


NEW_IDS = st.from_regex(r"\A[0-9]{4}\.[0-9]{4,5}\Z")
# YYMM of the old scheme: 1991-2007, a real month
OLD_IDS = st.from_regex(r"\A(hep-th|math\.GT|cs|cond-mat)/(9[1-9]|0[0-7])(0[1-9]|1[0-2])[0-9]{3}\Z")


@hsettings(max_examples=150, deadline=None)
@given(arxiv_id=NEW_IDS | OLD_IDS, version=st.one_of(st.none(), st.integers(1, 30)), form=st.integers(0, 5))
def test_every_way_of_pasting_an_id_gives_the_id(arxiv_id, version, form):
    v = f"v{version}" if version else ""
    text = [
        f"{arxiv_id}{v}",
        f"arXiv:{arxiv_id}{v}",
        f"https://arxiv.org/abs/{arxiv_id}{v}",
        f"http://export.arxiv.org/abs/{arxiv_id}{v}?context=cs",
        f"https://arxiv.org/pdf/{arxiv_id}{v}.pdf",
        f"  arxiv.org/abs/{arxiv_id}{v}/  ",
    ][form]
    assert arxiv_id_from_text(text) == arxiv_id


@pytest.mark.parametrize("text", ["", "abc", "https://example.org/abs/2403.02233", "2403.022", "arxiv.org/abs/"])
def test_what_is_not_an_id(text):
    assert arxiv_id_from_text(text) is None
