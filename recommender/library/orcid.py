"""ORCID iDs and works lists, pure: check an iD, read the arXiv papers out of a v3.0 ``works`` document.

No network and no Django here (``author.orcid_search`` fetches, the view asks
the reader to confirm). An iD is 16 characters, ``0000-0002-1825-0097``,
the last one an ISO 7064 MOD 11-2 check character (a digit or ``X``), so a
typo is caught before any request. A works document (``GET /v3.0/{iD}/works``)
is a list of *groups*: ORCID puts the copies of one work that share an
identifier (from Crossref, arXiv, the person's own entry) in one group,
with the union of their ``self`` identifiers and one ``work-summary`` per
copy. An arXiv paper shows up as an ``external-id-type`` "arxiv" value
(``arXiv:2403.02233``, ``2403.02233v2``, ``hep-th/9901001``) or as arXiv's
DataCite DOI (``10.48550/arXiv.2403.02233``); a journal article may name its
preprint with relationship ``version-of``. Everything read here comes from
someone's public profile: every field is optional and may be null.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from .. import arxiv_ids

MAX_WORKS = 500  # arXiv papers listed from one record (more than any one person's; the page stays usable)

_ORCID_RE = re.compile(
    r"(?:(?:https?://)?(?:www\.)?orcid\.org/)?(\d{4})-?(\d{4})-?(\d{4})-?(\d{3}[\dX])/?",
    re.IGNORECASE,
)
_ARXIV_PREFIX_RE = re.compile(r"^(?:arxiv:|(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/)", re.IGNORECASE)
_DOI_PREFIX_RE = re.compile(r"^(?:doi:|(?:https?://)?(?:dx\.)?doi\.org/)", re.IGNORECASE)
ARXIV_DOI_PREFIX = "10.48550/arxiv."  # arXiv's DataCite DOIs: 10.48550/arXiv.2403.02233, 10.48550/arXiv.hep-th/9901001
# Relationships under which an arXiv id names the person's own paper: the work itself, or its preprint.
_OWN = {"self", "version-of", None}


class OrcidError(ValueError):
    """The iD or the works list cannot be used; the message is one line for the reader."""


def check_character(digits: str) -> str:
    """The ISO 7064 MOD 11-2 check character of the first 15 digits of an iD (``"X"`` stands for 10)."""
    total = 0
    for digit in digits:
        total = (total + int(digit)) * 2
    result = (12 - total % 11) % 11
    return "X" if result == 10 else str(result)


def orcid_normalise(text: str) -> str:
    """``0000-0002-1825-0097`` from what a reader pastes (the iD, with or without hyphens, or its orcid.org URL).

    Raise ``OrcidError`` for anything else, and for a well-formed iD whose check character is wrong.
    """
    text = (text or "").strip()
    match = _ORCID_RE.fullmatch(text)
    if match is None:
        raise OrcidError("Enter an ORCID iD like 0000-0002-1825-0097 (or its https://orcid.org/ link).")
    orcid = "-".join(match.groups()).upper()
    digits = orcid.replace("-", "")
    if check_character(digits[:15]) != digits[15]:
        raise OrcidError(f"{orcid} is not a valid ORCID iD: its last character does not match the others. Check it.")
    return orcid


def arxiv_id_from(id_type: str, value: str) -> str | None:
    """The arXiv id (no version) an external id names, or None: type "arxiv", or "doi" with arXiv's DOI prefix."""
    id_type, value = (id_type or "").strip().lower(), (value or "").strip()
    if id_type == "arxiv":
        value = _ARXIV_PREFIX_RE.sub("", value)
    elif id_type == "doi":
        value = _DOI_PREFIX_RE.sub("", value)
        if not value.lower().startswith(ARXIV_DOI_PREFIX):
            return None
        value = value[len(ARXIV_DOI_PREFIX) :]
    else:
        return None
    if value.lower().endswith(".pdf"):
        value = value[:-4]
    parsed = arxiv_ids.parse(value)
    return parsed[0] if parsed and _plausible(parsed[0]) else None


def _plausible(arxiv_id: str) -> bool:
    """True if the id's year and month could be arXiv's: a typed value such as ``submit/5423911`` (an arXiv
    submission number, which has the old scheme's shape) names no paper. Old scheme: 1991 to March 2007;
    new scheme: from April 2007 (0704)."""
    if "/" in arxiv_id:
        archive, number = arxiv_id.split("/", 1)
        year, month = int(number[:2]), int(number[2:4])
        return archive != "submit" and (year >= 91 or year <= 7) and 1 <= month <= 12
    year, month = int(arxiv_id[:2]), int(arxiv_id[2:4])
    return 1 <= month <= 12 and (year, month) >= (7, 4)


@dataclass(frozen=True)
class OrcidWork:
    arxiv_id: str
    title: str
    year: int | None = None


@dataclass
class OrcidWorks:
    """The arXiv papers of one works list, each id once in ORCID's order, and how many work groups it had."""

    works: list[OrcidWork] = field(default_factory=list)
    groups: int = 0
    truncated: bool = False


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _external_ids(holder: dict) -> list[dict]:
    return [x for x in _list(_dict(holder.get("external-ids")).get("external-id")) if isinstance(x, dict)]


def _group_arxiv_ids(group: dict, summaries: list[dict]) -> list[str]:
    """The arXiv ids of a group's own identifiers and of each copy's (``version-of`` is on the copies only)."""
    found = []
    for ext in _external_ids(group) + [x for s in summaries for x in _external_ids(s)]:
        if ext.get("external-id-relationship") not in _OWN:
            continue
        arxiv_id = arxiv_id_from(str(ext.get("external-id-type") or ""), str(ext.get("external-id-value") or ""))
        if arxiv_id and arxiv_id not in found:
            found.append(arxiv_id)
    return found


def _title(summaries: list[dict]) -> str:
    for summary in summaries:
        value = _dict(_dict(summary.get("title")).get("title")).get("value")
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())[:1000]
    return ""


def _year(summaries: list[dict]) -> int | None:
    for summary in summaries:
        value = str(_dict(_dict(summary.get("publication-date")).get("year")).get("value") or "")
        if value.isdigit() and len(value) == 4:
            return int(value)
    return None


def _load(data: bytes) -> dict:
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):  # RecursionError: JSON nested deeper than the parser's stack
        raise OrcidError("ORCID answered with something that is not a works list; please try again later.") from None
    if not isinstance(document, dict) or not isinstance(document.get("group", []), list):
        raise OrcidError("ORCID answered with something that is not a works list; please try again later.")
    return document


def works_parse(data: bytes) -> OrcidWorks:
    """The arXiv papers of an ORCID v3.0 ``works`` document (bytes of JSON); ``OrcidError`` if it is not one."""
    groups = [g for g in _list(_load(data).get("group")) if isinstance(g, dict)]
    result = OrcidWorks(groups=len(groups))
    seen: set[str] = set()
    for group in groups:
        summaries = [s for s in _list(group.get("work-summary")) if isinstance(s, dict)]
        for arxiv_id in _group_arxiv_ids(group, summaries):
            if arxiv_id in seen:
                continue
            if len(result.works) == MAX_WORKS:
                result.truncated = True
                return result
            seen.add(arxiv_id)
            result.works.append(OrcidWork(arxiv_id=arxiv_id, title=_title(summaries), year=_year(summaries)))
    return result
