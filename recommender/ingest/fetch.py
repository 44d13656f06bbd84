"""Fetch source documents over HTTP: network only, no parsing, no database.

One function, ``fetch``, does a polite GET (our User-Agent with a contact
address, conditional validators, connect/read timeouts and an overall
deadline), streams the body under a byte cap, and classifies every failure
as transient (retry later: network, timeouts, 5xx, 429, 503 with its
Retry-After) or permanent (4xx, wrong content type, oversize body). Nothing
here runs at import time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import requests

from ..http import retry_after_seconds
from .entries import DocumentError, PermanentIngestError, TransientIngestError

XML_TYPES = ("xml",)
JSON_TYPES = ("json",)
CHUNK = 64 * 1024


@dataclass
class FetchResult:
    url: str
    status: int
    body: bytes | None
    etag: str = ""
    last_modified: str = ""
    content_type: str = ""

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def _check_content_type(content_type: str, expect: str, url: str) -> None:
    kind = content_type.split(";", 1)[0].strip().lower()
    if not kind:
        return  # absent: the parser will judge the body
    if expect == "json" and "json" not in kind:
        raise DocumentError(f"wrong content type {kind!r} from {url} (expected JSON)")
    if expect == "xml" and ("html" in kind or "json" in kind or kind.startswith(("image/", "audio/", "video/"))):
        raise DocumentError(f"wrong content type {kind!r} from {url} (expected XML)")


def _request_headers(*, user_agent: str, expect: str, etag: str, last_modified: str) -> dict[str, str]:
    """Return our polite request headers, with the conditional validators we hold."""
    headers = {
        "User-Agent": user_agent,
        "Accept": "application/json" if expect == "json" else "application/rss+xml, application/atom+xml, text/xml",
        "Accept-Encoding": "gzip, deflate",
    }
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def _open(http, url: str, *, params: dict | None, headers: dict, timeout: tuple[float, float]) -> requests.Response:
    """Send the GET (the body is not read yet), classifying a failure to get any response."""
    try:
        return http.get(url, params=params, headers=headers, timeout=timeout, stream=True)
    except requests.Timeout as exc:
        raise TransientIngestError(f"timeout fetching {url}: {exc.__class__.__name__}") from None
    except requests.ConnectionError as exc:
        reason = str(exc.args[0]) if exc.args else exc.__class__.__name__
        raise TransientIngestError(f"cannot connect to {url}: {reason[:200]}") from None
    except requests.RequestException as exc:
        raise PermanentIngestError(f"bad request for {url}: {exc}") from None


def _check_status(response: requests.Response, where: str) -> None:
    """Raise for a status we cannot use: 429 and 5xx are transient (with Retry-After), other non-2xx permanent."""
    status = response.status_code
    if status == 429 or status >= 500:
        delay = retry_after_seconds(response.headers.get("Retry-After"))
        hint = f", retry after {delay:.0f}s" if delay is not None else ""
        raise TransientIngestError(f"HTTP {status} from {where}{hint}", retry_after=delay, status=status)
    if status >= 400 or status < 200:
        raise PermanentIngestError(f"HTTP {status} from {where}", status=status)


def _read_capped(response: requests.Response, where: str, *, max_bytes: int, started: float, total: float) -> bytes:
    """Stream the body under the byte cap and the overall deadline (``total`` seconds from ``started``)."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise DocumentError(f"response from {where} is {int(declared)} bytes, over the {max_bytes}-byte limit")
    chunks, size = [], 0
    try:
        # Decoded (gunzipped) bytes are counted, so a compression bomb hits the cap too.
        for chunk in response.iter_content(CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise DocumentError(f"response from {where} exceeds the {max_bytes}-byte limit")
            if time.monotonic() - started > total:
                raise TransientIngestError(f"timeout fetching {where}: body took over {total:.0f}s")
            chunks.append(chunk)
    except requests.RequestException as exc:
        raise TransientIngestError(f"connection lost while reading {where}: {exc.__class__.__name__}") from None
    return b"".join(chunks)


def fetch(
    url: str,
    *,
    user_agent: str,
    max_bytes: int,
    expect: str = "xml",
    params: dict | None = None,
    etag: str = "",
    last_modified: str = "",
    connect_timeout: float = 10.0,
    read_timeout: float = 60.0,
    deadline: float | None = None,
    session: requests.Session | None = None,
) -> FetchResult:
    """GET ``url`` and return its body (or a 304), raising an ``IngestError`` subclass on failure."""
    if not url.startswith(("http://", "https://")):
        raise PermanentIngestError(f"refusing to fetch non-HTTP URL {url[:80]!r}")
    headers = _request_headers(user_agent=user_agent, expect=expect, etag=etag, last_modified=last_modified)
    total = deadline if deadline is not None else connect_timeout + read_timeout * 2
    started = time.monotonic()
    response = _open(session or requests, url, params=params, headers=headers, timeout=(connect_timeout, read_timeout))
    with response:
        where = response.url or url
        if response.status_code == 304:
            return FetchResult(url=url, status=304, body=None, etag=etag, last_modified=last_modified)
        _check_status(response, where)
        content_type = response.headers.get("Content-Type", "")
        _check_content_type(content_type, expect, where)
        body = _read_capped(response, where, max_bytes=max_bytes, started=started, total=total)
        return FetchResult(
            url=url,
            status=response.status_code,
            body=body,
            etag=response.headers.get("ETag", ""),
            last_modified=response.headers.get("Last-Modified", ""),
            content_type=content_type,
        )
