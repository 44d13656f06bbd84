"""Updates on your papers: follow-ups on papers a reader saved or upvoted, in the digest (issue 16, part 2).

Three kinds of event: a new arXiv version (with its comment: "v2: camera-ready, NeurIPS"; versions come
from the ingestion's history, ``Paper.version`` / ``versions``, which RSS ``replace`` announcements, the
export API and OAI-PMH all feed), a code repository appearing, and a jump in community upvotes (at least
doubled and up by ``UPVOTE_JUMP``). ``PaperFollow`` is what the reader last knew of each paper: written
the first time a digest looks at it (the baseline: nothing before is news) and moved on by every report.
``PaperUpdate`` rows are the reports, unique per (user, paper, kind, key): an event is reported once.

A digest being sent (``delivery_id``) records its events against the delivery before the message leaves,
so a retry, and "My digests" opening it later, show the same updates; previews compute them without
writing. At most ``UPDATES_PER_DIGEST`` per digest; each has a signed one-click "stop updates on this
paper" link (GET shows a page whose form POSTs, like the other digest links).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from ..models import Interaction, InteractionKind, Paper, PaperFollow, PaperUpdate, PaperUpdateKind
from ..paper_links import code_url
from .tokens import DAY, DigestTokenGenerator

UPDATES_PER_DIGEST = 3
UPVOTE_JUMP = 20
COMMENT_CHARS = 120
FOLLOWED_KINDS = (InteractionKind.SAVE, InteractionKind.UPVOTE)

stop_updates_token = DigestTokenGenerator(purpose="stop-updates", max_age=365 * DAY, fields=("u", "p"))


@dataclass(frozen=True)
class Event:
    paper_id: int
    kind: str
    key: str
    text: str


def _version_text(paper: Paper | Current) -> str:
    comment = " ".join((paper.comments or "").split())
    if len(comment) > COMMENT_CHARS:
        comment = comment[: COMMENT_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return f"v{paper.version}: {comment}" if comment else f"v{paper.version} is out"


@dataclass(frozen=True)
class Known:
    """What a reader last knew of a followed paper: a ``PaperFollow`` row's fields, read without a model
    instance (one per followed pair made instances a fifth of the plan phase's CPU)."""

    version: int
    upvotes: int
    github_repo: str
    stopped_at: object = None


@dataclass(frozen=True)
class Current:
    """A followed paper as it is now: what ``paper_events`` compares with the reader's ``Known`` (no instance)."""

    pk: int
    version: int | None
    comments: str
    github_repo: str
    upvotes: int


_CURRENT = ("version", "comments", "github_repo", "hf_upvotes", "local_upvotes")


def _current(pk, version, comments, repo, hf_upvotes, local_upvotes) -> Current:
    return Current(pk, version, comments or "", repo or "", (hf_upvotes or 0) + (local_upvotes or 0))


def paper_events(paper: Paper | Current, follow: PaperFollow | Known) -> list[Event]:
    """What changed on ``paper`` since ``follow`` (the reader's last knowledge of it), most important first."""
    events = []
    if (paper.version or 1) > follow.version:
        events.append(Event(paper.pk, PaperUpdateKind.VERSION, f"v{paper.version}", _version_text(paper)))
    repo = code_url(paper.github_repo)
    if repo and paper.github_repo != follow.github_repo:
        events.append(Event(paper.pk, PaperUpdateKind.CODE, paper.github_repo[:255], f"code released: {repo}"))
    upvotes = paper.upvotes
    if upvotes >= max(2 * follow.upvotes, follow.upvotes + UPVOTE_JUMP):
        text = f"{upvotes} community upvotes (up from {follow.upvotes})"
        events.append(Event(paper.pk, PaperUpdateKind.UPVOTES, f"upvotes:{upvotes}", text))
    return events


def _followed(user_ids: list[int]) -> set[tuple[int, int]]:
    """The (user id, paper id) pairs the readers follow: saved or upvoted (one query for any number of readers)."""
    return set(
        Interaction.objects.filter(user_id__in=user_ids, kind__in=FOLLOWED_KINDS).values_list("user_id", "paper_id")
    )


def _known(pairs: set[tuple[int, int]]) -> tuple[dict[tuple[int, int], Known], dict[int, Current]]:
    """The follows of ``pairs`` and their papers as they are now, in one join read as tuples.

    A follow row of a paper no longer saved or upvoted is left out (it waits, should the reader follow it
    again); papers are read once however many readers follow them.
    """
    known: dict[tuple[int, int], Known] = {}
    papers: dict[int, Current] = {}
    rows = PaperFollow.objects.filter(user_id__in={uid for uid, _ in pairs}).values_list(
        "user_id", "paper_id", "version", "upvotes", "github_repo", "stopped_at", *(f"paper__{f}" for f in _CURRENT)
    )
    for uid, pid, version, upvotes, repo, stopped, *now in rows:
        if (uid, pid) in pairs:
            known[(uid, pid)] = Known(version, upvotes, repo, stopped)
            if pid not in papers:
                papers[pid] = _current(pid, *now)
    return known, papers


def _baselines(fresh: set[tuple[int, int]], papers: dict[int, Current]) -> None:
    """Write the first ``PaperFollow`` of newly followed pairs: what the paper is now, so nothing before is news."""
    missing = {pid for _, pid in fresh} - set(papers)
    papers.update(
        (pk, _current(pk, *now)) for pk, *now in Paper.objects.filter(pk__in=missing).values_list("pk", *_CURRENT)
    )
    PaperFollow.objects.bulk_create(
        [
            PaperFollow(
                user_id=uid,
                paper_id=pid,
                version=papers[pid].version or 1,
                upvotes=papers[pid].upvotes,
                github_repo=papers[pid].github_repo,
            )
            for uid, pid in sorted(fresh)
            if pid in papers
        ],
        ignore_conflicts=True,
    )


def pending_events(*, user_ids: list[int], record: bool = True) -> dict[int, list[Event]]:
    """Each reader's unreported events, most important first (``record``: baselines written for new follows).

    Only pairs whose paper changed since the reader's baseline are looked up among the reported updates, so a
    morning of readers with nothing new costs two queries read as tuples.
    """
    pairs = _followed(user_ids)
    if not pairs:
        return {}
    known, papers = _known(pairs)
    if record:
        _baselines(pairs - set(known), papers)
    candidates = {
        (uid, pid): events
        for (uid, pid), follow in known.items()
        if follow.stopped_at is None and (events := paper_events(papers[pid], follow))
    }
    if not candidates:
        return {}
    reported = set(
        PaperUpdate.objects.filter(
            user_id__in={uid for uid, _ in candidates}, paper_id__in={pid for _, pid in candidates}
        ).values_list("user_id", "paper_id", "kind", "key")
    )
    order = {PaperUpdateKind.VERSION: 0, PaperUpdateKind.CODE: 1, PaperUpdateKind.UPVOTES: 2}
    result: dict[int, list[Event]] = {}
    for (uid, pid), events in sorted(candidates.items(), key=lambda kv: -kv[0][1]):
        result.setdefault(uid, []).extend(e for e in events if (uid, pid, e.kind, e.key) not in reported)
    return {uid: sorted(events, key=lambda e: order[e.kind]) for uid, events in result.items() if events}


def followups_plan(*, deliveries: list[tuple[int, int]]) -> int:
    """The plan phase: record each planned digest's updates (delivery id, user id); return how many.

    Written before the send phase claims the deliveries, which reads them back (``digest_updates``) and
    never reads interactions.
    """
    pending = pending_events(user_ids=[uid for _, uid in deliveries])
    count = 0
    for delivery_id, uid in deliveries:
        events = pending.get(uid, [])[:UPDATES_PER_DIGEST]
        if events:
            count += len(_record(user_id=uid, delivery_id=delivery_id, events=events))
    return count


def _record(*, user_id: int, delivery_id: int, events: list[Event]) -> list[Event]:
    """Report ``events`` in ``delivery_id``: one row each (an event already reported elsewhere is dropped)."""
    kept = []
    for event in events:
        try:
            with transaction.atomic():
                PaperUpdate.objects.create(
                    user_id=user_id,
                    paper_id=event.paper_id,
                    kind=event.kind,
                    key=event.key,
                    text=event.text,
                    delivery_id=delivery_id,
                )
        except IntegrityError:  # reported already (a concurrent digest): never twice
            continue
        kept.append(event)
    _move_baselines(user_id=user_id, paper_ids={e.paper_id for e in kept})
    return kept


def _move_baselines(*, user_id: int, paper_ids: set[int]) -> None:
    for paper in Paper.objects.filter(pk__in=paper_ids).only(
        "id", "version", "github_repo", "hf_upvotes", "local_upvotes"
    ):
        PaperFollow.objects.filter(user_id=user_id, paper_id=paper.pk).update(
            version=paper.version or 1, upvotes=paper.upvotes, github_repo=paper.github_repo
        )


def digest_updates(*, user_id: int, delivery_id: int | None) -> list[Event]:
    """A digest's updates: those the plan phase recorded for ``delivery_id``; for a preview, the next ones.

    One query for a delivery (the send phase reads no interactions); a preview writes nothing.
    """
    if delivery_id is not None:
        rows = PaperUpdate.objects.filter(delivery_id=delivery_id).order_by("pk")
        return [Event(*row) for row in rows.values_list("paper_id", "kind", "key", "text")]
    return pending_events(user_ids=[user_id], record=False).get(user_id, [])[:UPDATES_PER_DIGEST]


def stop_url(*, user_id: int, paper_id: int) -> str:
    token = stop_updates_token.make_token(u=user_id, p=paper_id)
    return settings.SITE_URL + reverse("digest:stop_updates", args=[token])


def updates_context(*, user_id: int, delivery_id: int | None, inert: str | None = None) -> dict:
    """``{"updates_html", "updates_text"}`` for the email (empty when there is nothing to report).

    Rendered here, not in the templates' loops: the send path renders the templates in cached pieces, and
    a section that only some digests have is one per-subscriber value in them.
    """
    events = digest_updates(user_id=user_id, delivery_id=delivery_id)
    if not events:
        return {}
    titles = dict(Paper.objects.filter(pk__in={e.paper_id for e in events}).values_list("pk", "title"))
    rows = []
    for event in events:
        url = f"{inert}?link=stop-updates" if inert else stop_url(user_id=user_id, paper_id=event.paper_id)
        rows.append((" ".join(titles.get(event.paper_id, "").split()), event.text, url))
    html = format_html(
        '<tr><td class="updates" style="padding:8px 28px 0 28px"><div class="section-title">Updates on your papers'
        "</div>{}</td></tr>",
        format_html_join(
            "",
            '<p class="update"><strong>{}</strong><br>{} &middot; <a class="footer-link" href="{}">'
            "stop updates on this paper</a></p>",
            rows,
        ),
    )
    text = "UPDATES ON YOUR PAPERS\n" + "".join(
        f"* {title}\n  {what}\n  Stop updates on this paper: {url}\n" for title, what, url in rows
    )
    return {"updates_html": html, "updates_text": text + "\n"}


def updates_stop(*, user_id: int, paper_id: int) -> bool:
    """The reader's "stop updates on this paper"; True if it was not stopped yet."""
    paper = (
        Paper.objects.filter(pk=paper_id).only("id", "version", "github_repo", "hf_upvotes", "local_upvotes").first()
    )
    if paper is None:
        return False
    follow, _ = PaperFollow.objects.get_or_create(
        user_id=user_id,
        paper_id=paper_id,
        defaults={"version": paper.version or 1, "upvotes": paper.upvotes, "github_repo": paper.github_repo},
    )
    if follow.stopped_at is not None:
        return False
    follow.stopped_at = timezone.now()
    follow.save(update_fields=["stopped_at"])
    return True
