"""Library import end to end: service, fetch task (local HTTP server), web pages, command, fold-in at once."""

from __future__ import annotations

import urllib.parse
import xml.etree.ElementTree as ET

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from recommender.ingest.services import ingest_run
from recommender.library import services
from recommender.library.parsers import LibraryError
from recommender.library.tasks import library_fetch_run
from recommender.models import IngestRun, Interaction, InteractionSource, Paper, Topic
from tests.factories import make_community, make_paper, make_subscriber
from tests.feed_server import Reply

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue(feeds):
    ingest_run(source="arxiv-api", path=feeds / "arxiv-api" / "query_testing_100.xml")
    return list(Paper.objects.order_by("arxiv_id"))


@pytest.fixture
def api(settings, feed_server, feeds):
    """ARXIV_API_URL at a local server: id_list queries answered from query_testing_10.xml, au: from the 2016 feed."""
    body10 = (feeds / "arxiv-api" / "query_testing_10.xml").read_bytes()
    author = (feeds / "arxiv-api" / "old_format_author_query.xml").read_bytes()

    def reply(path):
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(path).query))
        if query.get("search_query", "").startswith("au:"):
            return Reply(body=author)
        return Reply(body=_only_ids(body10, query.get("id_list", "").split(",")))

    feed_server.route("/api/query", reply)
    settings.PAPERBOY = {**settings.PAPERBOY, "ARXIV_API_URL": feed_server.url("/api/query"), "ARXIV_DELAY_SECONDS": 0}
    return feed_server


def _only_ids(feed: bytes, ids: list[str]) -> bytes:
    """The recorded feed as arXiv answers an ``id_list`` query: only those entries, totalResults their count."""
    ns = {"a": "http://www.w3.org/2005/Atom", "os": "http://a9.com/-/spec/opensearch/1.1/"}
    ET.register_namespace("", ns["a"])
    ET.register_namespace("opensearch", ns["os"])
    root = ET.fromstring(feed)
    kept = 0
    for entry in root.findall("a:entry", ns):
        arxiv_id = entry.findtext("a:id", "", ns).rsplit("/abs/", 1)[-1].rsplit("v", 1)[0]
        if arxiv_id in ids:
            kept += 1
        else:
            root.remove(entry)
    root.find("os:totalResults", ns).text = str(kept)
    return ET.tostring(root, xml_declaration=True, encoding="utf-8")


def _bib(papers, missing_ids=()):
    parts = []
    for i, p in enumerate(papers):
        if i % 2:
            parts.append(f"@article{{t{i}, title = {{{p.title.upper()}}}, author = {{{' and '.join(p.authors)}}}}}\n")
        else:
            parts.append(f"@misc{{i{i}, title = {{x}}, eprint = {{{p.arxiv_id}v1}}, archivePrefix = {{arXiv}}}}\n")
    parts.append(f"@misc{{dup, url = {{https://arxiv.org/abs/{papers[0].arxiv_id}}}}}\n")
    parts.append("@misc{nowhere, title = {A paper that exists in no catalogue at all}, author = {Nobody, A}}\n")
    for j, arxiv_id in enumerate(missing_ids):
        parts.append(f"@misc{{m{j}, journal = {{arXiv preprint arXiv:{arxiv_id}}}}}\n")
    return "".join(parts).encode()


def _saves(user):
    return Interaction.objects.filter(user=user, kind="save", source=InteractionSource.IMPORT)


def test_import_counts_saves_and_is_idempotent(catalogue, django_capture_on_commit_callbacks):
    user = make_subscriber("reader@example.org")
    data = _bib(catalogue[:10], missing_ids=["2501.00001", "hep-th/9901001"])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        report = services.library_import(user=user, data=data, filename="mine.bib")
    assert report.counts == {
        "entries": 14,
        "matched_by_id": 5,
        "matched_by_title": 5,
        "fetched": 2,
        "not_found": 1,
        "duplicates": 1,
    }
    assert report.queued == ["2501.00001", "hep-th/9901001"] and len(callbacks) == 1
    assert report.not_found[0][0] == "nowhere" and report.duplicates[0][0] == "dup"
    assert set(_saves(user).values_list("paper_id", flat=True)) == {p.pk for p in catalogue[:10]}
    assert report.saved == 10
    again = services.library_import(user=user, data=data, filename="mine.bib")
    assert again.saved == 0 and again.already_saved == 10 and _saves(user).count() == 10


@pytest.mark.parametrize(
    "data",
    [
        b"@article{ok, eprint={2202.12139}}\n@article{bad, title={unclosed\n@misc{c, title={x}}\n",
        b"\x00\x01binary" * 100,
        b"".join(b"@misc{k%d, eprint={2202.12139}}\n" % i for i in range(10_001)),
    ],
)
def test_malformed_import_writes_nothing(catalogue, data):
    user = make_subscriber("careful@example.org")
    with pytest.raises(LibraryError):
        services.library_import(user=user, data=data)
    assert not Interaction.objects.filter(user=user).exists()


def test_fetch_task_ingests_missing_ids_through_the_api_then_saves(catalogue, api):
    user = make_subscriber("fetcher@example.org")
    wanted = ["2405.13786", "2202.12139", "1234.99999"]  # in the recorded id_list reply, known, absent
    Paper.objects.filter(arxiv_id="2405.13786").delete()
    result = library_fetch_run(user_id=user.pk, arxiv_ids=wanted)
    path, _ = api.requests[-1]
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(path).query))
    assert query["id_list"].split(",") == ["2405.13786", "1234.99999"]
    assert Paper.objects.filter(arxiv_id="2405.13786").exists()
    assert IngestRun.objects.filter(source="arxiv-api", status="succeeded").count() == 2
    assert set(_saves(user).values_list("paper__arxiv_id", flat=True)) == {"2405.13786", "2202.12139"}
    assert result["absent"] == 1
    again = library_fetch_run(user_id=user.pk, arxiv_ids=wanted[:2])
    assert again["fetched"] == 0 and again["saved"] == 0


def _client(user):
    client = Client(enforce_csrf_checks=False)
    client.force_login(user)
    return client


def test_import_page_upload_report_and_paste(catalogue):
    user = make_subscriber("web@example.org")
    client = _client(user)
    url = reverse("web:library_import")
    assert client.get(url).status_code == 200
    onboarding = client.get(reverse("web:onboarding_rate")).content.decode()
    assert "Import your library (BibTeX, RIS, CSV)" in onboarding and url in onboarding
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("mine.bib", _bib(catalogue[:4]), content_type="application/x-bibtex")
    response = client.post(url, {"file": upload, "next": reverse("web:onboarding_rate")})
    assert response.status_code == 302 and "done=1" in response["Location"]
    page = client.get(response["Location"]).content.decode()
    for label in ("Entries read", "Matched by arXiv id", "Matched by title", "Fetched", "Not found", "Duplicates"):
        assert label in page
    assert reverse("web:onboarding_rate") in page and "nowhere" in page
    assert _saves(user).count() == 4
    response = client.post(url, {"text": f"https://arxiv.org/pdf/{catalogue[5].arxiv_id}v2.pdf"})
    assert response.status_code == 302 and _saves(user).count() == 5


def test_import_page_refuses_malformed_oversize_anonymous_and_no_csrf(catalogue, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    user = make_subscriber("strict@example.org")
    url = reverse("web:library_import")
    assert Client().get(url).status_code == 302  # sign-in first
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    assert strict.post(url, {"text": "2202.12139"}).status_code == 403
    client = _client(user)
    response = client.post(url, {"file": SimpleUploadedFile("x.bib", b"@article{a, title={open\n@misc{b}")})
    assert response.status_code == 400 and "broken" in response.content.decode()
    settings.PAPERBOY = {**settings.PAPERBOY, "LIBRARY_MAX_BYTES": 1000}
    response = client.post(url, {"file": SimpleUploadedFile("big.bib", b"%" * 5000)})
    assert response.status_code == 400 and "MB" in response.content.decode()
    assert not Interaction.objects.filter(user=user).exists()


def test_import_is_rate_limited(catalogue):
    user = make_subscriber("busy@example.org")
    client = _client(user)
    url = reverse("web:library_import")
    codes = [client.post(url, {"text": catalogue[0].arxiv_id}).status_code for _ in range(21)]
    assert codes[:20] == [302] * 20 and codes[20] == 429


def test_my_own_papers_saves_only_what_is_confirmed(catalogue, api, django_capture_on_commit_callbacks):
    user = make_subscriber("author@example.org")
    client = _client(user)
    url = reverse("web:library_mine")
    response = client.post(url, {"name": "Adrian Del Maestro"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "A Luttinger Liquid Core Inside Helium-4 Filled Nanopores" in page and "1201.4869" in page
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(api.requests[-1][0]).query))
    assert query["search_query"] == 'au:"Adrian Del Maestro"'
    assert not Interaction.objects.filter(user=user).exists()
    assert client.post(url, {"name": "x OR cat:cs.LG"}).status_code == 400
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(url, {"confirm": "1", "arxiv_id": ["1201.4869", catalogue[0].arxiv_id]})
    assert response.status_code == 302
    assert list(_saves(user).values_list("paper_id", flat=True)) == [catalogue[0].pk]
    assert len(callbacks) == 1  # 1201.4869 is fetched, then saved, by the worker


def test_command_prints_report_and_refuses_bad_files(catalogue, tmp_path, capsys):
    user = make_subscriber("cli@example.org")
    path = tmp_path / "lib.bib"
    path.write_bytes(_bib(catalogue[:6]))
    call_command("import_library", "cli@example.org", str(path), "--topic", "RL theory")
    out = capsys.readouterr().out
    for label in (
        "entries read: 8",
        "matched by id: 3",
        "matched by title: 3",
        "fetched",
        "not found: 1",
        "duplicates: 1",
    ):
        assert label in out
    assert "created the topic “RL theory”" in out and "saved under your topic “RL theory”" in out
    topic = Topic.objects.get(user=user, name="RL theory")
    assert _saves(user).count() == 6 and set(_saves(user).values_list("topic", flat=True)) == {topic.pk}
    bad = tmp_path / "bad.bib"
    bad.write_bytes(b"@article{x, title={")
    with pytest.raises(CommandError, match="broken|could not be read"):
        call_command("import_library", "cli@example.org", str(bad))
    with pytest.raises(CommandError, match="no user"):
        call_command("import_library", "ghost@example.org", str(path))


# --- fold-in at once: For you and the first digest ----------------------------------------------------


@pytest.mark.parametrize("trained", [False, True])
def test_import_reaches_for_you_and_first_digest_at_once(trained):
    from recommender.digest.context import digest_build
    from recommender.training.services import model_train
    from recommender.web.recommendations import picks_for

    papers, _ = make_community(papers_per_field=10, readers_per_field=5)
    if trained:
        model_train()
    fresh = {c: [make_paper(category=c) for _ in range(3)] for c in ("cs.LG", "cs.CL", "cs.CV")}
    newcomer = make_subscriber("newcomer@example.org")
    data = "\n".join(f"arXiv:{p.arxiv_id}" for p in papers["cs.CV"][:4]).encode()
    report = services.library_import(user=newcomer, data=data)
    assert report.saved == 4
    cv = {p.pk for p in papers["cs.CV"] + fresh["cs.CV"]}
    picks = picks_for(user=newcomer, n=3)
    assert picks and all(p.paper.pk in cv for p in picks), [(p.paper.primary_category, p.reason) for p in picks]
    assert any("you saved" in p.reason for p in picks)
    digest = digest_build(user=newcomer, now=timezone.now())
    assert not digest.skip_reason, digest.skip_reason
    assert digest.paper_ids[0] in {p.pk for p in fresh["cs.CV"]}


def test_command_wait_fetches_missing_ids_then_saves(catalogue, api, tmp_path, capsys):
    user = make_subscriber("waiter@example.org")
    Paper.objects.filter(arxiv_id="2405.13786").delete()
    path = tmp_path / "ids.txt"
    path.write_text("https://arxiv.org/abs/2405.13786v1\n2202.12139\n")
    call_command("import_library", "waiter@example.org", str(path), "--wait")
    assert "fetched (queued from arXiv): 1" in capsys.readouterr().out
    assert set(_saves(user).values_list("paper__arxiv_id", flat=True)) == {"2405.13786", "2202.12139"}


def test_fetch_task_is_routed_to_the_ingest_queue_and_polite():
    import time

    from digest_site.celery import app
    from recommender.library.tasks import TASK_LIBRARY_FETCH, politeness_wait

    assert app.amqp.router.route({}, TASK_LIBRARY_FETCH)["queue"].name == "ingest"
    politeness_wait(delay=1.0)
    t0 = time.monotonic()
    politeness_wait(delay=1.0)  # a second library request waits out the first one's delay
    assert time.monotonic() - t0 >= 0.5


def test_fetch_never_pages_an_id_list_query(catalogue, settings, feed_server, feeds):
    """A reply claiming 214,881 results (the recorded search feed, as a mirror might send) costs one request."""
    feed_server.route("/api/query", Reply(body=(feeds / "arxiv-api" / "query_testing_10.xml").read_bytes()))
    settings.PAPERBOY = {**settings.PAPERBOY, "ARXIV_API_URL": feed_server.url("/api/query"), "ARXIV_DELAY_SECONDS": 0}
    Paper.objects.filter(arxiv_id="2405.13786").delete()
    user = make_subscriber("pager@example.org")
    library_fetch_run(user_id=user.pk, arxiv_ids=["2405.13786"])
    assert len(feed_server.requests) == 1
    assert _saves(user).filter(paper__arxiv_id="2405.13786").exists()


# --- into a topic ----------------------------------------------------------------------------------------


def test_a_library_imported_into_a_topic_shapes_that_topic_only(catalogue, api, tmp_path, capsys):
    """``--topic``: saves (and the papers fetched later) carry the topic, which is reused, not re-created; importing
    again changes nothing; an account-wide save imported again under the topic moves to it."""
    user = make_subscriber("topics@example.org")
    Paper.objects.filter(arxiv_id="2405.13786").delete()
    services.saves_record(user=user, paper_ids=[catalogue[0].pk])  # account-wide, from an earlier import
    path = tmp_path / "ids.txt"
    path.write_text(f"{catalogue[0].arxiv_id}\n{catalogue[1].arxiv_id}\nhttps://arxiv.org/abs/2405.13786v1\n")
    call_command("import_library", "topics@example.org", str(path), "--topic", "LLM evaluation", "--wait")
    topic = Topic.objects.get(user=user, name="LLM evaluation")
    assert set(_saves(user).values_list("paper__arxiv_id", "topic")) == {
        (catalogue[0].arxiv_id, topic.pk),
        (catalogue[1].arxiv_id, topic.pk),
        ("2405.13786", topic.pk),
    }
    rows = Interaction.objects.filter(user=user).order_by("pk")
    before = list(rows.values_list("pk", "paper", "kind", "topic"))
    capsys.readouterr()
    call_command("import_library", "topics@example.org", str(path), "--topic", "llm-evaluation")  # by slug
    assert "created the topic" not in capsys.readouterr().out
    assert Topic.objects.filter(user=user).count() == 2
    assert list(rows.values_list("pk", "paper", "kind", "topic")) == before


def test_the_import_page_offers_the_readers_topics_and_refuses_another_readers(catalogue):
    from recommender.subscriptions.topics import topic_create, topic_default_ensure

    user = make_subscriber("pages@example.org")
    general = topic_default_ensure(user=user)
    theory = topic_create(user=user, name="RL theory")
    stranger = topic_create(user=make_subscriber("stranger@example.org"), name="Elsewhere")
    client = Client()
    client.force_login(user)
    url = reverse("web:library_import")
    page = client.get(url).content.decode()
    assert "All my topics" in page and "RL theory" in page and general.name in page
    response = client.post(url, {"text": catalogue[0].arxiv_id, "topic": str(stranger.pk)})
    assert response.status_code == 400 and not _saves(user).exists()
    response = client.post(url, {"text": catalogue[0].arxiv_id, "topic": str(theory.pk)})
    assert response.status_code == 302
    assert list(_saves(user).values_list("topic", flat=True)) == [theory.pk]
    assert "saved under your topic" in client.get(response["Location"]).content.decode()
    client.post(url, {"text": catalogue[1].arxiv_id, "topic": ""})
    assert _saves(user).get(paper=catalogue[1]).topic is None  # all topics: account-wide


def test_one_topic_leaves_nothing_to_choose(catalogue):
    user = make_subscriber("single@example.org")
    client = Client()
    client.force_login(user)
    page = client.get(reverse("web:library_import")).content.decode()
    assert "All my topics" not in page and 'type="hidden" name="topic"' in page
