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
per shape (language, translated abstracts or not, number of papers, number of
trending papers) with markers for the per-subscriber fields, and assembles each email by joining
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
from collections.abc import Callable
from dataclasses import dataclass
from html import escape as html_escape
from pathlib import Path

from django.template import Context, engines
from django.template.loader import get_template, render_to_string
from django.utils.html import conditional_escape

from ..templatetags.digest_email import SKELETON, DigestPartNode
from .mime import qp_encode, qp_piece

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
    text_qp: bytes | None = None  # the parts quoted-printable (with the final CRLF), when the send path asks
    html_qp: bytes | None = None


_STYLE_BLOCK = re.compile(r"(<style[^>]*>)(.*?)(</style>)", re.DOTALL)
_CSS_SPACE = re.compile(r"\s*([{};,>])\s*|\s+")


def _compact_css(css: str) -> str:
    """The stylesheet left in ``<style>`` without its layout whitespace (every email carries it: size budget)."""
    compact = _CSS_SPACE.sub(lambda m: m.group(1) or " ", css).replace(";}", "}").strip()
    return re.sub(r"(?<=[a-z-]): (?=[^{}]*[;}])", ":", compact)  # "property: value" in declarations only


def premailer_transform(html: str) -> str:
    """Inline ``html``'s stylesheet; what is not inlined stays in <style>, without its layout whitespace."""
    from premailer import Premailer

    inlined = Premailer(
        html,
        allow_network=False,
        disable_validation=True,
        keep_style_tags=False,
        remove_classes=False,
        strip_important=False,
        cssutils_logging_level=logging.CRITICAL,
    ).transform()
    return _STYLE_BLOCK.sub(lambda m: m.group(1) + _compact_css(m.group(2)) + m.group(3), inlined)


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
# Decide the skeleton's shape: the layout reads them (the language, how many papers in full), never a marker.
_SHAPE = ("language", "language_info", "translated_abstracts")
_TOP_FIXED = (*_SHAPE, "items", "trending")


def _mark(key: str) -> str:
    return f"{_OPEN}{key}{_CLOSE}"


class _Slot:
    """What a loop variable is in the skeleton render: which list, which position, and whether a topic's
    section starts there (``item.section``: a layout decision, so the skeleton reads it, not a marker)."""

    __slots__ = ("index", "section", "seq")

    def __init__(self, seq: str, index: int, section: bool = False):
        self.seq, self.index, self.section = seq, index, section

    def __str__(self) -> str:  # never rendered: everything inside a loop is a digest_part
        return ""


def _item_markers(item: dict) -> dict:
    """``item`` with every per-subscriber field replaced by its marker (the paper's own fields kept)."""
    return {
        **item,
        **({"section": _mark("i:section")} if item.get("section") else {}),
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
        if not self.autoescape:
            return str(value)
        if isinstance(value, str) and not hasattr(value, "__html__"):
            return html_escape(value)  # what Django's escape() does to a plain str, without the SafeString wrapping
        return conditional_escape(value)

    def _top_markers(self, context: dict) -> dict:
        return {k: _mark(f"t:{k}") for k in context if k not in _TOP_FIXED}

    def _skeleton(self, context: dict, items: list, trending: list) -> _Compiled:
        key = (
            context.get("language"),
            bool(context.get("translated_abstracts")),
            len(items),
            len(trending),
            tuple(i for i, item in enumerate(items) if item.get("section")),
            tuple(context),
        )
        compiled = self.skeletons.get(key)
        if compiled is None:
            shape = {
                **self._top_markers(context),
                **{k: context[k] for k in _SHAPE if k in context},
                "items": [_Slot("items", i, bool(item.get("section"))) for i, item in enumerate(items)],
                "trending": [_Slot("trending", i) for i in range(len(trending))],
                SKELETON: (_OPEN, _CLOSE),
            }
            compiled = self.skeletons[key] = _Compiled(self.template.render(shape))
        return compiled

    def _fragment(self, name: str, item: dict, top_key: tuple) -> _Compiled:
        key = (name, item["fragment_key"], len(item["links"]), top_key)
        compiled = self.fragments.get(key)
        if compiled is None:
            if len(self.fragments) >= _FRAGMENT_CACHE_MAX:
                self.fragments.clear()
            markers = {k: _mark(f"t:{k}") for k in top_key}
            ctx = Context({**markers, "item": _item_markers(item)}, autoescape=self.autoescape)
            with ctx.bind_template(self.template.template):
                compiled = self.fragments[key] = _Compiled(self.parts[name].nodelist.render(ctx))
        return compiled

    def render(self, context: dict) -> str:
        return self.render_encoded(context, encode=False)[0]

    def render_encoded(self, context: dict, *, encode: bool = True) -> tuple[str, bytes | None]:
        """``(text, quoted-printable bytes or None)``: the encoding assembled from cached encoded pieces."""
        items = context.get("items") or []
        trending = context.get("trending") or []
        if any("fragment_key" not in item for item in (*items, *trending)):
            text = self.template.render(context)  # a hand-made context: the plain render
            return text, (qp_encode(text) if encode else None)
        assembly = _Assembly(
            context, items=items, trending=trending, encode=encode, escape=self._escape, fragment=self._fragment
        )
        assembly.fill(self._skeleton(context, items, trending), "", -1)
        return assembly.result()


class _Assembly:
    """One email being joined from compiled pieces: the text, and its encoding when asked for."""

    __slots__ = ("context", "enc", "encode", "escape", "fragment", "items", "out", "top_key", "trending", "values")

    def __init__(
        self,
        context: dict,
        *,
        items: list,
        trending: list,
        encode: bool,
        escape: Callable[[object], str],
        fragment: Callable[[str, dict, tuple], _Compiled],
    ):
        self.context, self.items, self.trending, self.encode = context, items, trending, encode
        self.escape, self.fragment = escape, fragment  # the template's escaping and its per-paper piece cache
        self.top_key = tuple(k for k in context if k not in _TOP_FIXED)
        self.values: dict[tuple, tuple[str, bytes | None]] = {}  # each value escaped (and encoded) once
        self.out: list[str] = []
        self.enc: list[bytes] = []

    def value(self, key: tuple, raw) -> None:
        entry = self.values.get(key)
        if entry is None:
            text = self.escape(raw)
            entry = self.values[key] = (text, qp_piece(text) if self.encode else None)
        self.out.append(entry[0])
        if self.encode and entry[0]:
            self.enc.append(entry[1])

    def literal(self, compiled: _Compiled, i: int) -> None:
        self.out.append(compiled.literals[i])
        if self.encode and compiled.literals[i]:
            self.enc.append(compiled.encoded[i])

    def fill(self, compiled: _Compiled, seq: str, index: int) -> None:
        for i, key in enumerate(compiled.keys):
            self.literal(compiled, i)
            kind = key[0]
            if kind == "i":
                item = (self.items if seq == "items" else self.trending)[index]
                self.value((seq, index, key[1]), item_value(item, key[1]))
            elif kind == "t":
                self.value(key, self.context[key[1]])
            else:  # ("part", name, seq, index)
                part_item = (self.items if key[2] == "items" else self.trending)[key[3]]
                self.fill(self.fragment(key[1], part_item, self.top_key), key[2], key[3])
        self.literal(compiled, -1)

    def result(self) -> tuple[str, bytes | None]:
        return "".join(self.out), (b"=\r\n".join(self.enc) + b"\r\n" if self.encode else None)


def item_value(item: dict, name: str):
    """One per-subscriber field of a paper item, by marker name (see ``_item_markers``)."""
    if name == "rank" or name == "url" or name == "reason" or name == "section":
        return item[name]
    if name.startswith("link"):
        return item["links"][int(name[4:])]["url"]
    return item["feedback"][name[3:]]  # "fb.<kind>"


class _Compiled:
    """A rendered piece split at its markers: literals, parsed marker keys, and each literal quoted-printable."""

    __slots__ = ("encoded", "keys", "literals")

    def __init__(self, rendered: str):
        split = _MARKER.split(rendered)
        self.literals = tuple(split[0::2])
        self.keys = tuple(_parse_key(k) for k in split[1::2])
        self.encoded = tuple(qp_piece(text) for text in self.literals)


def _parse_key(key: str) -> tuple:
    kind, _, name = key.partition(":")
    if kind == "part":
        part, seq, index = name.split(":")
        return ("part", part, seq, int(index))
    return (kind, name)


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


def render_digest(context: dict, *, naive: bool = False, encode: bool = False) -> RenderedDigest:
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
    text, text_qp = fragment_template(TEXT_TEMPLATE).render_encoded(context, encode=encode)
    html, html_qp = fragment_template(HTML_TEMPLATE).render_encoded(context, encode=encode)
    return RenderedDigest(subject=subject, text=text, html=html, text_qp=text_qp, html_qp=html_qp)


def render_digest_whole(context: dict) -> RenderedDigest:
    """The same as ``render_digest`` with each template rendered in one go (what the fragments must equal)."""
    subject = " ".join(render_to_string(SUBJECT_TEMPLATE, context).split())
    text = render_to_string(TEXT_TEMPLATE, context)
    html = inlined_template(HTML_TEMPLATE).render(context)
    return RenderedDigest(subject=subject, text=text, html=html)
