"""The digest's settings have one default each, in digest_site/settings.py, and the README's table says the same.

The batch size was 500 in settings, 200 in the README and 200 as a fallback in the code (issue 20): the code now
reads the setting without a default of its own, and the README's row is checked against settings.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from recommender.digest import planning, selectors, services

ROOT = Path(__file__).resolve().parents[2]

READERS = {
    "DIGEST_BATCH_SIZE": services.batch_size,
    "DIGEST_PLAN_CHUNK": planning.plan_chunk_size,
    "DIGEST_LEASE_SECONDS": selectors.lease_seconds,
    "DIGEST_BREAKER_FAILURES": services.breaker_limit,
}


@pytest.mark.parametrize("name", sorted(READERS))
def test_the_code_has_no_second_default(name, settings):
    """Without the setting the reader fails instead of quietly using a number of its own."""
    assert READERS[name]() == max(1, settings.PAPERBOY[name])
    settings.PAPERBOY = {k: v for k, v in settings.PAPERBOY.items() if k != name}
    with pytest.raises(KeyError):
        READERS[name]()


@pytest.mark.parametrize("name", sorted(READERS))
def test_the_readme_states_the_default_of_settings(name):
    source = (ROOT / "digest_site" / "settings.py").read_text()
    [default] = re.findall(rf'env\.int\("{name}", default=([0-9_]+)\)', source)
    readme = (ROOT / "README.md").read_text()
    [row] = [line for line in readme.splitlines() if line.startswith(f"| `{name}` |")]
    assert row.split("|")[2].strip() == f"`{int(default)}`"
