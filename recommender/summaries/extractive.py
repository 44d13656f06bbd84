"""Extractive one-sentence summaries: pick the abstract sentence that says what the paper does.

No network and no model: the default TL;DR backend, and the fallback when an
LLM fails or says something the abstract does not. Sentences are split with
care for abbreviations ("e.g.", "et al.", "Fig. 3") and for LaTeX (a ``$...$``
span is never split or cut in half), then scored by

- a contribution cue ("we propose/introduce/present", "this paper shows"),
  strongest, since that is what a TL;DR should state;
- centrality (how many of the abstract's recurring words the sentence uses,
  a TextRank-like frequency score);
- position (context comes first, results last; the second or third sentence
  is the usual home of the contribution, so position weighs little);
- length bounds (fragments and run-on sentences lose);
- safety: a sentence with a URL, an email address, markup or an instruction
  to a model ("ignore previous instructions") is never picked.

The best one is returned, trimmed to ``MAX_CHARS`` on a word boundary outside
math. arXiv RSS prefixes ("arXiv:2403.02233v1 Announce Type: new Abstract:")
and structured-abstract headings ("Objective.", "Methods:") are removed first.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter

MAX_CHARS = 280
MIN_WORDS = 6
IDEAL_MAX_WORDS = 45

_ARXIV_PREFIX = re.compile(r"^\s*arXiv:\S+\s+Announce Type:\s*\S+\s+Abstract:\s*", re.IGNORECASE)
_ABBREVIATIONS = (
    "e.g.",
    "i.e.",
    "et al.",
    "etc.",
    "vs.",
    "cf.",
    "fig.",
    "figs.",
    "eq.",
    "eqs.",
    "sec.",
    "approx.",
    "resp.",
    "w.r.t.",
    "a.k.a.",
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[$\\“])")
_MATH = re.compile(r"\$\$.+?\$\$|\$[^$]+\$|\\\(.+?\\\)|\\\[.+?\\\]", re.DOTALL)
_WORD = re.compile(r"[a-z][a-z0-9\-]+")
_HEADING = re.compile(
    r"^(background|context|motivation|objectives?|aims?|purpose|methods?|methodology|approach|design|"
    r"results?|findings|conclusions?|significance|problem|contributions?)\s*[.:]\s+",
    re.IGNORECASE,
)
_STRONG_CUES = re.compile(
    r"\b(we (propose|present|introduce|develop|design|describe|release|build|construct|formulate|derive|"
    r"prove|establish|provide|offer|put forward|devise|create|contribute)|"
    r"this (paper|work|article|letter|study|note|survey|review) (proposes|presents|introduces|develops|"
    r"describes|provides|shows|demonstrates|studies|investigates|establishes|proves|reports|examines|"
    r"explores|analy[sz]es|addresses)|"
    r"(in|with) this (paper|work|article|letter|study|note|survey|review)\b.*\bwe\b|here,? we)\b",
    re.IGNORECASE,
)
_WEAK_CUES = re.compile(
    r"\b(we (show|demonstrate|find|study|investigate|examine|explore|analy[sz]e|report|perform(ed)?|"
    r"conduct(ed)?|evaluate|attempt|consider|address|focus|aim)|our (method|approach|model|framework|"
    r"system|results?|analysis|contribution)|the (proposed|presented) (method|approach|model|framework))\b",
    re.IGNORECASE,
)
_CONTEXT_OPENERS = re.compile(
    r"^(however|recently|nowadays|in recent years|over the (past|last)|despite|although|while|"
    r"traditionally|existing|prior|previous|current|many|most)\b",
    re.IGNORECASE,
)
# Never a TL;DR, whatever else the sentence says: links, addresses, markup, instructions to a model.
_UNSAFE = re.compile(
    r"https?://|www\.|\S+@\S+\.\w+|<[a-z/!][^>]*>|"
    r"\b(ignore|disregard|forget) (all |any |the )?(previous|prior|above|earlier)\b|system prompt",
    re.IGNORECASE,
)
_STOPWORDS_TEXT = """
a an the and or but of to in on for with by from as at is are was were be been being this that these
those it its we our us they their them which who whom whose what when where how than then there here
such can could may might will would should shall do does did done has have had not no nor so too
very also into over under more most less least many much some any each other both all only own same
new via using use used based while however thus therefore furthermore moreover paper work approach
method methods results show propose proposed
"""
_STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


def clean(abstract: str) -> str:
    """Strip the arXiv announcement prefix and collapse whitespace."""
    text = _ARXIV_PREFIX.sub("", abstract or "")
    return re.sub(r"\s+", " ", text).strip()


def _protect(text: str) -> tuple[str, list[str]]:
    """Replace math spans and abbreviations by inert placeholders (so no split happens inside them)."""
    kept: list[str] = []

    def hold(match: re.Match) -> str:
        kept.append(match.group(0))
        return f"\x00{len(kept) - 1}\x00"

    text = _MATH.sub(hold, text)
    for abbr in _ABBREVIATIONS:
        text = re.sub(r"(?<![A-Za-z])" + re.escape(abbr), hold, text, flags=re.IGNORECASE)
    return text, kept


def _restore(text: str, kept: list[str]) -> str:
    # Placeholders can nest (an abbreviation inside restored math is not re-protected), one pass suffices.
    return re.sub(r"\x00(\d+)\x00", lambda m: kept[int(m.group(1))], text)


def split_sentences(text: str) -> list[str]:
    """Split ``text`` into sentences without breaking on abbreviations or inside ``$...$`` math."""
    protected, kept = _protect(text)
    out = []
    for part in _SENTENCE_END.split(protected):
        part = _restore(part, kept).strip()
        if part:
            out.append(part)
    return out


def _words(sentence: str) -> list[str]:
    return [w for w in _WORD.findall(_MATH.sub(" ", sentence).lower()) if w not in _STOPWORDS]


def _strip_heading(sentence: str) -> str:
    return _HEADING.sub("", sentence, count=1)


def is_safe(sentence: str) -> bool:
    """False for text that must never be shown as a summary (links, addresses, markup, instructions)."""
    return not _UNSAFE.search(sentence)


def _score(sentence: str, position: int, count: int, freq: Counter) -> float:
    words = _words(sentence)
    n_tokens = len(sentence.split())
    if len(words) < 3 or n_tokens < MIN_WORDS or not is_safe(sentence):
        return -1.0
    unique = set(words)
    top = max(freq.values()) or 1
    centrality = sum(freq[w] for w in unique) / (top * math.sqrt(len(unique)))
    cue = 1.0 if _STRONG_CUES.search(sentence) else 0.45 if _WEAK_CUES.search(sentence) else 0.0
    context = -0.25 if _CONTEXT_OPENERS.match(sentence) else 0.0
    # The opening sentence is usually context and the last ones results.
    if count > 2 and position == 0:
        place = -0.15
    elif count > 3 and position == count - 1:
        place = -0.1
    else:
        place = 0.0
    length = -0.3 if n_tokens > IDEAL_MAX_WORDS else 0.0
    return centrality + cue + context + place + length


def _wide(ch: str) -> bool:
    return bool(ch) and unicodedata.east_asian_width(ch) in "WF"


def trim(sentence: str, max_chars: int = MAX_CHARS) -> str:
    """``sentence`` cut to ``max_chars`` on a word boundary, never inside a ``$...$`` span."""
    if len(sentence) <= max_chars:
        return sentence
    end = max_chars - 1
    for span in _MATH.finditer(sentence):
        if span.start() < end < span.end():  # the cut falls inside math: cut before it
            end = span.start()
            break
    cut = sentence[:end]
    if cut.count("$") % 2:  # an unmatched opening "$" (e.g. a span longer than the cap)
        cut = cut[: cut.rfind("$")]
    after = sentence[len(cut) : len(cut) + 1]
    between_wide = bool(cut) and (_wide(cut[-1]) or _wide(after))  # CJK: no spaces, any character boundary
    if not after.isspace() and " " in cut and not between_wide:
        cut = cut.rsplit(" ", 1)[0]  # do not end on half a word
    return cut.rstrip(" ,;:(") + "…"


def summarize(abstract: str) -> str:
    """Return the one sentence that best summarises ``abstract`` ("" for an empty abstract)."""
    text = clean(abstract)
    if not text:
        return ""
    sentences = [_strip_heading(s) for s in split_sentences(text)]
    sentences = [s for s in sentences if s]
    if not sentences:
        return ""
    if len(sentences) == 1:
        return trim(sentences[0]) if is_safe(sentences[0]) else ""
    freq = Counter(w for s in sentences for w in set(_words(s)))
    if not freq:
        freq = Counter({"": 1})
    scores = [_score(s, i, len(sentences), freq) for i, s in enumerate(sentences)]
    best = max(range(len(sentences)), key=lambda i: scores[i])
    if scores[best] < 0:
        # Nothing scored (all fragments or unsafe): the first safe sentence, else nothing.
        safe = [s for s in sentences if is_safe(s)]
        return trim(safe[0]) if safe else ""
    return trim(sentences[best])


class ExtractiveBackend:
    """The default summary backend: English extractive summaries, whatever ``language`` asks."""

    name = "extractive"

    def summarize(self, abstract: str, *, language: str = "en") -> str:
        return summarize(abstract)


def _columns(text: str) -> list[int]:
    """Running display width of ``text``: wide (CJK) characters count two columns, others one."""
    total, out = 0, []
    for ch in text:
        total += 2 if _wide(ch) else 1
        out.append(total)
    return out


def snippet(text: str, max_columns: int = 120) -> str:
    """``text`` shortened to ``max_columns`` display columns for a one-line summary.

    Whole sentences when the first ones fit (and fill at least half the
    line), else a cut at a word boundary (``trim``: never half a word, never
    inside a ``$...$`` span). CJK characters count two columns, so a Chinese
    line is as wide as an English one; text without spaces is cut between
    characters.
    """
    text = " ".join((text or "").split())
    widths = _columns(text)
    if not text or widths[-1] <= max_columns:
        return text
    kept = ""
    for sentence in split_sentences(text):
        candidate = f"{kept} {sentence}".strip()
        if _columns(candidate)[-1] > max_columns:
            break
        kept = candidate
    if kept and _columns(kept)[-1] * 2 >= max_columns:
        return kept
    chars = sum(1 for w in widths if w <= max_columns - 1)  # room for the ellipsis
    return trim(text, chars + 1)
