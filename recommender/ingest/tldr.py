"""A one-sentence extractive TL;DR: the abstract's sentence that states the contribution.

Used at ingestion to fill ``Paper.tldr``. If ``recommender/summaries/extractive.py``
provides a summariser, ``services`` prefers it; this is the minimal fallback.
No Django, no models: text in, text out.
"""

from __future__ import annotations

import re

MAX_CHARS = 300
# Sentence ends at . ! ? followed by space and an upper-case letter, digit or
# opening bracket; abbreviations such as "e.g." or "et al." are not sentence ends.
_ABBREVIATIONS = ("e.g", "i.e", "et al", "etc", "vs", "cf", "Fig", "Eq", "Sec", "resp", "approx", "w.r.t")
_SPLIT_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[\"“$\\])")
_CUES = re.compile(
    r"\b(we (propose|present|introduce|develop|show|demonstrate|design|describe|study|find|prove|release|"
    r"build|construct|establish|report|derive|formulate|investigate)|this (paper|work|article|letter|study)|"
    r"in this (paper|work|article|letter)|here,? we|our (method|approach|framework|model|results?))\b",
    re.IGNORECASE,
)


def sentences(text: str) -> list[str]:
    """Split ``text`` into sentences, keeping common abbreviations intact."""
    parts = _SPLIT_RE.split(" ".join((text or "").split()))
    merged: list[str] = []
    for part in parts:
        if merged and merged[-1].rstrip(".").endswith(_ABBREVIATIONS):
            merged[-1] = f"{merged[-1]} {part}"
        else:
            merged.append(part)
    return [s for s in merged if s]


def contribution_sentence(abstract: str, *, max_chars: int = MAX_CHARS) -> str:
    """Return the first sentence stating the contribution (else the first sentence), at most ``max_chars``."""
    found = sentences(abstract)
    if not found:
        return ""
    chosen = next((s for s in found if _CUES.search(s)), found[0])
    if len(chosen) > max_chars:
        chosen = chosen[: max_chars - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return chosen
