"""A matching test set built from the recorded arXiv API feeds: every paper as a BibTeX entry.

Even papers carry their id (in the field a reference manager would use:
eprint, abs or pdf URL with a version, the arXiv DOI, Google Scholar's
``journal = {arXiv preprint arXiv:...}``, note, howpublished); odd papers are
title-only, with the title's case, punctuation and TeX perturbed, authors as
"Last, First" and the year. Decoys name no paper of the catalogue (a word
changed, other authors, another year) and must match nothing. Shared by the
matching-quality test and ``bench/import_library.py``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from recommender.ingest import arxiv_api
from recommender.library.matching import CatalogueItem

FEEDS = ("query_testing_100.xml", "query_testing_10.xml", "old_format_author_query.xml")
ACCENTS = {"é": "{\\'e}", "è": "{\\`e}", "ü": '{\\"u}', "ö": '\\"{o}', "ñ": "\\~{n}", "ç": "\\c{c}", "á": "{\\'a}"}


@dataclass
class Case:
    bibtex: str
    key: str
    expected: str  # arXiv id it must match, "" for a decoy that must match nothing
    with_id: bool


def recorded_papers(feeds: Path) -> list:
    seen, papers = set(), []
    for name in FEEDS:
        for entry in arxiv_api.parse((feeds / "arxiv-api" / name).read_bytes()):
            if entry.arxiv_id not in seen:
                seen.add(entry.arxiv_id)
                papers.append(entry)
    return papers


def catalogue_items(papers) -> list[CatalogueItem]:
    return [
        CatalogueItem(
            pk=i + 1,
            arxiv_id=p.arxiv_id,
            title=p.title,
            authors=tuple(p.authors),
            year=p.submitted_at.year if p.submitted_at else None,
        )
        for i, p in enumerate(papers)
    ]


def _last_first(name: str) -> str:
    parts = name.split()
    return f"{parts[-1]}, {' '.join(parts[:-1])}" if len(parts) > 1 else name


def perturb_title(title: str, rng: random.Random) -> str:
    """The same title as a reference manager might spell it: other case, punctuation, TeX, accents, a typo."""
    words = title.split()
    out = []
    for word in words:
        choice = rng.random()
        if choice < 0.2:
            word = word.upper()
        elif choice < 0.4:
            word = word.lower()
        elif choice < 0.55 and word.isalpha():
            word = "{" + word + "}"
        elif choice < 0.6 and word.isalpha():
            word = "\\emph{" + word + "}"
        out.append(word)
    if rng.random() < 0.3:  # a typo: one letter dropped from a long word (the fuzzy path)
        long = [i for i, w in enumerate(out) if len(w) > 6 and w.isalpha()]
        if long:
            i = rng.choice(long)
            j = rng.randrange(1, len(out[i]) - 1)
            out[i] = out[i][:j] + out[i][j + 1 :]
    text = " ".join(out)
    for plain, tex in ACCENTS.items():
        text = text.replace(plain, tex)
    text = text.replace(":", rng.choice([" :", " --", ":"])).replace("-", rng.choice(["-", " ", "--"]))
    return text + rng.choice(["", ".", " ."])


def _id_field(arxiv_id: str, version: int, n: int) -> str:
    forms = [
        f"eprint = {{{arxiv_id}}}, archivePrefix = {{arXiv}}",
        f"url = {{https://arxiv.org/abs/{arxiv_id}v{version}}}",
        f"url = {{http://arxiv.org/pdf/{arxiv_id}v{version}.pdf}}",
        f"doi = {{10.48550/arXiv.{arxiv_id}}}",
        f"journal = {{arXiv preprint arXiv:{arxiv_id}}}",
        f"note = {{arXiv:{arxiv_id}v{version} [cs.LG]}}",
        f"howpublished = {{\\url{{https://arxiv.org/abs/{arxiv_id}}}}}",
    ]
    return forms[n % len(forms)]


def _bib(key: str, title: str, authors: list[str], year: int | None, extra: str = "") -> str:
    author = " and ".join(_last_first(a) for a in authors[:6])
    lines = [f"@article{{{key},", f"  title = {{{title}}},", f"  author = {{{author}}},"]
    if year:
        lines.append(f"  year = {{{year}}},")
    if extra:
        lines.append(f"  {extra},")
    return "\n".join(lines) + "\n}\n"


def decoy_title(title: str, rng: random.Random) -> str:
    words = title.split()
    i = rng.randrange(len(words))
    words[i] = rng.choice(["Quantum", "Bayesian", "Adversarial", "Sparse", "Not"])
    return " ".join(words)


def build(feeds: Path, *, seed: int = 0, copies: int = 1) -> tuple[list[CatalogueItem], list[Case]]:
    """The catalogue (the recorded papers) and the cases: ``copies`` rounds of every paper plus decoys."""
    rng = random.Random(seed)
    papers = recorded_papers(feeds)
    cases = []
    for round_ in range(copies):
        for n, p in enumerate(papers):
            key = f"p{round_}x{n}"
            year = p.submitted_at.year if p.submitted_at else None
            if n % 2 == 0:
                extra = _id_field(p.arxiv_id, p.version or 1, n + round_)
                cases.append(Case(_bib(key, p.title, p.authors, year, extra), key, p.arxiv_id, True))
            else:
                title = perturb_title(p.title, rng)
                cases.append(Case(_bib(key, title, p.authors, year), key, p.arxiv_id, False))
            if n % 3 == 0:  # decoys: a changed title by strangers, and the true title by strangers years off
                strangers = ["Ada Nobody", "Bo Elsewhere"]
                cases.append(Case(_bib(key + "d1", decoy_title(p.title, rng), strangers, 1999), key + "d1", "", False))
                cases.append(Case(_bib(key + "d2", p.title, strangers, 1990), key + "d2", "", False))
    return catalogue_items(papers), cases
