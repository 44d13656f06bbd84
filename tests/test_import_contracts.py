"""The import contracts (pyproject ``[tool.importlinter]``) name every part of ``recommender``.

A package that no layer names is unconstrained, and one missing from the ranking contract's list may be imported
by ``ranking``: a new package must be placed (docs/architecture.md) before it is used.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOT_CODE = {"migrations", "fixtures", "__init__"}
OWN = ("recommender", "digest_site")


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


def own_imports_behind_import_error(source: str) -> list[int]:
    """Return the lines of ``try`` blocks that import the project's own modules and catch ``ImportError``."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Try):
            continue
        caught = {ast.unparse(h.type) for h in node.handlers if h.type is not None}
        if not any("ImportError" in c or "ModuleNotFoundError" in c for c in caught):
            continue
        for inner in node.body:
            for imp in ast.walk(inner):
                own = isinstance(imp, ast.ImportFrom) and (imp.level > 0 or (imp.module or "").startswith(OWN))
                own = own or isinstance(imp, ast.Import) and any(a.name.startswith(OWN) for a in imp.names)
                if own:
                    lines.append(node.lineno)
    return lines


def test_no_own_module_is_optional():
    """A missing module of ours is a bug, not a mode (docs/architecture.md): no ``try/except ImportError`` around it."""
    found = {}
    for package in ("recommender", "digest_site"):
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts and (lines := own_imports_behind_import_error(path.read_text())):
                found[str(path.relative_to(ROOT))] = lines
    assert found == {}
