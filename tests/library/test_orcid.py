""" "My own papers" by ORCID iD: the iD check, the works list read, the whole flow through the test client.

ORCID is a local HTTP server (``FeedServer``) serving ``fixtures/orcid_works_v3.0.json``: a works
document written by us in ORCID's v3.0 schema (we have no recording; fixtures/README.md says what
each group tests). Papers the catalogue lacks are fetched after confirmation by the library's
export-API fetcher from a local server replaying the recorded arXiv feeds.
"""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from digest_site.celery import app
from recommender.ingest import arxiv_api, arxiv_oai, arxiv_rss
from recommender.ingest.services import ingest_run
from recommender.library.orcid import OrcidError, arxiv_id_from, check_character, orcid_normalise, works_parse
from recommender.models import Interaction, InteractionKind, InteractionSource, Paper
from tests.factories import make_paper, make_subscriber
from tests.feed_server import Reply

from .test_import import _only_ids

FIXTURE = Path(__file__).parent / "fixtures" / "orcid_works_v3.0.json"
ORCID = "0000-0002-1825-0097"
JSON = "application/json;charset=UTF-8"
# What the fixture's groups name, in ORCID's order (group 10 repeats group 1's paper).
EXPECTED = [
    ("2202.12139", "Testing Deep Learning Models: A First Comparative Study of Multiple Testing Techniques"),
    ("2405.13786", "Towards Explainable Test Case Prioritisation with Learning-to-Rank Models"),
    ("2005.14124", "Active Fuzzing for Testing and Securing Cyber-Physical Systems"),
    ("hep-ph/0301050", "Statistical Test of Anarchy"),
    ("cs/0503050", "Systematic Method for Path-Complete White Box Testing"),
    ("cond-mat/0412498", "Thermal melting of density waves on the square lattice"),
    ("1201.4869", "A Luttinger Liquid Core Inside Helium-4 Filled Nanopores"),
]
NOT_IN_CATALOGUE = {"cond-mat/0412498", "1201.4869"}  # in old_format_author_query.xml, not query_testing_100.xml
# ORCID's error document for a well-formed iD with no record (written by us in ORCID's v3.0 error schema).
NOT_FOUND = json.dumps(
    {
        "response-code": 404,
        "developer-message": "404 Not Found: The resource was not found. Full validation error: "
        "ORCID iD 0000-0001-5109-3700 not found",
        "user-message": "The resource was not found.",
        "error-code": 9016,
        "more-info": "https://info.orcid.org/documentation/api-tutorials/troubleshooting-orcid-api-error-codes/",
    }
).encode()

pytestmark = pytest.mark.django_db


def _works(*, keep=None) -> bytes:
    document = json.loads(FIXTURE.read_bytes())
    if keep is not None:
        document["group"] = [g for i, g in enumerate(document["group"], start=1) if i in keep]
    return json.dumps(document).encode()


# --- the iD -------------------------------------------------------------------------------------------


def test_documented_ids_pass_and_every_single_character_error_is_caught():
    """MOD 11-2 catches every one-character substitution: checked at every position of three real iDs."""
    for valid in ("0000-0002-1825-0097", "0000-0001-5109-3700", "0000-0002-1694-233X"):
        assert orcid_normalise(valid) == valid
        for pos, ch in enumerate(valid):
            if ch == "-":
                continue
            for other in "0123456789X" if pos == len(valid) - 1 else "0123456789":
                if other != ch:
                    typo = valid[:pos] + other + valid[pos + 1 :]
                    with pytest.raises(OrcidError, match="not a valid ORCID iD"):
                        orcid_normalise(typo)


@given(st.text(alphabet="0123456789", min_size=15, max_size=15), st.integers(min_value=0, max_value=13))
def test_any_iD_with_its_check_character_passes_and_an_adjacent_swap_fails(digits, swap):
    orcid = "-".join((digits + check_character(digits))[i : i + 4] for i in range(0, 16, 4))
    assert orcid_normalise(orcid) == orcid
    assert orcid_normalise(f"https://orcid.org/{orcid}") == orcid
    if digits[swap] != digits[swap + 1]:
        swapped = digits[:swap] + digits[swap + 1] + digits[swap] + digits[swap + 2 :]
        with pytest.raises(OrcidError):
            orcid_normalise(swapped + check_character(digits))


@pytest.mark.parametrize(
    "pasted",
    [
        "https://orcid.org/0000-0002-1825-0097",
        "http://orcid.org/0000-0002-1825-0097/",
        "orcid.org/0000-0002-1825-0097",
        "https://www.orcid.org/0000-0002-1825-0097",
        "  0000-0002-1825-0097\n",
        "0000000218250097",
    ],
)
def test_pasted_forms_of_an_id(pasted):
    assert orcid_normalise(pasted) == ORCID


@pytest.mark.parametrize(
    "junk",
    [
        "",
        "0000-0002-1825-009",
        "0000-0002-1825-00977",
        "https://example.org/0000-0002-1825-0097",
        "0000-0002-1825-0097 OR 1=1",
        "<script>0000-0002-1825-0097</script>",
        "Jane Doe",
    ],
)
def test_malformed_ids_are_refused_before_any_request(junk):
    with pytest.raises(OrcidError, match="Enter an ORCID iD"):
        orcid_normalise(junk)


# --- the works list ------------------------------------------------------------------------------


def _recorded_ids(feeds: Path) -> list[tuple[str, int | None]]:
    """(id, version) of every paper of every recorded arXiv feed, both schemes."""
    found = []
    for path in (feeds / "arxiv-api").glob("*.xml"):
        if "error" not in path.name:
            found += [(e.arxiv_id, e.version) for e in arxiv_api.parse(path.read_bytes())]
    for path in (feeds / "arxiv-oai").glob("arXiv*.xml"):
        found += [(e.arxiv_id, e.version) for e in arxiv_oai.parse(path.read_bytes())]
    for path in (feeds / "arxiv-rss").glob("*.xml"):
        found += [(e.arxiv_id, e.version) for e in arxiv_rss.parse(path.read_bytes())]
    return found


def test_every_recorded_id_is_read_from_every_form_orcid_records_carry(feeds):
    recorded = _recorded_ids(feeds)
    assert any("/" in i for i, _ in recorded) and any("/" not in i for i, _ in recorded)
    for arxiv_id, version in recorded:
        v = f"v{version or 1}"
        for id_type, value in [
            ("arxiv", f"arXiv:{arxiv_id}"),
            ("arxiv", f"arxiv:{arxiv_id}{v}"),
            ("arxiv", arxiv_id + v),
            ("ARXIV", f"https://arxiv.org/abs/{arxiv_id}{v}"),
            ("doi", f"10.48550/arXiv.{arxiv_id}"),
            ("doi", f"https://doi.org/10.48550/ARXIV.{arxiv_id}"),
        ]:
            assert arxiv_id_from(id_type, value) == arxiv_id, (id_type, value)
        assert arxiv_id_from("doi", f"10.1103/{arxiv_id}") is None
        assert arxiv_id_from("isbn", arxiv_id) is None


def test_the_fixture_yields_its_arxiv_papers_once_each_in_order():
    result = works_parse(FIXTURE.read_bytes())
    assert result.groups == 11 and not result.truncated
    assert [(w.arxiv_id, w.title) for w in result.works] == EXPECTED
    assert result.works[0].year == 2022


@pytest.mark.parametrize(
    "body",
    [
        b"<html>maintenance</html>",
        b"[]",
        b'{"group": "none"}',
        b"[" * 100_000 + b"]" * 100_000,
    ],
)
def test_what_is_not_a_works_list_is_one_line(body):
    with pytest.raises(OrcidError, match="not a works list"):
        works_parse(body)


def test_nulls_and_wrong_types_anywhere_are_skipped():
    group = {
        "external-ids": {"external-id": [None, 5, {"external-id-type": None}, {"external-id-value": ["x"]}]},
        "work-summary": [None, {"title": None}, {"title": {"title": {"value": 3}}, "publication-date": None}],
    }
    body = json.dumps({"group": [None, group, {"external-ids": None, "work-summary": None}], "path": None})
    assert works_parse(body.encode()).works == []
    part_of = {"external-id-type": "arxiv", "external-id-value": "2202.12139", "external-id-relationship": "part-of"}
    body = json.dumps({"group": [{"external-ids": {"external-id": [part_of]}, "work-summary": []}]})
    assert works_parse(body.encode()).works == []


# --- the flow through the pages -------------------------------------------------------------------


@pytest.fixture
def catalogue(feeds):
    ingest_run(source="arxiv-api", path=feeds / "arxiv-api" / "query_testing_100.xml")
    return list(Paper.objects.order_by("arxiv_id"))


@pytest.fixture
def servers(settings, feed_server, feeds):
    """ORCID at ``/v3.0`` (the fixture for ORCID) and the export API at ``/api/query`` (the author feed)."""
    author = (feeds / "arxiv-api" / "old_format_author_query.xml").read_bytes()

    def api(path):
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(path).query))
        if query.get("search_query", "").startswith("au:"):
            return Reply(body=author)
        return Reply(body=_only_ids(author, query.get("id_list", "").split(",")))

    feed_server.route("/api/query", api)
    feed_server.route(f"/v3.0/{ORCID}/works", Reply(body=_works(), content_type=JSON))
    settings.PAPERBOY = {
        **settings.PAPERBOY,
        "ORCID_API_URL": feed_server.url("/v3.0/"),
        "ARXIV_API_URL": feed_server.url("/api/query"),
        "ARXIV_DELAY_SECONDS": 0,
    }
    return feed_server


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def _orcid_requests(server):
    return [(path, headers) for path, headers in server.requests if path.startswith("/v3.0/")]


def _saves(user):
    return Interaction.objects.filter(user=user, kind=InteractionKind.SAVE)


def _echo_papers(catalogue):
    """Fresh papers (announced today) on the subjects of two of the record's papers, and one on neither."""
    by_id = {p.arxiv_id: p for p in catalogue}
    echoes = [
        make_paper(category=p.primary_category, title=f"{p.title}: a follow-up", abstract=p.abstract)
        for p in (by_id["2202.12139"], by_id["hep-ph/0301050"])
    ]
    make_paper(category="q-bio.NC", title="Dendritic spines in the mouse cortex", abstract="Neurons and spines.")
    return echoes


@pytest.fixture
def eager():
    """Celery tasks run in the calling process (the after-commit fetch of the confirmed ids), for one test."""
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False  # as tests/conftest.py wires it for the session


def test_orcid_id_to_confirmation_to_saves_to_for_you_and_digest(
    catalogue, servers, eager, django_capture_on_commit_callbacks
):
    """Enter an iD -> the record's arXiv papers listed -> confirm some -> saved (source import) -> used at once."""
    echoes = _echo_papers(catalogue)
    user = make_subscriber("carberry@example.org")
    client = _client(user)
    url = reverse("web:library_mine")
    assert "ORCID iD" in client.get(url).content.decode()
    assert "you saved" not in client.get(reverse("web:for_you")).content.decode()
    assert "you saved" not in client.get(reverse("digest:preview")).content.decode()

    response = client.post(url, {"orcid": f"https://orcid.org/{ORCID}"})
    assert response.status_code == 200
    page = response.content.decode()
    for arxiv_id, title in EXPECTED:
        assert title in page and f'value="{arxiv_id}" checked' in page
    assert page.count('name="arxiv_id"') == len(EXPECTED)
    assert page.count("fetched from arXiv when you confirm") == len(NOT_IN_CATALOGUE)
    listed = page.split('class="found-papers"', 1)[1].split("</ul>", 1)[0]
    assert "stripe to checkerboard" not in listed and "Psychoceramics" not in listed and "submit/" not in listed
    ((path, headers),) = _orcid_requests(servers)
    assert path == f"/v3.0/{ORCID}/works" and headers["Accept"] == "application/json"
    assert not Interaction.objects.filter(user=user).exists()  # nothing saved before confirmation

    chosen = [i for i, _ in EXPECTED if i != "2405.13786"]  # the reader unticks one
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(url, {"confirm": "1", "arxiv_id": chosen + ["not an id"]})
    assert response.status_code == 302 and "done=1" in response["Location"]
    assert len(callbacks) == 1  # one export-API fetch for the two papers the catalogue lacked
    report = client.get(response["Location"]).content.decode()
    assert "Import done" in report
    saved = _saves(user)
    assert set(saved.values_list("paper__arxiv_id", flat=True)) == set(chosen)
    assert set(saved.values_list("source", flat=True)) == {InteractionSource.IMPORT}
    assert Paper.objects.filter(arxiv_id__in=NOT_IN_CATALOGUE).count() == 2

    for_you = client.get(reverse("web:for_you")).content.decode()
    assert "you saved" in for_you
    assert all(p.title in for_you for p in echoes)
    assert for_you.index(echoes[0].title) < for_you.index("Dendritic spines")
    preview = client.get(reverse("digest:preview")).content.decode()
    assert "you saved" in preview and all(p.title in preview for p in echoes)
    assert preview.index(echoes[0].title) < preview.index("Dendritic spines")


@pytest.mark.parametrize(
    ("orcid", "reply", "message"),
    [
        ("0000-0002-1825-0098", None, "is not a valid ORCID iD"),
        ("1234", None, "Enter an ORCID iD"),
        ("0000-0001-5109-3700", Reply(status=404, body=NOT_FOUND, content_type=JSON), "ORCID has no public record"),
        (ORCID, Reply(status=503, body=b"down", content_type="text/html"), "ORCID did not answer"),
        (ORCID, Reply(body=b"<html>Maintenance</html>", content_type="text/html"), "not a works list"),
        (ORCID, Reply(body=_works(keep={8, 9, 11}), content_type=JSON), "lists 3 public works"),
        (ORCID, Reply(body=b'{"last-modified-date":null,"group":[],"path":"/x/works"}', content_type=JSON), "0 public"),
    ],
)
def test_every_failure_is_one_line_and_saves_nothing(catalogue, servers, orcid, reply, message):
    if reply is not None:
        reply.headers.setdefault("Retry-After", "0")
        servers.route(f"/v3.0/{orcid}/works", reply)
    user = make_subscriber("unlucky@example.org")
    response = _client(user).post(reverse("web:library_mine"), {"orcid": orcid})
    assert response.status_code == 400
    page = response.content.decode()
    alert = page.split('role="alert">', 1)[1].split("</p>", 1)[0]
    assert message in alert and "\n" not in alert and "Traceback" not in page
    assert 'name="arxiv_id"' not in page
    assert len(_orcid_requests(servers)) == (0 if reply is None else 3 if reply.status == 503 else 1)
    assert not Interaction.objects.filter(user=user).exists()


def test_orcid_unreachable(settings, catalogue):
    settings.PAPERBOY = {**settings.PAPERBOY, "ORCID_API_URL": "http://127.0.0.1:9/v3.0"}  # discard port: refused
    user = make_subscriber("offline@example.org")
    response = _client(user).post(reverse("web:library_mine"), {"orcid": ORCID})
    assert response.status_code == 400 and "ORCID did not answer" in response.content.decode()


def test_a_transient_failure_is_retried_and_a_long_retry_after_is_not_waited_for(catalogue, servers):
    user = make_subscriber("patient@example.org")
    client = _client(user)
    busy = Reply(status=429, body=b"", headers={"Retry-After": "0"})
    servers.route(f"/v3.0/{ORCID}/works", busy, Reply(body=_works(), content_type=JSON))
    response = client.post(reverse("web:library_mine"), {"orcid": ORCID})
    assert response.status_code == 200 and EXPECTED[0][1] in response.content.decode()
    assert len(_orcid_requests(servers)) == 2
    servers.requests.clear()
    servers.route(f"/v3.0/{ORCID}/works", Reply(status=503, body=b"", headers={"Retry-After": "3600"}))
    response = client.post(reverse("web:library_mine"), {"orcid": ORCID})
    assert response.status_code == 400 and "ORCID did not answer" in response.content.decode()
    assert len(_orcid_requests(servers)) == 1


def test_orcid_lookups_are_rate_limited_and_csrf_protected(catalogue):
    user = make_subscriber("hasty@example.org")
    url = reverse("web:library_mine")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    assert strict.post(url, {"orcid": ORCID}).status_code == 403
    client = _client(user)
    codes = [client.post(url, {"orcid": "0000-0002-1825-0098"}).status_code for _ in range(11)]
    assert codes == [400] * 10 + [429]
    assert client.post(url, {"name": "x OR cat:cs.LG"}).status_code == 400  # the author search counts apart


# --- the command -----------------------------------------------------------------------------------


def test_command_lists_orcid_papers_and_saves_only_with_yes(catalogue, servers, capsys):
    user = make_subscriber("cli-orcid@example.org")
    call_command("import_library", "cli-orcid@example.org", "--orcid", f"https://orcid.org/{ORCID}")
    out = capsys.readouterr().out
    assert f"ORCID {ORCID}: 7 arXiv papers in 11 public works" in out
    for arxiv_id, title in EXPECTED:
        assert arxiv_id in out and title in out
    assert out.count("[to fetch from arXiv]") == 2 and "nothing saved: run again with --yes" in out
    assert not Interaction.objects.filter(user=user).exists()
    call_command("import_library", "cli-orcid@example.org", "--orcid", ORCID, "--yes", "--wait")
    assert "saved now: 7" in capsys.readouterr().out
    assert set(_saves(user).values_list("paper__arxiv_id", flat=True)) == {i for i, _ in EXPECTED}
    assert set(_saves(user).values_list("source", flat=True)) == {InteractionSource.IMPORT}


def test_command_author_option_and_refusals(catalogue, servers, capsys):
    user = make_subscriber("cli-author@example.org")
    call_command("import_library", "cli-author@example.org", "--author", "Adrian Del Maestro")
    out = capsys.readouterr().out
    assert "arXiv lists 10 papers under 'Adrian Del Maestro'" in out and "1201.4869" in out
    assert not Interaction.objects.filter(user=user).exists()
    call_command("import_library", "cli-author@example.org", "--author", "Adrian Del Maestro", "--yes")
    assert "fetched (queued from arXiv): 10" in capsys.readouterr().out
    for args, match in [
        (["--orcid", "0000-0002-1825-0098"], "not a valid ORCID iD"),
        (["--author", "x OR cat:cs.LG"], "Enter a name"),
        (["some.bib", "--orcid", ORCID], "exactly one of"),
        ([], "exactly one of"),
    ]:
        with pytest.raises(CommandError, match=match):
            call_command("import_library", "cli-author@example.org", *args)
