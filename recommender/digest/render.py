"""Render a digest (subject, plain text, HTML with inlined CSS) from a ``DigestContent`` context.

Inlining CSS with premailer is the slow step (it parses the document and
matches every selector), so it runs once per template, not once per email:
the Django tags in the template source are swapped for inert placeholders,
premailer inlines the static stylesheet, the tags are put back and the
result is compiled and cached. Each subscriber's email is then a plain
Django render, with autoescaping (titles and abstracts are untrusted).
``naive=True`` renders first and runs premailer on every email, for
benchmarks and to check that both paths agree.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from django.template import engines
from django.template.loader import get_template, render_to_string

HTML_TEMPLATE = "email/digest_body.html"
TEXT_TEMPLATE = "email/digest_body.txt"
SUBJECT_TEMPLATE = "email/digest_subject.txt"

_TAG = re.compile(r"\{%.*?%\}|\{\{.*?\}\}", re.DOTALL)
_COMMENT = re.compile(r"\{#.*?#\}", re.DOTALL)
_cache: dict[tuple[str, float], object] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class RenderedDigest:
    subject: str
    text: str
    html: str


def premailer_transform(html: str) -> str:
    """Inline ``html``'s stylesheet; rules that cannot be inlined (media queries) stay in <style>."""
    from premailer import Premailer

    return Premailer(
        html,
        allow_network=False,
        disable_validation=True,
        keep_style_tags=False,
        remove_classes=False,
        strip_important=False,
        cssutils_logging_level=logging.CRITICAL,
    ).transform()


def inline_template_source(source: str) -> str:
    """Inline the CSS of a Django template's source, keeping every template tag intact."""
    source = _COMMENT.sub("", source)
    tags: list[str] = []

    def protect(match: re.Match) -> str:
        tags.append(match.group(0))
        # Block tags become HTML comments (the parser keeps them where they
        # are, even between table rows); variables become plain words.
        if match.group(0).startswith("{%"):
            return f"<!--PBTAG{len(tags) - 1}-->"
        return f"PBVAR{len(tags) - 1}X"

    protected = _TAG.sub(protect, source)
    inlined = premailer_transform(protected)

    def restore_tag(match: re.Match) -> str:
        return tags[int(match.group(1))]

    restored = re.sub(r"<!--PBTAG(\d+)-->", restore_tag, inlined)
    restored = re.sub(r"PBVAR(\d+)X", restore_tag, restored)
    if restored.count("{%") + restored.count("{{") != len(tags):
        raise ValueError("a template tag was lost while inlining CSS (tags inside attributes are not supported)")
    return restored


def inlined_template(name: str = HTML_TEMPLATE):
    """Return the compiled, CSS-inlined template ``name`` (inlined once per process and file version)."""
    origin = get_template(name).origin
    try:
        mtime = Path(origin.name).stat().st_mtime
    except OSError:
        mtime = 0.0
    key = (name, mtime)
    template = _cache.get(key)
    if template is None:
        with _lock:
            template = _cache.get(key)
            if template is None:
                source = get_template(name).template.source
                template = engines["django"].from_string(inline_template_source(source))
                _cache[key] = template
    return template


def render_digest(context: dict, *, naive: bool = False) -> RenderedDigest:
    """Render subject, text and HTML for one digest context."""
    subject = " ".join(render_to_string(SUBJECT_TEMPLATE, context).split())
    text = render_to_string(TEXT_TEMPLATE, context)
    if naive:
        html = premailer_transform(render_to_string(HTML_TEMPLATE, context))
    else:
        html = inlined_template(HTML_TEMPLATE).render(context)
    return RenderedDigest(subject=subject, text=text, html=html)
