"""Render a digest (subject, plain text, HTML with inlined CSS) from a ``DigestContent`` context.

Inlining CSS with premailer is the slow step (it parses the document and
matches every selector), so it runs once per template, not once per email:
the Django tags in the template source are swapped for inert placeholders,
premailer inlines the static stylesheet, the tags are put back and the
result is compiled and cached. Each subscriber's email is then a plain
Django render, with autoescaping (titles and abstracts are untrusted).
``naive=True`` renders first and runs premailer on every email, for
benchmarks and to check that both paths agree.

Fragments (the send path). Most of an email is the same for every
subscriber who gets a paper: its title, authors, TL;DR, abstract and
metadata. Each repeated block of the templates is marked
``{% digest_part "name" %}`` (``recommender/templatetags/digest_email.py``);
``FragmentTemplate`` renders each block once per paper (and template
version) with *markers* in place of what differs per subscriber (rank,
signed links, the ranker's reason), renders the surrounding "skeleton" once
per shape (language, number of papers, number of trending papers) with
markers for the per-subscriber fields, and assembles each email by joining
those pieces with the subscriber's values, escaped exactly as Django's
autoescaping would (``conditional_escape``) in the HTML and verbatim in the
text. It is the same compiled template rendered in pieces, so the output is
byte-for-byte what ``Template.render`` gives (tested). The markers carry a
random per-process nonce and a NUL, which no stored text can contain
(PostgreSQL text has no NUL), so a hostile title cannot forge one.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from django.template import Context, engines
from django.template.loader import get_template, render_to_string
from django.utils.html import conditional_escape

from ..templatetags.digest_email import SKELETON, DigestPartNode

HTML_TEMPLATE = "email/digest_body.html"
TEXT_TEMPLATE = "email/digest_body.txt"
SUBJECT_TEMPLATE = "email/digest_subject.txt"

_TAG = re.compile(r"\{%.*?%\}|\{\{.*?\}\}", re.DOTALL)
_COMMENT = re.compile(r"\{#.*?#\}", re.DOTALL)
_cache: dict[tuple[str, float], object] = {}
_lock = threading.RLock()


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


def _template_key(name: str) -> tuple[str, float]:
    origin = get_template(name).origin
    try:
        mtime = Path(origin.name).stat().st_mtime
    except OSError:
        mtime = 0.0
    return (name, mtime)


def inlined_template(name: str = HTML_TEMPLATE):
    """Return the compiled, CSS-inlined template ``name`` (inlined once per process and file version)."""
    key = _template_key(name)
    template = _cache.get(key)
    if template is None:
        with _lock:
            template = _cache.get(key)
            if template is None:
                source = get_template(name).template.source
                template = engines["django"].from_string(inline_template_source(source))
                _cache[key] = template
    return template


# --- fragments ---------------------------------------------------------------------------------

_NONCE = secrets.token_hex(6)
_OPEN = f"\x00{_NONCE}:"
_CLOSE = "\x00"
_MARKER = re.compile(re.escape(_OPEN) + "([^\x00]*)" + re.escape(_CLOSE))
_FRAGMENT_CACHE_MAX = 20_000  # pieces of ~1,000 papers x 6 blocks, with room for a few template versions
_TOP_FIXED = ("language", "language_info", "items", "trending")  # decide the skeleton's shape


def _mark(key: str) -> str:
    return f"{_OPEN}{key}{_CLOSE}"


def _pieces(rendered: str) -> tuple:
    """``"lit<key>lit<key>lit"`` -> ``("lit", "key", "lit", "key", "lit")`` (literals at even positions)."""
    return tuple(_MARKER.split(rendered))


class _Slot:
    """What a loop variable is in the skeleton render: which list, which position."""

    __slots__ = ("index", "seq")

    def __init__(self, seq: str, index: int):
        self.seq, self.index = seq, index

    def __str__(self) -> str:  # never rendered: everything inside a loop is a digest_part
        return ""


def item_values(item: dict) -> dict[str, object]:
    """The per-subscriber fields of one paper item, by marker key."""
    values = {"rank": item["rank"], "url": item["url"], "reason": item["reason"]}
    for i, link in enumerate(item["links"]):
        values[f"link{i}"] = link["url"]
    for kind, url in item["feedback"].items():
        values[f"fb.{kind}"] = url
    return values


def _item_markers(item: dict) -> dict:
    """``item`` with every per-subscriber field replaced by its marker (the paper's own fields kept)."""
    return {
        **item,
        "rank": _mark("i:rank"),
        "url": _mark("i:url"),
        "reason": _mark("i:reason"),
        "links": [{"label": link["label"], "url": _mark(f"i:link{i}")} for i, link in enumerate(item["links"])],
        "feedback": {kind: _mark(f"i:fb.{kind}") for kind in item["feedback"]},
    }


class FragmentTemplate:
    """One compiled template rendered in cached pieces (see the module docstring)."""

    def __init__(self, template, *, autoescape: bool):
        self.template = template  # the backend template (``.template`` is the engine's)
        self.autoescape = autoescape
        self.parts = {node.name: node for node in template.template.nodelist.get_nodes_by_type(DigestPartNode)}
        self.skeletons: dict[tuple, tuple] = {}
        self.fragments: dict[tuple, tuple] = {}

    def _escape(self, value) -> str:
        return conditional_escape(value) if self.autoescape else str(value)

    def _top_markers(self, context: dict) -> dict:
        return {k: _mark(f"t:{k}") for k in context if k not in _TOP_FIXED}

    def _skeleton(self, context: dict, items: list, trending: list) -> tuple:
        key = (context.get("language"), len(items), len(trending), tuple(context))
        pieces = self.skeletons.get(key)
        if pieces is None:
            shape = {
                **self._top_markers(context),
                **{k: context[k] for k in ("language", "language_info") if k in context},
                "items": [_Slot("items", i) for i in range(len(items))],
                "trending": [_Slot("trending", i) for i in range(len(trending))],
                SKELETON: (_OPEN, _CLOSE),
            }
            pieces = self.skeletons[key] = _pieces(self.template.render(shape))
        return pieces

    def _fragment(self, name: str, item: dict, context: dict) -> tuple:
        key = (name, item["fragment_key"], len(item["links"]), tuple(item["feedback"]), tuple(context))
        pieces = self.fragments.get(key)
        if pieces is None:
            if len(self.fragments) >= _FRAGMENT_CACHE_MAX:
                self.fragments.clear()
            ctx = Context({**self._top_markers(context), "item": _item_markers(item)}, autoescape=self.autoescape)
            with ctx.bind_template(self.template.template):
                pieces = self.fragments[key] = _pieces(self.parts[name].nodelist.render(ctx))
        return pieces

    def render(self, context: dict) -> str:
        items = context.get("items") or []
        trending = context.get("trending") or []
        if any("fragment_key" not in item for item in (*items, *trending)):
            return self.template.render(context)  # a hand-made context: the plain render
        escape = self._escape
        top: dict[str, str] = {}
        per_item: dict[tuple[str, int], dict[str, str]] = {}
        out: list[str] = []
        append = out.append

        def fill(pieces: tuple, values: dict[str, str] | None) -> None:
            append(pieces[0])
            for i in range(1, len(pieces), 2):
                key = pieces[i]
                kind, _, name = key.partition(":")
                if kind == "i":
                    append(values[name])
                elif kind == "t":
                    if name not in top:
                        top[name] = escape(context[name])
                    append(top[name])
                else:  # "part:<name>:<seq>:<index>"
                    part, seq, index = name.split(":")
                    index = int(index)
                    item = (items if seq == "items" else trending)[index]
                    values = per_item.get((seq, index))
                    if values is None:
                        values = per_item[(seq, index)] = {k: escape(v) for k, v in item_values(item).items()}
                    fill(self._fragment(part, item, context), values)
                append(pieces[i + 1])

        fill(self._skeleton(context, items, trending), None)
        return "".join(out)


_fragment_cache: dict[tuple[str, float], FragmentTemplate] = {}
_fragment_checked: dict[str, tuple[float, tuple[str, float]]] = {}
_RECHECK_SECONDS = 2.0


def fragment_template(name: str) -> FragmentTemplate:
    """The ``FragmentTemplate`` for ``name`` (CSS inlined for the HTML), per process and file version.

    The file's version is looked up at most every two seconds (a stat per
    email showed up in profiles); a changed template is picked up after that.
    """
    now = time.monotonic()
    checked = _fragment_checked.get(name)
    if checked is None or now - checked[0] > _RECHECK_SECONDS:
        checked = _fragment_checked[name] = (now, _template_key(name))
    key = checked[1]
    fragments = _fragment_cache.get(key)
    if fragments is None:
        with _lock:
            fragments = _fragment_cache.get(key)
            if fragments is None:
                html = name == HTML_TEMPLATE
                template = inlined_template(name) if html else get_template(name)
                fragments = _fragment_cache[key] = FragmentTemplate(template, autoescape=html)
    return fragments


def render_digest(context: dict, *, naive: bool = False) -> RenderedDigest:
    """Render subject, text and HTML for one digest context.

    The default path assembles cached fragments of the CSS-inlined templates
    (byte-identical to rendering them whole); ``naive=True`` renders the
    plain templates and runs premailer on every email.
    """
    if naive:
        subject = " ".join(render_to_string(SUBJECT_TEMPLATE, context).split())
        text = render_to_string(TEXT_TEMPLATE, context)
        html = premailer_transform(render_to_string(HTML_TEMPLATE, context))
        return RenderedDigest(subject=subject, text=text, html=html)
    subject = " ".join(fragment_template(SUBJECT_TEMPLATE).render(context).split())
    text = fragment_template(TEXT_TEMPLATE).render(context)
    html = fragment_template(HTML_TEMPLATE).render(context)
    return RenderedDigest(subject=subject, text=text, html=html)


def render_digest_whole(context: dict) -> RenderedDigest:
    """The same as ``render_digest`` with each template rendered in one go (what the fragments must equal)."""
    subject = " ".join(render_to_string(SUBJECT_TEMPLATE, context).split())
    text = render_to_string(TEXT_TEMPLATE, context)
    html = inlined_template(HTML_TEMPLATE).render(context)
    return RenderedDigest(subject=subject, text=text, html=html)
