"""arXiv identifiers, both schemes, in one place: parsing (ingest) and the URL converter (every URL with an id).

arXiv has two identifier schemes. Since April 2007: ``YYMM.NNNN`` (four digits
after the dot until 2014, five since), e.g. ``2403.02233``. Before: the
archive, an optional subject class and ``YYMMNNN``, e.g. ``hep-th/9901001``,
``math.GT/0309136``, ``cs/0503050``: a slash inside the identifier. Real
export-API and OAI-PMH responses carry both (papers of the 1990s are
replaced and cross-listed to this day), so every URL that takes an identifier
uses :class:`ArxivIdConverter` (registered as ``<arxiv_id:...>``), never
``<str:...>``, which stops at a slash. A version suffix (``v2``) is part of
what sources send, never of a stored id or of a URL of this site.

No Django imports: the ingest parsers use this module too.
"""

from __future__ import annotations

import re

# The id without version. New scheme: 4 or 5 digits after the dot. Old scheme: archive (letters and
# hyphens: hep-th, cond-mat, q-bio), optional subject class (math.GT, cs.AI), then YYMMNNN with a year
# of the old scheme (1991-2007) and a real month, so that e.g. a submission number ``submit/5423911``
# is not taken for a paper.
ID_PATTERN = r"(?:\d{4}\.\d{4,5})|(?:[a-z][a-z\-]*(?:\.[A-Za-z\-]{2,})?/(?:9[1-9]|0[0-7])(?:0[1-9]|1[0-2])\d{3})"

_WITH_VERSION_RE = re.compile(rf"(?P<id>{ID_PATTERN})(?:v(?P<v>\d{{1,4}}))?")
_ID_RE = re.compile(ID_PATTERN)


def parse(text: str) -> tuple[str, int | None] | None:
    """``(id, version or None)`` if ``text`` is exactly an identifier with an optional ``vN``; else None."""
    match = _WITH_VERSION_RE.fullmatch(text or "")
    if match is None:
        return None
    return match.group("id"), int(match.group("v")) if match.group("v") else None


def is_arxiv_id(text: str) -> bool:
    """True if ``text`` is an identifier without version, in either scheme."""
    return _ID_RE.fullmatch(text or "") is not None


class ArxivIdConverter:
    """Path converter for an identifier without version, either scheme (``/papers/hep-th/9901001/``).

    Registered in ``recommender/web/urls.py`` as ``arxiv_id``; ``reverse`` refuses anything else,
    so a malformed stored id fails loudly where it is built, not as a 404 at the reader's click.
    """

    regex = ID_PATTERN

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        if not is_arxiv_id(value):
            raise ValueError(f"not an arXiv identifier: {value!r}")
        return value


class ArxivVersionedIdConverter:
    """Path converter for an identifier *with* its version (``2403.02233v2``), both schemes.

    Readers paste what arXiv shows them; the site answers with a permanent redirect to the one
    canonical page (``web:paper_versioned``), so a versioned URL never becomes a second page.
    """

    regex = rf"(?:{ID_PATTERN})v\d{{1,4}}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        if parse(value) is None:
            raise ValueError(f"not an arXiv identifier: {value!r}")
        return value
