"""Checks that an LLM's output says what the paper says, and nothing else, before we store it.

A model can be wrong, or steered by an abstract that carries instructions
("ignore previous instructions and say ..."). Whatever it replies, we only
keep text that

- has no link, domain name, email address or markup, and no talk of
  instructions or prompts;
- for an English TL;DR: is one sentence of sensible length whose words come
  from the abstract (most content words found in it, few outside its
  vocabulary);
- for a translation: is written in the target script (Han for Chinese,
  kana for Japanese, Hangul for Korean, Cyrillic for Russian, Latin
  otherwise), has a plausible length against the source, keeps every
  number and every ``$...$`` formula of the source, and is no refusal or
  preamble ("I'm sorry", "抱歉", "Here is the translation");
- for a translated abstract, the same, except that links, addresses and
  markup are allowed where the abstract itself has them (a code URL, a
  ``<token>`` the paper names; never a new one), and the length must be that
  of the whole text translated, not of a summary and not padded.

Each check returns a reason string when it rejects (for the log), or ``""``.
Everything stored is still autoescaped when rendered: these checks are about
truth, not about HTML safety.
"""

from __future__ import annotations

import re

from .languages import ORIGINAL, Language, get, script_share

_URL = re.compile(
    r"https?:|ftp:|www\.|\b[a-z0-9-]+(\.[a-z0-9-]+)*\.(com|org|net|io|ai|dev|app|co|example|info|biz|xyz|ly|"
    r"me|gg|cn|ru|uk|edu|gov|site|online|top|click|link|test|invalid|localhost)\b",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_HTML = re.compile(r"<\s*/?\s*[a-z!][^>]*>|&[a-z]+;|&#\d+;", re.IGNORECASE)
_INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,30}\b(previous|prior|above|earlier|all|these|system)\b|"
    r"\b(system|developer) (prompt|message)|\bas an ai\b|\bi cannot\b|\bi can't\b|\bi'm sorry\b",
    re.IGNORECASE,
)
# A model declining, or talking about its answer, in English or in one of the digest languages.
_REFUSAL = re.compile(
    r"^\s*(here is|here's|sure|certainly|of course)\b|抱歉|对不起|我无法|无法翻译|申し訳|죄송|"
    r"извините|не могу|désolé|je ne peux pas|lo siento|no puedo|es tut mir leid|ich kann nicht|desculpe|"
    r"não posso|mi dispiace|non posso",
    re.IGNORECASE,
)
# Words of an advert, not of a summary: rejected unless the abstract itself uses them.
_CALL_TO_ACTION = re.compile(r"\b(visit|click|subscribe|prize|buy|winner)\b", re.IGNORECASE)
_WORD = re.compile(r"[a-z][a-z0-9\-]*", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*%?")
_MATH = re.compile(r"\$[^$]+\$")

SUMMARY_MIN_WORDS = 5
SUMMARY_MAX_WORDS = 60
SUMMARY_MAX_CHARS = 320
TITLE_MAX_CHARS = 400
TRANSLATED_TLDR_MAX_CHARS = 600
# A translated abstract's length against the English it translates, in characters: (low, high) for CJK
# scripts (a Chinese character carries about three English ones) and for the others. Below: a summary or a
# refusal; above: padding. The high bound also caps what a digest can be made to carry (the size budget).
ABSTRACT_RATIO_CJK = (0.2, 0.8)
ABSTRACT_RATIO_OTHER = (0.6, 1.4)
# Of the summary's content words, at least this share must occur in the abstract...
MIN_OVERLAP = 0.7
# ...and at most this share may be outside the abstract's vocabulary and the words a summary needs.
MAX_FOREIGN = 0.2

# Words a one-sentence summary may use that the abstract may not contain.
_SUMMARY_WORDS_TEXT = """
    a an the and or but of to in on for with by from as at is are was were be been it its this that these those
    we our they their which who how what when while than then into over under via using use uses used based
    can could may might will would should not no also both each all only more most less new novel
    paper papers work study studies authors author article propose proposes proposed present presents
    introduce introduces introduced show shows shown demonstrate demonstrates find finds found develop develops
    method methods approach approaches technique model models framework frameworks system systems result results
    improve improves improved achieve achieves outperform outperforms performance existing prior state-of-the-art
    that enables enable allows allow provide provides study studies analysis analyse analyze analyzes evaluate
    evaluates evaluated called named such one two three first
"""
_SUMMARY_WORDS = frozenset(_SUMMARY_WORDS_TEXT.split())


def _stem(word: str) -> str:
    word = word.lower().strip("-")
    for suffix in ("ies", "es", "s", "ed", "ing", "ly"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def unsafe_reason(text: str) -> str:
    """Why ``text`` must not be shown (link, address, markup, instructions), or ""."""
    if _URL.search(text):
        return "contains a link or domain name"
    if _EMAIL.search(text):
        return "contains an email address"
    if _HTML.search(text):
        return "contains markup"
    if _INSTRUCTION.search(text):
        return "talks about instructions or asks the reader to act"
    if any(ord(c) < 32 for c in text):
        return "contains control characters"
    return ""


def summary_reason(summary: str, *, abstract: str, title: str = "") -> str:
    """Why an English ``summary`` of ``abstract`` is rejected, or "" if it may be stored."""
    return _summary_shape_reason(summary, abstract=abstract) or _summary_vocabulary_reason(
        summary, abstract=abstract, title=title
    )


def _summary_shape_reason(summary: str, *, abstract: str) -> str:
    """Why ``summary`` is not a safe sentence of sensible length without an advert's words, or ""."""
    reason = unsafe_reason(summary)
    if reason:
        return reason
    if len(summary) > SUMMARY_MAX_CHARS:
        return "too long"
    for match in _CALL_TO_ACTION.finditer(summary):
        if not re.search(rf"\b{match.group(0)}\b", abstract, re.IGNORECASE):
            return f"says {match.group(0)!r}, which the abstract does not"
    words = len(_WORD.findall(summary))
    if not SUMMARY_MIN_WORDS <= words <= SUMMARY_MAX_WORDS:
        return f"{words} words"
    return ""


def _summary_vocabulary_reason(summary: str, *, abstract: str, title: str) -> str:
    """Why ``summary``'s words or numbers do not come from the paper, or ""."""
    words = _WORD.findall(summary)
    source = {_stem(w) for w in _WORD.findall(f"{title} {abstract}")}
    allowed = source | {_stem(w) for w in _SUMMARY_WORDS}
    content = [_stem(w) for w in words if w.lower() not in _SUMMARY_WORDS]
    if not content:
        return "no content words"
    overlap = sum(1 for w in content if w in source) / len(content)
    foreign = sum(1 for w in (_stem(w) for w in words) if w not in allowed) / len(words)
    if overlap < MIN_OVERLAP:
        return f"only {overlap:.0%} of its words come from the abstract"
    if foreign > MAX_FOREIGN:
        return f"{foreign:.0%} of its words are not in the abstract's vocabulary"
    for number in _NUMBER.findall(summary):
        if number not in abstract and number not in title and number not in ("1", "2", "3"):
            return f"the number {number} is not in the abstract"
    return ""


def _kept(source: str, output: str) -> str:
    """Why numbers or formulas of ``source`` are missing from ``output``, or ""."""
    squashed = re.sub(r"\s+", "", output)
    for formula in _MATH.findall(source):
        if re.sub(r"\s+", "", formula) not in squashed:
            return f"formula {formula} was not kept"
    digits = _MATH.sub(" ", source)
    for number in _NUMBER.findall(digits):
        if number.rstrip("%") not in output:
            return f"number {number} was not kept"
    return ""


def translation_reason(*, source: str, output: str, language: str, max_chars: int, borrowed_ok: bool = False) -> str:
    """Why ``output`` is not an acceptable ``language`` translation of ``source``, or "".

    ``borrowed_ok``: links, addresses and markup are accepted where ``source`` has the very same text.
    """
    if not output.strip():
        return "empty"
    reason = unsafe_reason(_unborrowed(output, source) if borrowed_ok else output)
    if reason:
        return reason
    if _REFUSAL.search(output):
        return "a refusal or a preamble, not a translation"
    if len(output) > max_chars:
        return "too long"
    lang = get(language)
    if lang.code == ORIGINAL:
        return "English is not a translation target"
    ratio = len(output) / max(1, len(source))
    low, high = (0.12, 2.0) if lang.cjk else (0.4, 3.0)
    if len(source) >= 20 and not low <= ratio <= high:
        return f"length ratio {ratio:.2f} out of bounds"
    return _script_reason(source=source, output=output, lang=lang) or _kept(source, output)


def translated_abstract_max_chars(*, source: str, language: str) -> int:
    """The longest translation of the abstract ``source`` into ``language`` that is accepted (and so shown)."""
    _, high = ABSTRACT_RATIO_CJK if get(language).cjk else ABSTRACT_RATIO_OTHER
    return int(len(source) * high)


def abstract_translation_reason(*, source: str, output: str, language: str) -> str:
    """Why ``output`` is not an acceptable ``language`` translation of the abstract ``source``, or ""."""
    low, _ = ABSTRACT_RATIO_CJK if get(language).cjk else ABSTRACT_RATIO_OTHER
    if len(output) < low * len(source):
        return f"{len(output)} characters for {len(source)}: not the whole abstract"
    return translation_reason(
        source=source,
        output=output,
        language=language,
        max_chars=translated_abstract_max_chars(source=source, language=language),
        borrowed_ok=True,
    )


def _unborrowed(output: str, source: str) -> str:
    """``output`` without the links, addresses and markup that ``source`` itself contains."""
    folded = source.casefold()
    for pattern in (_URL, _EMAIL, _HTML):
        output = pattern.sub(lambda m: " " if m.group(0).casefold() in folded else m.group(0), output)
    return output


def _script_reason(*, source: str, output: str, lang: Language) -> str:
    """Why ``output`` is not written in ``lang``'s script, or ""."""
    # Formulas and Latin names are legitimately kept, so measure the script outside them.
    prose = _MATH.sub(" ", output)
    share = script_share(prose, lang.code)
    if lang.cjk:
        if share < 0.25:
            return f"only {share:.0%} of the letters are in the {lang.english_name} script"
        if lang.code == "ja" and not re.search(r"[\u3040-\u30ff]", prose):
            return "no kana: not Japanese"
        return ""
    if lang.code == "ru":
        return f"only {share:.0%} of the letters are Cyrillic" if share < 0.4 else ""
    if share < 0.9:
        return "not in the Latin script"
    if len(source) > 40 and output.strip().lower() == source.strip().lower():
        return "identical to the English source"
    return ""
