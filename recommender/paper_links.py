"""Which stored ``github_repo`` value is a link we show and follow: one rule for ingest, page, email and redirect.

``github_repo`` comes from Hugging Face's listing and can be edited in the
admin; a digest's tracked "Code" link redirects to it from our own domain.
Only ``https://github.com/<path>`` qualifies: the web page, the email and the
click redirect all ask :func:`code_url` (through ``Paper.code_url``), so a
value the page would not show is never followed either.

No Django imports: the Hugging Face parser uses this module too.
"""

from __future__ import annotations

import re

GITHUB = "https://github.com/"
MAX_LENGTH = 500
# After the prefix: a path only. No whitespace, controls, backslashes (browsers read "\" as "/") or "@".
_PATH_RE = re.compile(r"[A-Za-z0-9._~\-/%#?=&+:]+")


def code_url(value: object) -> str:
    """``value`` if it is an ``https://github.com/<path>`` URL we may link to, else ``""``."""
    url = value.strip() if isinstance(value, str) else ""
    if not url.startswith(GITHUB) or len(url) > MAX_LENGTH:
        return ""
    rest = url[len(GITHUB) :]
    if not rest.strip("/") or not _PATH_RE.fullmatch(rest):
        return ""
    return url
