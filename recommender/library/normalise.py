"""Titles and names reduced to comparable keys: case, accents, TeX braces and commands, punctuation.

Regular expressions only, each linear in the input (no recursion, no TeX
interpreter): a hostile title with thousands of nested braces costs what its
length costs. Both sides of a match (the catalogue's arXiv titles, which hold
TeX too, and the user's entries) go through the same function.
"""

from __future__ import annotations

import html
import re
import unicodedata

MAX_TITLE_CHARS = 1000  # longer "titles" are cut before normalising (no real title is this long)

# Letter commands that stand for letters (\ss, \o, \ae ...): replaced before any command is removed.
_LETTERS = {
    "ss": "ss",
    "o": "o",
    "O": "o",
    "ae": "ae",
    "AE": "ae",
    "oe": "oe",
    "OE": "oe",
    "aa": "a",
    "AA": "a",
    "l": "l",
    "L": "l",
    "i": "i",
    "j": "j",
}
_LETTER_RE = re.compile(r"\\(" + "|".join(sorted(_LETTERS, key=len, reverse=True)) + r")(?![A-Za-z])")
# Formatting and accent commands whose name is not text: \emph{X} -> X, \c{c} -> c, \'e -> e.
_DROP_RE = re.compile(
    r"\\(?:textnormal|textbf|textit|textsc|texttt|textrm|textsf|textup|textmd|text|emph|operatorname|boldsymbol|"
    r"mathrm|mathbf|mathit|mathcal|mathbb|mathsf|mathtt|mathfrak|ensuremath|noopener|protect|relax|mbox|hbox|"
    r"href|url|bm|bf|it|em|rm|sc|tt|sf|sl|c|v|u|H|k|r|d|b|t)(?![A-Za-z])\*?"
)
_ACCENT_RE = re.compile(r"\\[^A-Za-z\s]")  # \' \" \^ \` \~ \= \. \& \% ...
_COMMAND_RE = re.compile(r"\\([A-Za-z]+)")  # anything else: keep its name (\alpha -> alpha, \LaTeX -> latex)
_TEX_ESCAPE_RE = re.compile(r"\\([&%#$_])")
_TAG_RE = re.compile(r"</?[A-Za-z][^<>]{0,40}>")  # <i>, </sub>: web pages leak markup into titles
_NON_WORD_RE = re.compile(r"[\W_]+", re.UNICODE)
_GREEK = {
    "α": "alpha",
    "β": "beta",
    "γ": "gamma",
    "δ": "delta",
    "ε": "epsilon",
    "θ": "theta",
    "λ": "lambda",
    "μ": "mu",
    "π": "pi",
    "σ": "sigma",
    "τ": "tau",
    "φ": "phi",
    "χ": "chi",
    "ψ": "psi",
    "ω": "omega",
}


def strip_tex(text: str) -> str:
    """TeX markup out, text kept: ``Deep {L}earning for \\"Uber $\\alpha$`` -> ``Deep Learning for Uber alpha``."""
    text = _LETTER_RE.sub(lambda m: _LETTERS[m.group(1)], text)
    text = _DROP_RE.sub(" ", text)
    text = _ACCENT_RE.sub("", text)
    text = _COMMAND_RE.sub(r" \1 ", text)
    return text.replace("{", "").replace("}", "").replace("$", " ").replace("~", " ")


def fold(text: str) -> str:
    """Lower case without accents: ``Ünïcödé`` -> ``unicode`` (NFKD, combining marks dropped)."""
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(_GREEK.get(ch, ch) for ch in text if not unicodedata.combining(ch))
    return text


def title_key(title: str) -> str:
    """The comparable form of a title: TeX and HTML (entities, tags) stripped, folded, punctuation to spaces."""
    text = _TEX_ESCAPE_RE.sub(r"\1", (title or "")[:MAX_TITLE_CHARS])  # \& -> &, so &#8211; is an entity again
    text = strip_tex(_TAG_RE.sub(" ", html.unescape(text)))
    return " ".join(_NON_WORD_RE.sub(" ", fold(text)).split())


def surname(name: str) -> str:
    """A person's family name, folded: ``Doe, Jane`` and ``Jane Doe`` -> ``doe``; ``{van der Berg}, A`` -> ``berg``."""
    name = strip_tex(name or "")
    family = name.split(",", 1)[0] if "," in name else (name.split() or [""])[-1]
    words = _NON_WORD_RE.sub(" ", fold(family)).split()
    return words[-1] if words else ""


def split_authors(value: str) -> list[str]:
    """BibTeX ``author`` field to names: ``A and B and {C and D Inc.}`` (braced ``and`` kept together)."""
    names, depth, start, i = [], 0, 0, 0
    text = " ".join((value or "").split())
    while i < len(text):
        ch = text[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth = max(depth - 1, 0)
        elif depth == 0 and text[i : i + 5].lower() == " and ":
            names.append(text[start:i])
            start = i + 5
            i += 4
        i += 1
    names.append(text[start:])
    return [" ".join(n.split()) for n in names if n.strip()]
