"""The digest languages we offer, and what we know about each (names, script, labels).

One fixed list, used by the preferences form, the translation fill and the
digest. English is the original; every other language is a *second*
language: its title and TL;DR come first, the English original below.
Labels shown next to translated text are written here by hand (never by a
model), so the email only ever claims what is true: "machine translation".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ORIGINAL = "en"


@dataclass(frozen=True)
class Language:
    code: str
    english_name: str
    native_name: str
    # A regex matching letters of the language's script; output with too few is not a translation.
    script: str
    # "machine translation" in the language itself, shown above translated text.
    machine_label: str
    cjk: bool = False


_LATIN = r"[A-Za-zÀ-ÖØ-öø-ÿĀ-ž]"
_HAN = r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"

LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in (
        Language("en", "English", "English", _LATIN, ""),
        Language("zh", "Chinese (Simplified)", "中文", _HAN, "机器翻译", cjk=True),
        Language("es", "Spanish", "Español", _LATIN, "traducción automática"),
        Language("fr", "French", "Français", _LATIN, "traduction automatique"),
        Language("de", "German", "Deutsch", _LATIN, "maschinelle Übersetzung"),
        Language("ja", "Japanese", "日本語", r"[\u3040-\u30ff\u4e00-\u9fff]", "機械翻訳", cjk=True),
        Language("ko", "Korean", "한국어", r"[\uac00-\ud7af\u1100-\u11ff]", "기계 번역", cjk=True),
        Language("pt", "Portuguese", "Português", _LATIN, "tradução automática"),
        Language("ru", "Russian", "Русский", r"[\u0400-\u04ff]", "машинный перевод"),
        Language("it", "Italian", "Italiano", _LATIN, "traduzione automatica"),
    )
}
SUPPORTED = tuple(LANGUAGES)

# Fonts that cover Chinese, Japanese and Korean on every common platform, after the Latin ones.
CJK_FONT_STACK = (
    '-apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, Helvetica, Arial, "PingFang SC", '
    '"Hiragino Sans", "Hiragino Sans GB", "Microsoft YaHei", "Yu Gothic", "Malgun Gothic", '
    '"Apple SD Gothic Neo", "Noto Sans CJK SC", "Noto Sans SC", "Noto Sans JP", "Noto Sans KR", sans-serif'
)


def choices() -> list[tuple[str, str]]:
    """Form choices: English alone, or English plus one second language."""
    return [
        (code, "English only" if code == ORIGINAL else f"English + {lang.english_name} ({lang.native_name})")
        for code, lang in LANGUAGES.items()
    ]


def normalise(code: str | None) -> str:
    """A supported code for ``code`` ("zh-Hans" -> "zh", unknown -> "en")."""
    base = re.split(r"[-_]", (code or "").strip().lower(), maxsplit=1)[0]
    return base if base in LANGUAGES else ORIGINAL


def get(code: str) -> Language:
    return LANGUAGES[normalise(code)]


def script_share(text: str, code: str) -> float:
    """Share of ``text``'s letters written in ``code``'s script (0..1; 0 for text without letters)."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    pattern = re.compile(get(code).script)
    return sum(1 for c in letters if pattern.match(c)) / len(letters)
