"""The import contracts (pyproject ``[tool.importlinter]``) name every part of ``recommender``.

A package that no layer names is unconstrained, and one missing from the ranking contract's list may be imported
by ``ranking``: a new package must be placed (docs/architecture.md) before it is used.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOT_CODE = {"migrations", "fixtures", "__init__"}


def parts_of_recommender() -> set[str]:
    names = set()
    for path in (ROOT / "recommender").iterdir():
        if path.suffix == ".py" or (path.is_dir() and (path / "__init__.py").exists()):
            names.add(path.stem)
    return names - NOT_CODE


def contracts() -> dict[str, dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {c["type"]: c for c in config["contracts"]}


def test_every_package_has_a_layer():
    layered = {name for layer in contracts()["layers"]["layers"] for name in re.split(r"[|:]", layer)}
    assert parts_of_recommender() - {n.strip() for n in layered} == set()


def test_ranking_may_import_no_other_package():
    forbidden = {m.removeprefix("recommender.") for m in contracts()["forbidden"]["forbidden_modules"]}
    assert parts_of_recommender() - forbidden == {"ranking"}
    assert {"django", "celery", "digest_site"} <= forbidden
