"""Hostile and malformed input: a clear one-line error, a failed IngestRun, nothing written."""

from __future__ import annotations

import json

import pytest

from recommender.ingest.entries import DocumentError, IngestError
from recommender.ingest.services import ingest_run
from recommender.models import IngestRun, Paper, RunStatus

pytestmark = pytest.mark.django_db

GOOD_ITEM = """<item><title>Fine paper</title><description>arXiv:2604.00010v1 Announce Type: new
Abstract: We propose things.</description><category>cs.LG</category></item>"""


def rss_doc(body: str, *, prolog: str = '<?xml version="1.0" encoding="UTF-8"?>') -> bytes:
    return (f'{prolog}<rss version="2.0"><channel><title>t</title>{body}</channel></rss>').encode()


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<rss version="2.0"><channel><item><title>&lol9;</title><description>arXiv:2604.00011v1 Announce Type: new
Abstract: x</description></item></channel></rss>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><item><title>&xxe;</title><description>arXiv:2604.00012v1 Announce Type: new
Abstract: x</description></item></channel></rss>"""


def _ingest_bytes(tmp_path, source, data, name="feed"):
    path = tmp_path / name
    path.write_bytes(data)
    return ingest_run(source=source, path=path)


def _assert_failed_cleanly(match: str):
    assert Paper.objects.count() == 0
    run = IngestRun.objects.get()
    assert run.status == RunStatus.FAILED
    assert "\n" not in run.error and len(run.error) <= 500
    assert match.lower() in run.error.lower()


@pytest.mark.parametrize(
    "source, data, match",
    [
        ("arxiv-rss", BILLION_LAUGHS, "DTD"),
        ("arxiv-rss", XXE, "DTD"),
        ("arxiv-api", BILLION_LAUGHS.replace(b"rss", b"feed"), "DTD"),
        ("arxiv-oai", XXE, "DTD"),
        ("arxiv-rss", rss_doc(GOOD_ITEM)[:-30], "truncated"),
        (
            "arxiv-rss",
            rss_doc(GOOD_ITEM + "<item><title>\xff\xfe bad</title></item>").replace(b"\xc3\xbf", b"\xff"),
            "malformed",
        ),
        ("arxiv-rss", b"<!DOCTYPE html><html><body>Service unavailable</body></html>", "HTML"),
        ("arxiv-rss", b'{"not": "xml"}', "JSON"),
        ("arxiv-rss", b"", "empty"),
        ("arxiv-rss", b"<feed xmlns='http://www.w3.org/2005/Atom'/>", "not an RSS 2.0 feed"),
        ("arxiv-api", rss_doc(GOOD_ITEM), "not an Atom feed"),
        ("arxiv-rss", rss_doc(GOOD_ITEM.replace("2604.00010v1", "../../etc/passwd")), "invalid arXiv identifier"),
        ("hf-daily", b"<html><body>Oops</body></html>", "HTML"),
        ("hf-daily", b'[{"paper": {"id": "2606.00001", "title": "x"', "truncated"),
        ("hf-daily", b'[{"paper": {"id": "2606.00001", "title": "caf\xe9"}}]', "not valid UTF-8"),
        ("hf-daily", b'{"error": "Invalid date"}', "Invalid date"),
        ("hf-daily", b'[{"paper": {"id": "2606.00001", "upvotes": "lots"}}]', "not a number"),
        ("hf-daily", b'{"papers": []}', "expected a JSON list"),
    ],
    ids=[
        "billion-laughs",
        "xxe",
        "billion-laughs-atom",
        "xxe-oai",
        "truncated-xml",
        "invalid-utf8-xml",
        "html-as-xml",
        "json-as-xml",
        "empty",
        "wrong-root",
        "rss-as-atom",
        "bad-id",
        "html-as-json",
        "truncated-json",
        "invalid-utf8-json",
        "hf-error-object",
        "hf-wrong-types",
        "hf-wrong-shape",
    ],
)
def test_hostile_documents_fail_cleanly(tmp_path, source, data, match):
    with pytest.raises(IngestError) as info:
        _ingest_bytes(tmp_path, source, data)
    assert match.lower() in str(info.value).lower()
    _assert_failed_cleanly(match)


def test_one_bad_item_rolls_back_the_whole_feed(tmp_path):
    bad = GOOD_ITEM.replace("2604.00010", "2604.00013").replace("Abstract:", "") + GOOD_ITEM.replace(
        "2604.00010v1", "nonsense"
    )
    with pytest.raises(DocumentError):
        _ingest_bytes(tmp_path, "arxiv-rss", rss_doc(GOOD_ITEM + bad))
    _assert_failed_cleanly("invalid arXiv identifier")


def test_oversize_file_is_refused(tmp_path, settings):
    settings.PAPERBOY = {**settings.PAPERBOY, "INGEST_MAX_BYTES": 1000}
    with pytest.raises(IngestError, match="limit"):
        _ingest_bytes(tmp_path, "arxiv-rss", rss_doc(GOOD_ITEM * 20))
    _assert_failed_cleanly("1000-byte limit")


def test_declared_latin1_encoding_is_honoured(tmp_path):
    doc = rss_doc(
        GOOD_ITEM.replace("Fine paper", "Caf\xe9 models"), prolog='<?xml version="1.0" encoding="ISO-8859-1"?>'
    )
    run = _ingest_bytes(tmp_path, "arxiv-rss", doc.decode().encode("latin-1"))
    assert run.created == 1
    assert Paper.objects.get().title == "Café models"


def test_ten_thousand_authors(tmp_path):
    authors = ", ".join(f"Author Number{i}" for i in range(10_000))
    item = GOOD_ITEM.replace("</item>", f"<dc:creator>{authors}</dc:creator></item>")
    doc = rss_doc(item).replace(b'version="2.0"', b'xmlns:dc="http://purl.org/dc/elements/1.1/" version="2.0"')
    run = _ingest_bytes(tmp_path, "arxiv-rss", doc)
    assert run.created == 1
    paper = Paper.objects.get()
    assert len(paper.authors) == 10_000 and paper.authors[-1] == "Author Number9999"
    hf = [{"paper": {"id": "2604.00010", "upvotes": 3, "authors": [{"name": f"A{i}"} for i in range(10_000)]}}]
    run = _ingest_bytes(tmp_path, "hf-daily", json.dumps(hf).encode(), name="hf.json")
    assert run.updated == 1
    paper.refresh_from_db()
    assert len(paper.authors) == 10_000 and paper.hf_upvotes == 3


def test_hf_json_controls_and_lone_surrogates_are_cleaned(tmp_path):
    doc = (
        b'[{"paper": {"id": "2606.00002", "title": "Nul\\u0000 byte \\ud800 and\\ttabs", "upvotes": 1e12,'
        b' "githubRepo": "javascript:alert(1)"}}]'
    )
    run = _ingest_bytes(tmp_path, "hf-daily", doc)
    assert run.created == 1
    paper = Paper.objects.get()
    assert "\x00" not in paper.title and paper.title.startswith("Nul byte")
    assert paper.hf_upvotes == 2**31 - 1
    assert paper.github_repo == ""


def test_duplicate_ids_in_hf_json_merge(tmp_path):
    doc = json.dumps(
        [
            {"paper": {"id": "2606.00003", "title": "Dup", "upvotes": 2}},
            {"paper": {"id": "2606.00003v2", "title": "Dup", "upvotes": 5}},
        ]
    ).encode()
    run = _ingest_bytes(tmp_path, "hf-daily", doc)
    assert (run.entries, run.created) == (2, 1)
    paper = Paper.objects.get()
    assert paper.hf_upvotes == 5 and paper.version == 2
