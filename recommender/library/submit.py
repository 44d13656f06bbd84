"""Submit a paper (like Hugging Face Papers): a signed-in reader pastes an arXiv id or link.

A paper already in the catalogue is simply upvoted. Any other id is fetched through the export API by
the library's fetcher (``tasks.submission_fetch``, queue ``ingest``, polite to arXiv), then shown on its
announcement day's listing "submitted by <name>" and counted as the submitter's upvote. An id arXiv does
not know ends as "not found". Each reader's recent submissions and their states are kept in the cache
for the submit page (they are a courtesy display; the paper and the upvote are what is stored).
The web view rate-limits submissions per user (``web/ratelimit.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from .. import arxiv_ids
from ..interactions.services import interaction_record
from ..models import InteractionKind, InteractionSource, Paper
from .tasks import submission_fetch

STATE_TTL = 7 * 86400
STATES_KEPT = 10
_URL_RE = re.compile(
    r"^(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html)/(?P<id>.+?)(?:\.pdf)?/?(?:[?#].*)?$"
)
_PREFIX_RE = re.compile(r"^arxiv:\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Submission:
    """What happened to one pasted id: "invalid", "upvoted" (already here) or "fetching" (queued)."""

    state: str
    arxiv_id: str = ""
    paper: Paper | None = None


def arxiv_id_from_text(text: str) -> str | None:
    """The arXiv id (without version) in a pasted id or arxiv.org link, or None."""
    text = (text or "").strip()[:300]
    match = _URL_RE.match(text)
    candidate = match.group("id") if match else _PREFIX_RE.sub("", text)
    parsed = arxiv_ids.parse(candidate.strip())
    return parsed[0] if parsed else None


def _state_key(user_id: int) -> str:
    return f"submissions:{user_id}"


def submission_states(*, user_id: int) -> list[dict]:
    """The reader's recent submissions, newest first: ``{"arxiv_id", "state", "at"}``."""
    return list(cache.get(_state_key(user_id)) or [])


def submission_state_set(*, user_id: int, arxiv_id: str, state: str) -> None:
    entries = [e for e in submission_states(user_id=user_id) if e["arxiv_id"] != arxiv_id]
    entries.insert(0, {"arxiv_id": arxiv_id, "state": state, "at": timezone.now().isoformat()})
    cache.set(_state_key(user_id), entries[:STATES_KEPT], timeout=STATE_TTL)


def _upvote(user, paper: Paper) -> None:
    interaction_record(user=user, paper=paper, kind=InteractionKind.UPVOTE, source=InteractionSource.WEB)


def paper_submit(*, user, text: str) -> Submission:
    """Submit what ``user`` pasted: upvote a known paper at once, else queue its fetch (after commit)."""
    arxiv_id = arxiv_id_from_text(text)
    if arxiv_id is None:
        return Submission("invalid")
    paper = Paper.objects.filter(arxiv_id=arxiv_id).first()
    if paper is not None:
        _upvote(user, paper)
        submission_state_set(user_id=user.pk, arxiv_id=arxiv_id, state="upvoted")
        return Submission("upvoted", arxiv_id, paper)
    submission_state_set(user_id=user.pk, arxiv_id=arxiv_id, state="fetching")
    transaction.on_commit(lambda: submission_fetch.delay(user.pk, arxiv_id))
    return Submission("fetching", arxiv_id)


@transaction.atomic
def submission_credit(*, user_id: int, arxiv_id: str) -> str:
    """After the fetch: the submitter is credited (first submitter only) and upvotes it; or "not_found"."""
    paper = Paper.objects.select_for_update().filter(arxiv_id=arxiv_id).first()
    user = get_user_model().objects.filter(pk=user_id).first()
    if paper is None:
        return "not_found"
    if user is None:
        return "upvoted"
    state = "upvoted"
    if paper.submitted_by_id is None and paper.community_submitted_at is None:
        paper.submitted_by = user
        paper.community_submitted_at = timezone.now()
        paper.save(update_fields=["submitted_by", "community_submitted_at", "modified_at"])
        state = "added"
    _upvote(user, paper)
    return state


def submitter_name(user) -> str:
    """How a submitter is shown publicly: their name if they gave one, never their address."""
    if user is None:
        return ""
    return user.get_full_name().strip() or "a Paperboy reader"
