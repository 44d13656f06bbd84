"""Library parsers: every format, every place an arXiv id hides, and hostile or malformed files refused whole."""

from __future__ import annotations

import time

import pytest

from recommender.library import parsers
from recommender.library.normalise import surname, title_key
from recommender.library.parsers import LibraryError

LIMITS = {"max_bytes": 5 * 1024 * 1024, "max_entries": 10_000}


def parse(text, filename="", **kw):
    data = text.encode() if isinstance(text, str) else text
    return parsers.parse(data, filename=filename, **{**LIMITS, **kw})


def test_pasted_text_both_schemes_versions_urls():
    text = """
    2403.02233
    https://arxiv.org/abs/2403.02233v2
    http://arxiv.org/pdf/1706.03762v7.pdf and arXiv:1501.00001
    hep-th/9901001v3
    https://arxiv.org/abs/math.GT/0309136
    cs/0503050
    Attention Is All You Need
    """
    kind, entries = parse(text)
    assert kind == "text"
    ids = [e.arxiv_id for e in entries if e.arxiv_id]
    assert ids == [
        "2403.02233",
        "2403.02233",
        "1706.03762",
        "1501.00001",
        "hep-th/9901001",
        "math.GT/0309136",
        "cs/0503050",
    ]
    assert [e.title for e in entries if not e.arxiv_id] == ["Attention Is All You Need"]


@pytest.mark.parametrize(
    "field",
    [
        "eprint = {2403.02233}, archivePrefix = {arXiv}",
        "eprint = {2403.02233v3}",
        "url = {https://arxiv.org/abs/2403.02233v1}",
        "doi = {10.48550/arXiv.2403.02233}",
        "doi = {10.48550/ARXIV.2403.02233}",
        "note = {arXiv: 2403.02233}",
        "howpublished = {\\url{http://arxiv.org/abs/2403.02233}}",
        "journal = {arXiv preprint arXiv:2403.02233}",
        "journal = {arXiv preprint 2403.02233}",
        "arxivId = {2403.02233}",
    ],
)
def test_bibtex_id_in_every_field(field):
    _, [entry] = parse(f"@article{{k, title = {{T}}, {field}}}", "x.bib")
    assert entry.arxiv_id == "2403.02233"


def test_bibtex_no_false_ids():
    text = "@article{k, title={On 1234.5678 things}, pages = {1203.1234}, eprint={hal-0001}, archivePrefix={HAL}}"
    _, [entry] = parse(text)
    assert entry.arxiv_id == ""


def test_bibtex_old_scheme_eprint_and_authors():
    text = (
        '@article{k, title={X}, author={M{\\"u}ller, Hans and {van der Berg}, Anna and Li Wei}, year=2001, '
        "eprint={hep-th/0101001v2}}"
    )
    _, [entry] = parse(text)
    assert entry.arxiv_id == "hep-th/0101001"
    assert [surname(a) for a in entry.authors] == ["muller", "berg", "wei"]
    assert entry.year == 2001


def test_title_key_folds_case_accents_tex_punctuation():
    assert title_key('Deep {L}earning for \\"{U}ber--Fast $\\alpha$-Nets: \\emph{A} Study.') == title_key(
        "deep learning for Über fast α nets a study"
    )
    assert title_key("{\\'E}tude de la {\\c{c}}a") == "etude de la ca"


def test_ris_and_csv():
    ris = (
        "TY  - JOUR\nTI  - A Title Here\nAU  - Doe, Jane\nPY  - 2020\nUR  - https://arxiv.org/abs/2001.00001\nER  - \n"
    )
    kind, [entry] = parse(ris)
    assert kind == "ris" and entry.arxiv_id == "2001.00001" and entry.year == 2020 and entry.authors == ["Doe, Jane"]
    ris2 = "TY  - JOUR\nTI  - Other\nAU  - Roe, R\nDO  - 10.48550/arXiv.2001.00002\nER  - \n"
    assert parse(ris2)[1][0].arxiv_id == "2001.00002"
    zotero = (
        '"Key","Item Type","Publication Year","Author","Title","Url","Extra"\n'
        '"ABC","preprint","2020","Doe, Jane; Roe, Rick","A Title Here","","arXiv: 2001.00003"\n'
        '"DEF","journalArticle","2019","Poe, E","Only A Title","",""\n'
    )
    kind, entries = parse(zotero)
    assert kind == "csv"
    assert [e.arxiv_id for e in entries] == ["2001.00003", ""]
    assert entries[0].authors == ["Doe, Jane", "Roe, Rick"] and entries[1].title == "Only A Title"
    mendeley = "Title;Authors;Year;arXiv ID\nSome Paper;Smith, J;2018;1801.00001v2\n"
    assert parse(mendeley, "m.csv")[1][0].arxiv_id == "1801.00001"


@pytest.mark.parametrize(
    "data,message",
    [
        (b"@article{a, title={Fine}}\n@article{b, title={Broken\n@misc{c, title={x}}\n", "broken"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 10, "binary"),
        (bytes(range(256)) * 100, "binary"),
        (b"\xff\xfe\x81\x8d\x8f\x90\x9d" * 10, "not text"),
        (b"   \n\n", "empty"),
        (b"TY  - JOUR\nTI  - never ends\n", "no complete record"),
        (b"Just some words\n", "no arxiv"),
    ],
)
def test_malformed_files_refused_with_a_clear_error(data, message):
    if message == "no arxiv":  # a line of text is a title to match, not an error
        assert parse(data)[1][0].title == "Just some words"
        return
    with pytest.raises(LibraryError) as exc:
        parse(data)
    assert message in str(exc.value).lower()


def test_size_and_entry_limits():
    with pytest.raises(LibraryError, match="MB"):
        parse(b"x" * (50 * 1024 * 1024))
    many = "".join(f"@misc{{k{i}, title={{Paper number {i}}}}}\n" for i in range(100_000))
    t0 = time.perf_counter()
    with pytest.raises(LibraryError, match="100,000 entries"):
        parse(many, max_bytes=50 * 1024 * 1024)
    with pytest.raises(LibraryError, match="entries"):
        parse("\n".join(f"{2301 + i % 9}.{i:05d}" for i in range(20_000)))
    assert time.perf_counter() - t0 < 5


@pytest.mark.parametrize(
    "title",
    [
        "{" * 20_000 + "x" + "}" * 20_000,
        "\\" * 50_000,
        "\\emph{" * 10_000 + "}" * 10_000,
        "$" * 30_000 + "\\'" * 30_000,
        "\\def\\x{\\x\\x}\\x \\input{/etc/passwd} \\write18{rm -rf /}",
        "a" * 1_000_000,
    ],
)
def test_hostile_tex_is_cheap_and_inert(title):
    t0 = time.perf_counter()
    try:
        _, entries = parse(f"@article{{k, title = {{{title}}}, author={{A B}}}}\n")
    except LibraryError:
        entries = []
    for entry in entries:
        assert len(title_key(entry.title)) <= 1000
    assert time.perf_counter() - t0 < 5


@pytest.mark.parametrize(
    "data",
    [
        b"@article{k, title={" + b"a" * 4_900_000,
        b"@article{k, title=" + b"{" * 1_000_000 + b"}" * 1_000_000 + b"}",
        b"@article{k, " + b"f=x, " * 500_000 + b"}",
    ],
)
def test_megabyte_entries_are_refused_before_parsing(data):
    t0 = time.perf_counter()
    with pytest.raises(LibraryError, match="kB"):
        parse(data)
    assert time.perf_counter() - t0 < 2


def test_broken_block_error_names_the_line_and_a_reason():
    with pytest.raises(LibraryError) as exc:
        parse("@misc{ok, title={Fine}}\n\n@article{k, title={never closed}\n")
    message = str(exc.value)
    assert "line 3" in message and "()" not in message
