"""Every environment variable that ``digest_site/settings.py`` reads has its row in the README's Configuration table."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# env("X", ...), env.bool("X", ...), env.int(\n    "X", ...), env.db("X"), ...: the first argument names the variable.
ENV_CALL = re.compile(r"\benv(?:\.\w+)?\(\s*[\"']([A-Z][A-Z0-9_]*)[\"']")


def settings_variables() -> set[str]:
    return set(ENV_CALL.findall((ROOT / "digest_site" / "settings.py").read_text()))


def readme_variables() -> set[str]:
    """The back-quoted names in the first column of the table under ``## Configuration``."""
    section = (ROOT / "README.md").read_text().split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("|") and not line.startswith("| ---"):
            names |= set(re.findall(r"`([A-Z][A-Z0-9_]*)`", line.split("|")[1]))
    return names


def test_the_parser_finds_the_settings():
    found = settings_variables()
    assert {"SECRET_KEY", "DEBUG", "DATABASE_URL", "EMAIL_URL", "DIGEST_BATCH_SIZE"} <= found


def test_every_environment_variable_is_in_the_readme_table():
    missing = sorted(settings_variables() - readme_variables())
    assert not missing, f"add a README Configuration row for {missing}"
