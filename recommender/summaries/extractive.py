"""Extractive one-sentence summaries: pick the abstract sentence that says what the paper does.

No network and no model: sentences are split with care for abbreviations
("e.g.", "et al.", "Fig. 3"), scored by how central their words are in the
abstract (a TextRank-like frequency score) plus cue phrases that announce a
contribution ("we propose", "this paper introduces"), and the best one is
returned, trimmed to ``MAX_CHARS`` on a word boundary. arXiv RSS prefixes
("arXiv:2403.02233v1 Announce Type: new Abstract:") are removed first.
"""

from __future__ import annotations

import math
import re
from collections import Counter

MAX_CHARS = 280

_ARXIV_PREFIX = re.compile(r"^\s*arXiv:\S+\s+Announce Type:\s*\S+\s+Abstract:\s*", re.IGNORECASE)
_ABBREVIATIONS = ("e.g.", "i.e.", "et al.", "etc.", "vs.", "cf.", "fig.", "figs.", "eq.", "eqs.", "sec.", "approx.")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[$\\])")
_WORD = re.compile(r"[a-z][a-z0-9\-]+")
_CUES = re.compile(
    r"\b(we (propose|present|introduce|develop|show|demonstrate|prove|provide|study|design)|"
    r"this (paper|work|article)|in this (paper|work)|our (method|approach|model|framework))\b",
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


def split_sentences(text: str) -> list[str]:
    """Split ``text`` into sentences without breaking on common abbreviations."""
    protected = text
    for i, abbr in enumerate(_ABBREVIATIONS):
        protected = re.sub(re.escape(abbr), f"\x00{i}\x00", protected, flags=re.IGNORECASE)
    parts = _SENTENCE_END.split(protected)
    out = []
    for part in parts:
        for i, abbr in enumerate(_ABBREVIATIONS):
            part = part.replace(f"\x00{i}\x00", abbr)
        part = part.strip()
        if part:
            out.append(part)
    return out


def _words(sentence: str) -> list[str]:
    return [w for w in _WORD.findall(sentence.lower()) if w not in _STOPWORDS]


def _score(sentence: str, position: int, freq: Counter) -> float:
    words = _words(sentence)
    if len(words) < 4:
        return -1.0
    centrality = sum(freq[w] for w in set(words)) / math.sqrt(len(set(words)))
    cue = 1.6 if _CUES.search(sentence) else 1.0
    # The opening sentence is usually context ("X is important"); the
    # contribution tends to come second or third, so position weighs little.
    position_weight = 1.0 / (1.0 + 0.08 * position)
    return centrality * cue * position_weight


def trim(sentence: str, max_chars: int = MAX_CHARS) -> str:
    if len(sentence) <= max_chars:
        return sentence
    cut = sentence[: max_chars - 1].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"


def summarize(abstract: str) -> str:
    """Return the one sentence that best summarises ``abstract`` ("" for an empty abstract)."""
    text = clean(abstract)
    if not text:
        return ""
    sentences = split_sentences(text)
    if len(sentences) == 1:
        return trim(sentences[0])
    freq = Counter(w for s in sentences for w in set(_words(s)))
    best = max(range(len(sentences)), key=lambda i: _score(sentences[i], i, freq))
    return trim(sentences[best])


class ExtractiveBackend:
    """The default summary backend: English extractive summaries, whatever ``language`` asks."""

    name = "extractive"

    def summarize(self, abstract: str, *, language: str = "en") -> str:
        return summarize(abstract)
