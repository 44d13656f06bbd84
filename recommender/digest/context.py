"""The digest context builder: what one subscriber's digest says, shared by email and web preview.

Two levels, as in Zulip's digest: a ``DigestBatch`` holds what a batch of
subscribers shares (paper rows, TL;DRs, link prefixes), and one subscriber's
template context is made from it. Two steps per digest, which the two phases
run apart (docs/digest.md, "Sending: two phases"):

- ``digest_select`` (plan phase): which papers, in which order, with which
  reason, or a skip reason; over a batch from ``digest_batch_build``, which
  ranks every topic of everyone in one ``recommend_for_topics`` call (one
  fold-in row per topic) and shares each digest among its topics
  (``sections``). The selection is stored as ``DeliveredPaper`` rows
  (``planning``), each with the topic it was picked for.
- ``digest_compose`` (send phase, previews, the admin): the template context
  of a stored selection, over a batch from ``digest_batch_planned``, which
  reads the rows and never ranks: the ranking modules are not even imported.

``digest_build`` is both steps at once (previews of a digest not planned yet,
tests). Building never writes to the database and never touches the network.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import reverse

from ..models import DeliveredPaper, DeliveredSection, Frequency, Interaction, Paper, PaperTranslation, Profile, Topic
from ..subscriptions.pause import pause_footer
from ..subscriptions.schedule import zone
from ..subscriptions.topics import topics_for_users
from ..summaries import extractive, summarize
from ..summaries import languages as digest_languages
from ..summaries.selectors import translations_for
from ..summaries.sources import abstract_shown, text_hash
from ..templatetags.digest_email import detailed_papers
from . import selectors
from .followups import updates_context
from .sections import sections_share, sections_split
from .tokens import (
    click_token,
    delivery_click_token,
    delivery_feedback_token,
    feedback_token,
    unsubscribe_token,
)

if TYPE_CHECKING:  # the send path must not import the ranking (no model in send workers)
    from ..serving import Recommendation

TRENDING_PER_DIGEST = 3
AUTHORS_SHOWN = 3
AUTHORS_MAX_FULL = 4
DEFAULT_LANGUAGE = "en"

SKIP_NOTHING_ANNOUNCED = "no new papers announced since the last digest"
SKIP_NOTHING_MATCHED = "nothing new matched the subscriber's interests"

_PAPER_FIELDS = (
    "id",
    "arxiv_id",
    "title",
    "abstract",
    "authors",
    "primary_category",
    "categories",
    "sources",
    "hf_upvotes",
    "local_upvotes",
    "hf_comments",
    "github_repo",
    "github_stars",
    "tldr",
    "tldr_backend",
    "tldr_model",
    "ai_summary",
    "announced_on",
    "hf_published_on",
)


def absolute(path: str) -> str:
    return settings.SITE_URL + path


def preferences_url() -> str:
    """The subscriber's preferences page."""
    return absolute(reverse("web:preferences"))


def authors_display(authors: list[str]) -> str:
    """'A, B, C et al. (N authors)' for long lists, all names for short ones."""
    authors = [a for a in (authors or []) if a]
    if len(authors) <= AUTHORS_MAX_FULL:
        return ", ".join(authors)
    return f"{', '.join(authors[:AUTHORS_SHOWN])} et al. ({len(authors)} authors)"


@dataclass(frozen=True)
class Selection:
    """One digest's papers, as the plan phase stores them (``DeliveredPaper`` rows) and the send phase reads them.

    ``papers``: (paper id, the ranker's reason) in rank order, grouped by topic; ``topics``: the topic each
    of them was picked for (same order; None: unknown, e.g. planned before topics or the topic deleted
    since; empty: none recorded); ``trending``: paper ids in order. A selection with a ``skip_reason`` has
    no papers: the delivery is recorded skipped and nothing is sent.
    """

    papers: tuple[tuple[int, str], ...] = ()
    trending: tuple[int, ...] = ()
    skip_reason: str = ""
    topics: tuple[int | None, ...] = ()

    def topic_of(self) -> dict[int, int | None]:
        """Paper id -> the topic it was picked for (None when not recorded)."""
        return {pid: (self.topics[i] if i < len(self.topics) else None) for i, (pid, _) in enumerate(self.papers)}


@dataclass
class DigestBatch:
    """What a batch of subscribers shares; built once, read by every ``digest_build``."""

    now: dt.datetime
    profiles: dict[int, Profile]
    users: dict[int, object]
    new_papers: dict[int, dt.date]  # paper id -> announcement day, since the oldest watermark
    watermarks: dict[int, dt.date]
    sent_before: dict[int, set[int]]
    recommendations: dict[int, list[Recommendation]]  # topic id -> its ranked papers
    trending: list[tuple[int, set[str]]]
    papers: dict[int, Paper] = field(default_factory=dict)
    tldrs: dict[tuple[int, str], str] = field(default_factory=dict)
    preferences_url: str = ""
    memo: dict = field(default_factory=dict)  # per-batch: link prefixes, each paper's shared item fields
    # language -> {paper id: stored translation}; read lazily, one query per second language.
    translations: dict[str, dict[int, PaperTranslation]] = field(default_factory=dict)
    # Papers each subscriber voted on, saved, hid or opened: For you never shows them, nor does Trending.
    acted_on: dict[int, set[int]] = field(default_factory=dict)
    # Stored selections (``digest_batch_planned``): delivery id -> its plan rows.
    selections: dict[int, Selection] = field(default_factory=dict)
    # user id -> their topics, default first: a section each; their categories are "your fields" (Trending, footer).
    topics: dict[int, list[Topic]] = field(default_factory=dict)

    def tldr(self, paper: Paper, language: str) -> str:
        key = (paper.pk, language)
        if key not in self.tldrs:
            self.tldrs[key] = paper.tldr or summarize(paper.abstract, language=language)
        return self.tldrs[key]

    def translation(self, paper: Paper, language: str) -> PaperTranslation | None:
        """The stored translation (never made here: a digest does not wait on a model)."""
        if language == DEFAULT_LANGUAGE:
            return None
        if language not in self.translations:
            self.translations[language] = translations_for(paper_ids=list(self.papers), language=language)
        return self.translations[language].get(paper.pk)

    def translated_abstract(self, paper: Paper, language: str) -> str:
        """The stored translation of ``paper``'s abstract, if it was made from the abstract the digest shows."""
        key = ("abstract", paper.pk, language)
        if key not in self.memo:
            stored = self.translation(paper, language)
            current = (
                stored is not None
                and bool(stored.abstract)
                and stored.abstract_source_hash == text_hash(abstract_shown(paper.abstract))
            )
            self.memo[key] = " ".join(stored.abstract.split()) if current else ""
        return self.memo[key]


@dataclass
class DigestContent:
    """One subscriber's digest: the template context, or why there is none."""

    user: object
    profile: Profile | None
    language: str = DEFAULT_LANGUAGE
    skip_reason: str = ""
    context: dict = field(default_factory=dict)
    paper_ids: list[int] = field(default_factory=list)
    trending_ids: list[int] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)
    subject: str = ""


def _profiles_and_users(user_ids: list[int]) -> tuple[dict[int, Profile], dict]:
    """user id -> profile (with its user, one query), and user id -> user (a user without a profile apart)."""
    profiles = {p.user_id: p for p in Profile.objects.filter(user_id__in=user_ids).select_related("user")}
    users = {uid: p.user for uid, p in profiles.items()}
    missing = [uid for uid in user_ids if uid not in users]
    if missing:
        users.update({u.pk: u for u in get_user_model().objects.filter(pk__in=missing)})
    return profiles, users


def digest_batch_build(
    *, user_ids: list[int], now: dt.datetime, paper_rows: bool = True, interactive: bool = False
) -> DigestBatch:
    """Compute everything a batch of subscribers shares, ranking included (a handful of queries for the batch).

    ``paper_rows=False`` (the plan phase, which stores ids only) skips loading the papers' text.
    ``interactive`` (a web request: the preview, "send now") ranks only the new papers For you ranks too
    (serving's default candidates, prepared at worker start): a candidate set of its own would be prepared
    inside the request, minutes of CPU at 100k training papers (docs/performance.md). At arXiv's volume
    that is every new paper (the newest 2,000 of the week); the plan phase always ranks them all.
    """
    from ..serving import candidate_ids_default, recommend_for_topics  # the send path never imports the ranking

    user_ids = [int(u) for u in user_ids]
    profiles, users = _profiles_and_users(user_ids)
    marks = selectors.watermarks(user_ids=user_ids, profiles=profiles, now=now)
    oldest = min(marks.values()) if marks else now.date()
    new_papers = selectors.papers_announced_after(day=oldest, until=now.date()) if marks else {}
    if interactive and new_papers:
        prepared = set(candidate_ids_default(now=now))
        new_papers = {pid: day for pid, day in new_papers.items() if pid in prepared}
    trending = selectors.trending_pool()
    # Only candidates and trending papers can be excluded for having been sent: one index probe per pair. For
    # one reader (a preview) everything they were sent is fewer rows than the 2,000 candidates to probe.
    among = None if len(user_ids) == 1 else [*new_papers, *(p for p, _ in trending)]
    sent_before = selectors.papers_already_sent(user_ids=user_ids, among=among)
    served = {}  # watermark -> the new papers announced up to it: readers share a few watermarks
    for mark in set(marks.values()):
        served[mark] = {pid for pid, day in new_papers.items() if day <= mark}
    exclude = {uid: sent_before.get(uid, set()) | served[marks[uid]] for uid in user_ids}
    n = max([p.papers_per_email for p in profiles.values()] or [10])
    topics = topics_for_users(user_ids=user_ids)
    # Every topic of every subscriber is one row of the same call; each is ranked to the full length, so a
    # topic still fills the digest alone when the others have nothing (``sections.sections_share``).
    rows = [(t.pk, uid) for uid in user_ids for t in topics.get(uid, [])]
    recommendations = (
        recommend_for_topics(
            topic_ids=[tid for tid, _ in rows],
            candidate_ids=list(new_papers),
            n=n,
            exclude_ids={tid: exclude[uid] for tid, uid in rows},
            users_topics=topics,
        )
        if new_papers and rows
        else {}
    )
    acted_on: dict[int, set[int]] = {}
    for uid, pid in Interaction.objects.filter(user_id__in=user_ids).values_list("user_id", "paper_id"):
        acted_on.setdefault(uid, set()).add(pid)
    wanted = {r.paper_id for recs in recommendations.values() for r in recs} | {pid for pid, _ in trending}
    papers = {p.pk: p for p in Paper.objects.filter(pk__in=wanted).only(*_PAPER_FIELDS)} if paper_rows else {}
    return DigestBatch(
        now=now,
        profiles=profiles,
        users=users,
        new_papers=new_papers,
        watermarks=marks,
        sent_before=sent_before,
        recommendations=recommendations,
        trending=trending,
        papers=papers,
        preferences_url=preferences_url(),
        acted_on=acted_on,
        topics=topics,
    )


def digest_batch_planned(*, deliveries: dict[int, int], now: dt.datetime) -> DigestBatch:
    """What a batch of planned deliveries (delivery id -> user id) shares, read from their plan rows; no ranking.

    Five queries for the whole batch: profiles with users, topics, plan rows, paper rows (TL;DRs are stored
    or made on demand per paper, translations read when a second language is needed).
    """
    user_ids = sorted(set(deliveries.values()))
    profiles, users = _profiles_and_users(user_ids)
    selections = selections_of(delivery_ids=list(deliveries))
    wanted = {pid for s in selections.values() for pid, _ in s.papers} | {
        pid for s in selections.values() for pid in s.trending
    }
    papers = {p.pk: p for p in Paper.objects.filter(pk__in=wanted).only(*_PAPER_FIELDS)}
    topics = topics_for_users(user_ids=user_ids)
    return DigestBatch(
        now=now,
        profiles=profiles,
        users=users,
        new_papers={},
        watermarks={},
        sent_before={},
        recommendations={},
        trending=[],
        papers=papers,
        preferences_url=preferences_url(),
        selections=selections,
        topics=topics,
    )


def selections_of(*, delivery_ids: list[int]) -> dict[int, Selection]:
    """The stored selection of each delivery (one query); a delivery without rows is absent."""
    rows: dict[int, dict[str, list]] = {}
    for delivery_id, section, paper_id, reason, topic_id in (
        DeliveredPaper.objects.filter(delivery_id__in=delivery_ids)
        .order_by("delivery_id", "section", "rank")
        .values_list("delivery_id", "section", "paper_id", "reason", "topic_id")
    ):
        entry = rows.setdefault(delivery_id, {DeliveredSection.PAPERS: [], DeliveredSection.TRENDING: []})
        entry[section].append((paper_id, reason, topic_id))
    return {
        delivery_id: Selection(
            papers=tuple((pid, reason) for pid, reason, _ in entry[DeliveredSection.PAPERS]),
            topics=tuple(topic_id for _, _, topic_id in entry[DeliveredSection.PAPERS]),
            trending=tuple(pid for pid, _, _ in entry[DeliveredSection.TRENDING]),
        )
        for delivery_id, entry in rows.items()
    }


def _token_url(batch: DigestBatch, name: str, token: str) -> str:
    """``absolute(reverse(name, args=[token]))``, reversing once per batch (a digest has ~80 such links)."""
    parts = batch.memo.get(name)
    if parts is None:
        parts = batch.memo[name] = absolute(reverse(name, args=["PBTOKEN"])).split("PBTOKEN")
    return f"{parts[0]}{token}{parts[1]}"


def _delivery_link_bases(batch: DigestBatch, *, user_id: int, delivery_id: int) -> tuple[str, str]:
    """The per-email click and feedback URL prefixes: ``…/d/c/<token>/`` and ``…/d/f/<token>/``.

    One signed token per purpose and email; each link appends ``<paper id>/<name>/``.
    """
    bases = []
    for name, generator in (
        ("digest:click_paper", delivery_click_token),
        ("digest:feedback_paper", delivery_feedback_token),
    ):
        head = batch.memo.get(name)
        if head is None:
            url = absolute(reverse(name, args=["PBTOKEN", 0, "PBNAME"]))
            if not url.endswith("PBTOKEN/0/PBNAME/"):
                raise ValueError(f"unexpected URL layout for {name}: {url}")
            head = batch.memo[name] = url[: -len("PBTOKEN/0/PBNAME/")]
        bases.append(f"{head}{generator.make_token(u=user_id, d=delivery_id)}/")
    return bases[0], bases[1]


def _link_makers(
    *, batch: DigestBatch, paper: Paper, user_id: int, bases: tuple[str, str] | None, inert: str | None
) -> tuple[Callable[[str], str], Callable[[str], str]]:
    """``(click, vote)``: the URL of a paper link by name and of a feedback button by kind, for this email."""
    if inert is not None:  # someone else's preview: links name what they stand for and do nothing

        def click(link: str) -> str:
            return f"{inert}?link={link}"

        return click, click

    pid = paper.pk
    if bases is not None:  # per-email tokens (a delivery is being sent)

        def click(link: str) -> str:
            return f"{bases[0]}{pid}/{link}/"

        def vote(kind: str) -> str:
            return f"{bases[1]}{pid}/{kind}/"

        return click, vote

    # Per-link tokens (previews: no delivery to check the papers against).
    def signed_click(link: str) -> str:
        return _token_url(batch, "digest:click", click_token.make_token(u=user_id, p=pid, l=link))

    def signed_vote(kind: str) -> str:
        return _token_url(batch, "digest:feedback", feedback_token.make_token(u=user_id, p=pid, k=kind))

    return signed_click, signed_vote


def _paper_item(
    *,
    batch: DigestBatch,
    paper: Paper,
    user_id: int,
    rank: int,
    reason: str,
    language: str,
    bases: tuple[str, str] | None = None,
    inert: str | None = None,
) -> dict:
    click, vote = _link_makers(batch=batch, paper=paper, user_id=user_id, bases=bases, inert=inert)
    # The same paper is in many digests of the batch: its text is prepared once, links are per subscriber.
    shared = batch.memo.get((paper.pk, language))
    if shared is None:
        shared = batch.memo[(paper.pk, language)] = _paper_shared(batch=batch, paper=paper, language=language)
    links = [("arXiv", click("abs")), ("PDF", click("pdf"))]
    if paper.hf_url:
        links.append(("Hugging Face", click("hf")))
    if paper.code_url:  # the web page's rule (recommender/paper_links.py)
        links.append(("Code", click("code")))
    return {
        **shared,
        "rank": rank,
        "url": links[0][1],
        "links": [{"label": label, "url": url} for label, url in links],
        "reason": reason,
        "feedback": {"up": vote("thumbs_up"), "down": vote("thumbs_down"), "hide": vote("not_interested")},
    }


def _summary(*, batch: DigestBatch, paper: Paper, language: str) -> tuple[str, str]:
    """The best summary we hold and what it is, as the paper page shows it (issue 18, item 5).

    Hugging Face's AI summary first (when it passes the TL;DR safety check), then a stored TL;DR (an LLM's,
    guarded, or the extractive sentence), then the extractive sentence made now.
    """
    ai_summary = " ".join((paper.ai_summary or "").split())
    if ai_summary and extractive.is_safe(ai_summary):
        return ai_summary, "Hugging Face AI summary"
    tldr = batch.tldr(paper, language)
    if paper.tldr and paper.tldr_backend and paper.tldr_backend != extractive.ExtractiveBackend.name:
        return tldr, f"AI summary ({paper.tldr_model})" if paper.tldr_model else "AI summary"
    return tldr, "key sentence of the abstract"


def _paper_shared(*, batch: DigestBatch, paper: Paper, language: str) -> dict:
    abstract = abstract_shown(paper.abstract)  # TeX never half-cut; what a translated abstract translates
    tldr, tldr_source = _summary(batch=batch, paper=paper, language=language)
    stored = batch.translation(paper, language)
    translation = (
        {"language": stored.language, "title": " ".join(stored.title.split()), "tldr": stored.tldr}
        if stored is not None
        else None
    )
    shared = {
        "id": paper.pk,
        "arxiv_id": paper.arxiv_id,
        "title": " ".join(paper.title.split()),
        "authors": authors_display(paper.authors),
        "categories": paper.category_list or ([paper.primary_category] if paper.primary_category else []),
        "tldr": tldr,
        "tldr_source": tldr_source,
        "abstract": abstract,
        "upvotes": paper.upvotes,
        "comments": paper.hf_comments,
        "github_stars": paper.github_stars,
        "translation": translation,
    }
    # What the paper's rendered blocks depend on (render.FragmentTemplate caches them per process by it).
    shared["fragment_key"] = (language, repr(shared), bool(paper.hf_url), bool(paper.code_url))
    return shared


def _translated_abstracts(*, batch: DigestBatch, items: list[dict], profile: Profile | None, language: str) -> bool:
    """Give the papers shown in full their translated abstract, if the reader chose it; whether any has one.

    Only when one is stored does the layout change (fewer papers in full: ``detailed_papers``); a digest
    without any stays as it was. The item's fragment key says so, since the block then differs by reader.
    """
    if profile is None or not profile.translate_abstract or language == DEFAULT_LANGUAGE:
        return False
    found = False
    for item in items[: detailed_papers(len(items), translated_abstracts=True)]:
        text = batch.translated_abstract(batch.papers[item["id"]], language)
        if text:
            item["translated_abstract"] = text
            item["fragment_key"] = (*item["fragment_key"], "abstract")
            found = True
    return found


def _subject(*, date_label: str, top_title: str, count: int) -> str:
    title = " ".join(top_title.split())
    if len(title) > 110:
        title = title[:109].rsplit(" ", 1)[0] + "…"
    more = f" (+{count - 1} more)" if count > 1 else ""
    return f"{date_label}: {title}{more}"


def digest_select(*, user_id: int, batch: DigestBatch) -> Selection:
    """Which papers ``user_id``'s digest lists (the plan phase's decision), or why there is none.

    For you: the ranker's picks among the papers announced after the watermark, up to the subscriber's
    papers per email in all, shared among their topics (``sections.sections_share``: a paper once, under
    the topic that ranks it highest; topics take turns). Trending: up to three community favourites in
    their fields (any topic's) that are not listed, were not sent before and were not acted on. No paper
    appears twice.
    """
    profile = batch.profiles.get(user_id)
    if not any(day > batch.watermarks.get(user_id, batch.now.date()) for day in batch.new_papers.values()):
        return Selection(skip_reason=SKIP_NOTHING_ANNOUNCED)
    limit = profile.papers_per_email if profile else 10
    lists = [
        # a batch with paper rows drops papers deleted since the ranking
        (t.pk, [r for r in batch.recommendations.get(t.pk, []) if not batch.papers or r.paper_id in batch.papers])
        for t in batch.topics.get(user_id, [])
    ]
    picks = sections_share(lists, limit=limit)
    if not picks:
        return Selection(skip_reason=SKIP_NOTHING_MATCHED)
    listed = {r.paper_id for _, r in picks} | batch.sent_before.get(user_id, set()) | batch.acted_on.get(user_id, set())
    wanted = fields_of(batch.topics.get(user_id, []))
    trending = (pid for pid, cats in batch.trending if pid not in listed and (not wanted or cats & wanted))
    return Selection(
        papers=tuple((r.paper_id, r.reason) for _, r in picks),
        topics=tuple(tid for tid, _ in picks),
        trending=tuple(islice(trending, TRENDING_PER_DIGEST)),  # the pool's best first: stop once the section is full
    )


def emails_per_topic(*, user_id: int, batch: DigestBatch) -> bool:
    """Whether ``user_id``'s digest goes out as one email per topic: they chose it and have several topics."""
    profile = batch.profiles.get(user_id)
    return bool(profile and profile.email_per_topic and len(batch.topics.get(user_id, [])) > 1)


def selection_split(selection: Selection) -> list[tuple[int | None, Selection]]:
    """One email per topic: ``(topic id, its selection)`` per section, in topic order; Trending goes with the first.

    The papers were shared among the topics first (``digest_select``), so no paper is in two of the emails.
    """
    if selection.skip_reason or not selection.topics:
        return [(None, selection)]
    parts = sections_split(selection.topics, selection.papers)
    return [
        (
            topic,
            Selection(
                papers=tuple(papers), topics=(topic,) * len(papers), trending=selection.trending if i == 0 else ()
            ),
        )
        for i, (topic, papers) in enumerate(parts)
    ]


def fields_of(topics: list[Topic]) -> set[str]:
    """The subscriber's fields: every category of their topics, or none (all) if a topic has no categories."""
    if not topics or any(not t.categories for t in topics):
        return set()
    return {c for t in topics for c in t.categories}


OTHER_SECTION = "More for you"  # papers whose topic was deleted after the digest was planned
SECTION_NAME_CHARS = 40  # a heading per section in two places of two parts: the size budget holds 20 of them


def _email_topic_name(*, batch: DigestBatch, user_id: int, selection: Selection) -> str:
    """The topic a one-topic email of a reader who chose one email per topic is for ("" otherwise)."""
    if not emails_per_topic(user_id=user_id, batch=batch) or len(set(selection.topics)) != 1:
        return ""
    names = {t.pk: t.name for t in batch.topics.get(user_id, [])}
    name = names.get(selection.topics[0], "")
    return name if len(name) <= SECTION_NAME_CHARS else name[: SECTION_NAME_CHARS - 1].rstrip() + "…"


def _section_headings(items: list[dict], *, picks, selection: Selection, topics: list[Topic]) -> None:
    """Give the first paper of each topic's section its heading (``item["section"]``: the topic's name).

    Only for a reader with several topics: a single-topic reader's items stay as they were (no key), so
    their email is byte for byte what it was before topics.
    """
    if len(topics) < 2 or not selection.topics:
        return
    names = {t.pk: t.name for t in topics}
    topic_of = selection.topic_of()
    previous = object()
    for item, (pid, _) in zip(items, picks, strict=True):
        topic = topic_of.get(pid)
        if topic != previous:
            name = names.get(topic, OTHER_SECTION)
            cut = SECTION_NAME_CHARS - 1
            item["section"] = name if len(name) <= SECTION_NAME_CHARS else name[:cut].rstrip() + "…"
            previous = topic


def digest_build(
    *,
    user,
    now: dt.datetime,
    batch: DigestBatch | None = None,
    language: str | None = None,
    delivery_id: int | None = None,
    inert_links: bool = False,
) -> DigestContent:
    """Return ``user``'s digest for the moment ``now`` ranked now (``digest_select`` + ``digest_compose``).

    Without ``batch`` it is a single reader's request (a preview): ranked ``interactive``ly, over the new papers
    For you ranks too (see ``digest_batch_build``).

    See ``digest_compose`` for ``delivery_id`` and ``inert_links``.
    """
    batch = batch or digest_batch_build(user_ids=[user.pk], now=now, interactive=True)
    selection = digest_select(user_id=user.pk, batch=batch)
    return digest_compose(
        user=user,
        now=now,
        batch=batch,
        selection=selection,
        language=language,
        delivery_id=delivery_id,
        inert_links=inert_links,
    )


def digest_build_planned(*, delivery, inert_links: bool = False, language: str | None = None) -> DigestContent:
    """The digest of a planned delivery, from its stored rows (admin "view email", previews): never ranked again."""
    moment = delivery.sent_at or delivery.claimed_at or delivery.planned_at or delivery.created_at
    batch = digest_batch_planned(deliveries={delivery.pk: delivery.user_id}, now=moment)
    selection = batch.selections.get(delivery.pk) or Selection(skip_reason=delivery.skip_reason or SKIP_NOTHING_MATCHED)
    return digest_compose(
        user=batch.users.get(delivery.user_id) or delivery.user,
        now=moment,
        batch=batch,
        selection=selection,
        language=language or delivery.language or None,
        delivery_id=None if inert_links else delivery.pk,
        inert_links=inert_links,
        updates_of=delivery.pk,
    )


def digest_compose(
    *,
    user,
    now: dt.datetime,
    batch: DigestBatch,
    selection: Selection,
    language: str | None = None,
    delivery_id: int | None = None,
    inert_links: bool = False,
    updates_of: int | None = None,
) -> DigestContent:
    """Return the template context of ``selection`` for ``user`` at ``now``, or its skip reason.

    ``updates_of``: the stored delivery whose recorded "Updates on your papers" to show (the admin's
    inert view of a sent digest); by default those of ``delivery_id``, or, for a preview, the next ones.

    With ``delivery_id`` (sending) the links carry one signed token per purpose for the whole email
    (``tokens.delivery_click_token``); without it (previews) one token per link. With ``inert_links``
    (anyone but ``user`` will read it: staff previews, test digests) no link carries a token: each points
    at the preview-only page, which acts for nobody.
    """
    profile = batch.profiles.get(user.pk)
    language = digest_languages.normalise(language or (profile.language if profile else None))
    content = DigestContent(user=user, profile=profile, language=language)
    picks = [(pid, reason) for pid, reason in selection.papers if pid in batch.papers]
    if selection.skip_reason or not picks:
        content.skip_reason = selection.skip_reason or SKIP_NOTHING_MATCHED
        return content

    bases = _delivery_link_bases(batch, user_id=user.pk, delivery_id=delivery_id) if delivery_id is not None else None
    inert = absolute(reverse("digest:preview_link")) if inert_links else None
    items = [
        _paper_item(
            batch=batch,
            paper=batch.papers[pid],
            user_id=user.pk,
            rank=i,
            reason=reason,
            language=language,
            bases=bases,
            inert=inert,
        )
        for i, (pid, reason) in enumerate(picks, start=1)
    ]
    _section_headings(items, picks=picks, selection=selection, topics=batch.topics.get(user.pk, []))
    wanted = fields_of(batch.topics.get(user.pk, []))
    trending_ids = [pid for pid in selection.trending if pid in batch.papers]
    trending = [
        _paper_item(
            batch=batch,
            paper=batch.papers[pid],
            user_id=user.pk,
            rank=i,
            reason="Popular with the community this week",
            language=language,
            bases=bases,
            inert=inert,
        )
        for i, pid in enumerate(trending_ids, start=1)
    ]

    # Bilingual only when something is translated: without a backend the digest stays English.
    if not any(item["translation"] for item in items + trending):
        language = content.language = DEFAULT_LANGUAGE
    abstracts = _translated_abstracts(batch=batch, items=items, profile=profile, language=language)
    top = items[0]["translation"] or items[0]
    local_now = now.astimezone(zone(profile.time_zone if profile else "UTC"))
    weekly = profile is not None and profile.frequency == Frequency.WEEKLY
    date_label = f"{local_now:%a} {local_now.day} {local_now:%b %Y}"
    subject = _subject(date_label=date_label, top_title=top["title"], count=len(items))
    topic_name = _email_topic_name(batch=batch, user_id=user.pk, selection=selection)
    if topic_name:  # one email per topic: its subject names the topic
        subject = f"{topic_name} · {subject}"
    fields = ", ".join(sorted(wanted)) if wanted else "all the categories we follow"
    unsubscribe = (
        f"{inert}?link=unsubscribe"
        if inert
        else _token_url(batch, "digest:unsubscribe", unsubscribe_token.make_token(u=user.pk))
    )
    content.context = {
        "language": language,
        "language_info": digest_languages.get(language),
        "translated_abstracts": abstracts,
        "subject": subject,
        "preheader": (
            f"{len(items)} new paper{'s' if len(items) != 1 else ''} for you"
            f"{' this week' if weekly else ' today'}: {top['tldr'] or items[0]['tldr'] or top['title']}"
        )[:180],
        "date_label": f"{local_now:%A} {local_now.day} {local_now:%B %Y}",
        "period_label": "weekly" if weekly else "daily",
        "items": items,
        "trending": trending,
        "fields": fields,
        "email": user.email,
        "site_url": settings.SITE_URL,
        "preferences_url": batch.preferences_url,
        "unsubscribe_url": unsubscribe,
        "postal_address": settings.SENDER_POSTAL_ADDRESS,
    }
    pause_note = pause_footer(profile, now=now)
    if pause_note:  # a key only when there is a note: every other digest keeps its skeleton shape
        content.context["pause_note"] = pause_note
    # "Updates on your papers": recorded by the plan phase for a delivery, computed for a preview.
    stored = delivery_id if delivery_id is not None else updates_of
    content.context.update(updates_context(user_id=user.pk, delivery_id=stored, inert=inert))
    content.paper_ids = [pid for pid, _ in picks]
    content.trending_ids = trending_ids
    content.reasons = {str(pid): reason for pid, reason in picks}
    content.subject = subject
    return content
