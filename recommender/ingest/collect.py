"""Collecting documents: read a file or fetch every page of a source (API paging, OAI resumption tokens).

Nothing here writes papers: ``services.ingest_run`` collects first, then writes
everything in one transaction, so a run is all or nothing. Paging is done by
hand on ``fetch.fetch`` (not ``sickle``) so every page gets the same byte cap,
timeouts, hostile-XML parser and transient/permanent error classes as a single
document, and ``--limit`` stops with the resumption token in the run's note.
"""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from ..models import FeedState
from . import arxiv_api, arxiv_oai, arxiv_rss, hf_daily
from .entries import PaperEntry, PermanentIngestError, TransientIngestError
from .fetch import FetchResult, fetch

DEFAULT_URLS = {
    "arxiv-rss": "https://rss.arxiv.org/rss/",
    "arxiv-api": "https://export.arxiv.org/api/query",
    "arxiv-oai": "https://oaipmh.arxiv.org/oai",
    "hf-daily": "https://huggingface.co/api/daily_papers",
}


class IngestUnavailable(TransientIngestError):
    """The live sources cannot be reached (no network, DNS failure, connect timeout)."""


def _setting(name: str, default):
    return settings.PAPERBOY.get(name, default)


@dataclass
class Collected:
    entries: list[PaperEntry] = field(default_factory=list)
    fetched: list[FetchResult] = field(default_factory=list)
    requests: int = 0
    not_modified: bool = False
    note: str = ""


@dataclass
class Options:
    source: str
    url: str | None
    path: str | None
    categories: list[str]
    date: dt.date | None
    delay: float
    limit: int | None
    metadata_prefix: str
    connect_timeout: float
    read_timeout: float
    conditional: bool
    max_bytes: int
    user_agent: str


def read_file(path: str | Path, *, max_bytes: int) -> bytes:
    """Return a local file's bytes, refusing files over ``max_bytes`` without reading them whole."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise PermanentIngestError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise PermanentIngestError(f"{path} exceeds the {max_bytes}-byte limit (INGEST_MAX_BYTES)")
    return data


def _get(opts: Options, url: str, *, expect: str, params: dict | None = None, conditional: bool = False):
    state = None
    if conditional and opts.conditional:
        state = FeedState.objects.filter(url=_full_url(url, params)).first()
    return fetch(
        url,
        params=params,
        user_agent=opts.user_agent,
        max_bytes=opts.max_bytes,
        expect=expect,
        etag=state.etag if state else "",
        last_modified=state.last_modified if state else "",
        connect_timeout=opts.connect_timeout,
        read_timeout=opts.read_timeout,
    )


def _full_url(url: str, params: dict | None) -> str:
    if not params:
        return url
    joiner = "&" if "?" in url else "?"
    return url + joiner + urllib.parse.urlencode(params)


def _collect_single(opts: Options, parse: Callable[[bytes], list[PaperEntry]], url: str, expect: str, params=None):
    collected = Collected()
    if opts.path:
        collected.entries = parse(read_file(opts.path, max_bytes=opts.max_bytes))
        return collected
    result = _get(opts, url, expect=expect, params=params, conditional=True)
    collected.requests = 1
    result.url = _full_url(url, params)
    collected.fetched.append(result)
    if result.not_modified:
        collected.not_modified = True
        collected.note = "not modified (HTTP 304)"
        return collected
    collected.entries = parse(result.body)
    return collected


def _collect_rss(opts: Options) -> Collected:
    url = opts.url
    if not url:
        categories = opts.categories or list(_setting("INGEST_CATEGORIES", []))
        if not categories:
            raise PermanentIngestError("no categories to fetch (set INGEST_CATEGORIES or pass --category)")
        url = _setting("ARXIV_RSS_URL", DEFAULT_URLS["arxiv-rss"]) + "+".join(categories)
    return _collect_single(opts, lambda data: arxiv_rss.parse(data, announced_on=opts.date), url, "xml")


def _collect_hf(opts: Options) -> Collected:
    url = opts.url or _setting("HF_DAILY_URL", DEFAULT_URLS["hf-daily"])
    params = {"date": opts.date.isoformat()} if opts.date and not opts.url else None
    return _collect_single(opts, lambda data: hf_daily.parse(data, published_on=opts.date), url, "json", params)


def _with_query(url: str, **updates) -> str:
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    query.update({k: str(v) for k, v in updates.items() if v is not None})
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def _collect_api(opts: Options) -> Collected:
    collected = Collected()
    if opts.path:
        collected.entries = arxiv_api.parse(read_file(opts.path, max_bytes=opts.max_bytes))
        return collected
    url = opts.url
    if not url:
        categories = opts.categories or list(_setting("INGEST_CATEGORIES", []))
        query = " OR ".join(f"cat:{c}" for c in categories)
        url = _with_query(
            _setting("ARXIV_API_URL", DEFAULT_URLS["arxiv-api"]),
            search_query=query,
            sortBy="submittedDate",
            sortOrder="descending",
        )
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    start = int(query.get("start", 0) or 0)
    page_size = min(int(query.get("max_results", 100) or 100), 2000)
    while True:
        if collected.requests:
            time.sleep(opts.delay)  # arXiv asks for 3 s between API calls
        page_url = _with_query(url, start=start, max_results=page_size)
        result = _get(opts, page_url, expect="xml")
        collected.requests += 1
        page = arxiv_api.parse_page(result.body)
        collected.entries.extend(page.entries)
        start += len(page.entries)
        total = page.total_results
        if not page.entries or start >= total:
            break
        if opts.limit and len(collected.entries) >= opts.limit:
            collected.note = f"stopped at --limit {opts.limit} of {total} results"
            break
    return collected


def _oai_sets(categories: list[str]) -> list[str]:
    """OAI set specs for categories: cs.LG -> "cs", stat.ML -> "stat", hep-th -> "physics:hep-th"."""
    sets = []
    for category in categories:
        archive = category.split(".", 1)[0]
        spec = archive if archive in ("cs", "math", "stat", "q-bio", "q-fin", "eess", "econ") else f"physics:{archive}"
        if spec not in sets:
            sets.append(spec)
    return sets


def _collect_oai(opts: Options) -> Collected:
    collected = Collected()
    if opts.path:
        page = arxiv_oai.parse_page(read_file(opts.path, max_bytes=opts.max_bytes))
        collected.entries = page.entries
        if page.resumption_token:
            collected.note = "file holds one page; its resumptionToken was not followed"
        return collected
    base = opts.url or _setting("ARXIV_OAI_URL", DEFAULT_URLS["arxiv-oai"])
    base_parts = urllib.parse.urlsplit(base)
    base_query = dict(urllib.parse.parse_qsl(base_parts.query))
    endpoint = urllib.parse.urlunsplit(base_parts._replace(query=""))
    harvests: list[dict] = []
    if base_query.get("verb"):
        harvests.append(base_query)
    else:
        first = {"verb": "ListRecords", "metadataPrefix": opts.metadata_prefix}
        if opts.date:
            first["from"] = opts.date.isoformat()
        sets = _oai_sets(opts.categories) if opts.categories else []
        harvests.extend([{**first, "set": s} for s in sets] or [first])
    for params in harvests:
        while params:
            if collected.requests:
                time.sleep(opts.delay)
            result = _get(opts, endpoint, expect="xml", params=params)
            collected.requests += 1
            page = arxiv_oai.parse_page(result.body)
            collected.entries.extend(page.entries)
            params = (
                {"verb": "ListRecords", "resumptionToken": page.resumption_token} if page.resumption_token else None
            )
            if params and opts.limit and len(collected.entries) >= opts.limit:
                collected.note = f"stopped at --limit {opts.limit}; resumptionToken {page.resumption_token}"
                break
    return collected


COLLECTORS = {"arxiv-rss": _collect_rss, "arxiv-api": _collect_api, "arxiv-oai": _collect_oai, "hf-daily": _collect_hf}


def feed_states_save(fetched: list[FetchResult]) -> None:
    """Keep the conditional-GET validators of what was fetched (written in the run's transaction)."""
    now = timezone.now()
    for result in fetched:
        if result.etag or result.last_modified or result.not_modified:
            FeedState.objects.update_or_create(
                url=result.url[:1000],
                defaults={"etag": result.etag[:255], "last_modified": result.last_modified[:64], "fetched_at": now},
            )


def probe(url: str, timeout: float) -> None:
    """Raise ``IngestUnavailable`` unless a TCP connection to ``url``'s host opens within ``timeout``.

    Runs in a thread so a hanging DNS lookup cannot exceed the timeout either.
    """
    parts = urllib.parse.urlsplit(url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    outcome: dict[str, BaseException | bool] = {}

    def connect():
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            outcome["ok"] = True
        except OSError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=connect, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    if not outcome.get("ok"):
        reason = outcome.get("error") or f"no answer within {timeout:g}s"
        raise IngestUnavailable(f"network unreachable: cannot connect to {host}:{port} ({reason})")
