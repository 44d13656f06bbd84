"""Write side: fill TL;DRs and translations once per paper and language, cached in the database.

``summaries_fill`` runs after each ingestion (Celery, ``tasks.py``) and from
``preview_digest --language``. For each paper, most read first:

1. TL;DR. With an LLM configured (and ``SUMMARY_BACKEND`` not "extractive")
   the model writes it from the abstract; ``guards`` must accept it, else the
   extractive sentence stays. ``Paper.tldr_backend``/``tldr_model`` say who
   wrote it and ``tldr_source_hash`` for which abstract, so the same
   abstract is never sent twice (a rejected reply is not retried either;
   an unreachable model is, on the next fill).
2. Translations of the title and TL;DR into each language subscribers use,
   stored as ``PaperTranslation`` with the backend, model and a hash of the
   English text. A row whose source changed is redone (or deleted if that
   fails: a stale translation would say something the paper no longer says).

``abstracts_fill`` (the digest's send side, for readers who chose translated
abstracts: ``digest/abstracts.py``) adds 3. the abstract translated, by its
own request, only for the papers such a reader gets in full: stored on the same
``PaperTranslation`` row with ``abstract_source_hash`` (a hash of the English
abstract as the digest shows it), counted apart in ``LLMUsage``.

Failures never raise: after the client's own retries a paper falls back
(extractive TL;DR, no translation), and after ``MAX_UNAVAILABLE`` such
failures the fill stops calling the model for this run. A spent daily budget
stops calls at once. Each write is its own short transaction; nothing waits
on the network while holding a lock.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field

from django.conf import settings
from django.db import IntegrityError, transaction

from ..models import Paper, PaperTranslation
from . import budget, extractive, guards, prompts
from .languages import ORIGINAL, SUPPORTED
from .llm import BudgetExhausted, ChatClient, LLMError, LLMRefused, LLMUnavailable
from .selectors import papers_to_fill, subscriber_languages
from .sources import abstract_shown, text_hash

logger = logging.getLogger(__name__)

BACKEND_EXTRACTIVE = "extractive"
BACKEND_LLM = "llm"
MAX_UNAVAILABLE = 3


def llm_summaries_enabled() -> bool:
    return getattr(settings, "SUMMARY_BACKEND", "auto") != BACKEND_EXTRACTIVE


@dataclass
class FillResult:
    papers: int = 0
    tldr_llm: int = 0
    tldr_extractive: int = 0
    tldr_rejected: int = 0
    translations: int = 0
    translations_cached: int = 0
    translations_rejected: int = 0
    translations_deleted: int = 0
    abstracts: int = 0
    abstracts_cached: int = 0
    abstracts_rejected: int = 0
    abstracts_cleared: int = 0
    failures: int = 0
    requests: int = 0
    budget_exhausted: bool = False
    stopped: bool = False
    # Papers not reached before the deadline (the task enqueues them again).
    remaining: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


class _Run:
    """One fill: the client, and whether we may still call it."""

    def __init__(self, client: ChatClient | None, result: FillResult):
        self.client = client
        self.result = result

    @property
    def live(self) -> bool:
        return self.client is not None and not self.result.budget_exhausted and not self.result.stopped

    def complete(self, *, system: str, user: str, max_tokens: int, kind: str = budget.KIND_DEFAULT) -> str | None:
        """The model's reply, or None after a failure (counted; the run stops when it must)."""
        if not self.live:
            return None
        before = self.client.requests_made
        try:
            return self.client.complete(system=system, user=user, max_tokens=max_tokens, kind=kind).text
        except BudgetExhausted:
            self.result.budget_exhausted = True
            return None
        except (LLMUnavailable, LLMRefused) as exc:
            self.result.failures += 1
            logger.warning("LLM unavailable (%s): falling back", exc)
            if isinstance(exc, LLMRefused) or self.result.failures >= MAX_UNAVAILABLE:
                self.result.stopped = True
            return None
        except LLMError:
            self.result.failures += 1
            return None
        finally:
            self.result.requests += self.client.requests_made - before


def _save_tldr(paper: Paper, *, tldr: str, backend: str, model: str, source_hash: str) -> None:
    paper.tldr, paper.tldr_backend, paper.tldr_model, paper.tldr_source_hash = tldr, backend, model, source_hash
    Paper.objects.filter(pk=paper.pk).update(
        tldr=tldr, tldr_backend=backend, tldr_model=model, tldr_source_hash=source_hash
    )


def paper_tldr_make(*, paper: Paper, run: _Run) -> None:
    """Give ``paper`` the best TL;DR we can: the LLM's if configured and accepted, else the extractive one."""
    abstract_hash = text_hash(paper.abstract)
    if paper.tldr and paper.tldr_source_hash == abstract_hash and paper.tldr_backend:
        return  # already made (or tried and rejected) for this very abstract
    fallback = extractive.summarize(paper.abstract) if paper.abstract else ""
    if not paper.abstract or not llm_summaries_enabled() or not run.live:
        if paper.tldr != fallback or paper.tldr_backend != BACKEND_EXTRACTIVE:
            # Empty hash: the LLM is tried again once it is configured and reachable.
            _save_tldr(paper, tldr=fallback, backend=BACKEND_EXTRACTIVE, model="", source_hash="")
            run.result.tldr_extractive += 1
        return
    system, user = prompts.summary_messages(abstract=paper.abstract)
    reply = run.complete(system=system, user=user, max_tokens=prompts.SUMMARY_MAX_TOKENS)
    if reply is None:  # unreachable or over budget: try again on a later fill
        _save_tldr(paper, tldr=fallback, backend=BACKEND_EXTRACTIVE, model="", source_hash="")
        run.result.tldr_extractive += 1
        return
    summary = prompts.clean_summary(reply)
    reason = guards.summary_reason(summary, abstract=paper.abstract, title=paper.title)
    if reason:
        logger.warning("LLM TL;DR for %s rejected (%s): keeping the extractive one", paper.arxiv_id, reason)
        # The hash records that this abstract was tried: the same reply would be rejected again.
        _save_tldr(paper, tldr=fallback, backend=BACKEND_EXTRACTIVE, model="", source_hash=abstract_hash)
        run.result.tldr_rejected += 1
        return
    _save_tldr(paper, tldr=summary, backend=BACKEND_LLM, model=run.client.model, source_hash=abstract_hash)
    run.result.tldr_llm += 1


def paper_translation_make(*, paper: Paper, language: str, existing: PaperTranslation | None, run: _Run) -> None:
    """Translate ``paper``'s title and TL;DR into ``language`` unless an up-to-date row exists."""
    title = " ".join(paper.title.split())
    tldr = paper.tldr or extractive.summarize(paper.abstract)
    source_hash = text_hash(title, tldr)
    if existing is not None and existing.source_hash in (source_hash, ""):
        run.result.translations_cached += 1
        return
    translated = None
    if run.live:
        system, user = prompts.translation_messages(title=title, tldr=tldr, language=language)
        reply = run.complete(system=system, user=user, max_tokens=prompts.TRANSLATION_MAX_TOKENS)
        if reply is not None:
            translated = _checked_translation(reply, title=title, tldr=tldr, language=language)
            if translated is None:
                run.result.translations_rejected += 1
                logger.warning("translation of %s into %s rejected", paper.arxiv_id, language)
    if translated is None:
        if existing is not None:  # stale and not renewable: better English than an outdated translation
            PaperTranslation.objects.filter(pk=existing.pk).delete()
            run.result.translations_deleted += 1
        return
    fields = {
        "title": translated[0],
        "tldr": translated[1],
        "backend": BACKEND_LLM,
        "model": run.client.model,
        "source_hash": source_hash,
    }
    try:
        with transaction.atomic():
            PaperTranslation.objects.update_or_create(paper_id=paper.pk, language=language, defaults=fields)
    except IntegrityError:  # a concurrent fill stored the same translation first
        PaperTranslation.objects.filter(paper_id=paper.pk, language=language).update(**fields)
    run.result.translations += 1


def _checked_translation(reply: str, *, title: str, tldr: str, language: str) -> tuple[str, str] | None:
    parsed = prompts.parse_translation(reply)
    if parsed is None:
        logger.warning("translation reply not in the TITLE/TLDR shape")
        return None
    out_title, out_tldr = (" ".join(p.split()) for p in parsed)
    reason = guards.translation_reason(
        source=title, output=out_title, language=language, max_chars=guards.TITLE_MAX_CHARS
    ) or (
        guards.translation_reason(
            source=tldr, output=out_tldr, language=language, max_chars=guards.TRANSLATED_TLDR_MAX_CHARS
        )
        if tldr
        else ""
    )
    if reason:
        logger.warning("translation into %s rejected: %s", language, reason)
        return None
    return out_title, (out_tldr if tldr else "")


def paper_abstract_translation_make(*, paper: Paper, row: PaperTranslation | None, run: _Run) -> None:
    """Translate ``paper``'s abstract (as the digest shows it) into ``row``'s language, unless done for it.

    Only on a row that has the title and TL;DR translated (without one the paper reads in English anyway).
    A rejected reply is recorded by the hash (asked again only for a new abstract); a stale translation that
    cannot be renewed is cleared: the reader then gets the English abstract alone, never an outdated one.
    """
    source = abstract_shown(paper.abstract)
    if row is None or not row.title or not source:
        return
    source_hash = text_hash(source)
    if row.abstract_source_hash == source_hash:
        run.result.abstracts_cached += 1
        return
    system, user = prompts.abstract_translation_messages(abstract=source, language=row.language)
    reply = run.complete(
        system=system, user=user, max_tokens=prompts.ABSTRACT_TRANSLATION_MAX_TOKENS, kind=budget.KIND_ABSTRACT
    )
    if reply is None:  # unreachable or over budget: asked again next time
        if row.abstract_source_hash:
            _save_abstract(row, abstract="", source_hash="", model="")
            run.result.abstracts_cleared += 1
        return
    text = prompts.clean_abstract(reply)
    reason = guards.abstract_translation_reason(source=source, output=text, language=row.language)
    if reason:
        logger.warning("translated abstract of %s into %s rejected: %s", paper.arxiv_id, row.language, reason)
        _save_abstract(row, abstract="", source_hash=source_hash, model=run.client.model)
        run.result.abstracts_rejected += 1
        return
    _save_abstract(row, abstract=text, source_hash=source_hash, model=run.client.model)
    run.result.abstracts += 1


def _save_abstract(row: PaperTranslation, *, abstract: str, source_hash: str, model: str) -> None:
    row.abstract, row.abstract_source_hash, row.abstract_model = abstract, source_hash, model
    PaperTranslation.objects.filter(pk=row.pk).update(
        abstract=abstract, abstract_source_hash=source_hash, abstract_model=model
    )


def abstracts_fill(
    *, wanted: dict[str, list[int]], client: ChatClient | None = None, deadline: float | None = None
) -> FillResult:
    """Translated abstracts for ``wanted`` (language -> paper ids), with the TL;DRs and title translations
    they go with; most read papers first, each language in turn, until ``deadline`` (``time.monotonic()``).

    What is stored already costs nothing (one query per language); the ids not reached are in ``remaining``.
    """
    client = client if client is not None else ChatClient.from_settings()
    result = FillResult()
    run = _Run(client, result)
    for language, paper_ids in wanted.items():
        if language not in SUPPORTED or language == ORIGINAL or not paper_ids:
            continue
        papers = list(papers_to_fill(paper_ids=paper_ids))
        rows = {t.paper_id: t for t in PaperTranslation.objects.filter(paper_id__in=paper_ids, language=language)}
        for index, paper in enumerate(papers):
            if deadline is not None and time.monotonic() > deadline:
                result.remaining.extend(p.arxiv_id for p in papers[index:])
                break
            result.papers += 1
            paper_tldr_make(paper=paper, run=run)
            paper_translation_make(paper=paper, language=language, existing=rows.get(paper.pk), run=run)
            row = PaperTranslation.objects.filter(paper_id=paper.pk, language=language).first()
            paper_abstract_translation_make(paper=paper, row=row, run=run)
    logger.info("abstracts fill: %s", {k: v for k, v in result.as_dict().items() if k != "remaining"})
    return result


def summaries_fill(
    *,
    arxiv_ids: list[str] | None = None,
    paper_ids: list[int] | None = None,
    languages: list[str] | None = None,
    client: ChatClient | None = None,
    deadline: float | None = None,
) -> FillResult:
    """Fill TL;DRs and translations for the given papers (default: recent ones) and languages.

    ``languages`` defaults to the second languages of sendable subscribers.
    ``client`` defaults to the configured endpoint (None: extractive only, no translations).
    ``deadline`` (``time.monotonic()`` value) stops before the next paper once passed; the
    arXiv ids not reached are in ``result.remaining``.
    """
    client = client if client is not None else ChatClient.from_settings()
    wanted = subscriber_languages() if languages is None else languages
    wanted = [code for code in dict.fromkeys(wanted) if code in SUPPORTED and code != ORIGINAL]
    result = FillResult()
    run = _Run(client, result)
    papers = list(papers_to_fill(arxiv_ids=arxiv_ids, paper_ids=paper_ids))
    existing: dict[tuple[int, str], PaperTranslation] = {}
    if wanted and papers:
        rows = PaperTranslation.objects.filter(paper_id__in=[p.pk for p in papers], language__in=wanted)
        existing = {(t.paper_id, t.language): t for t in rows}
    for index, paper in enumerate(papers):
        if deadline is not None and time.monotonic() > deadline:
            result.remaining = [p.arxiv_id for p in papers[index:]]
            break
        result.papers += 1
        paper_tldr_make(paper=paper, run=run)
        for language in wanted:
            paper_translation_make(paper=paper, language=language, existing=existing.get((paper.pk, language)), run=run)
    logger.info(
        "summaries fill: %s; LLM usage today: %s",
        {k: v for k, v in result.as_dict().items() if k != "remaining"} | {"remaining": len(result.remaining)},
        budget.usage_today() if client is not None else "no LLM",
    )
    return result
