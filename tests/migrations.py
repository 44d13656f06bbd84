"""Move the test database along the migration graph (the migration tests), and back to the latest schema.

A migration test migrates backwards to test a data migration; the ``back_to_the_latest_schema`` fixture
(tests/conftest.py) brings the database forward again afterwards, since later tests need every column.
"""

from __future__ import annotations

from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def executor() -> MigrationExecutor:
    """A migration executor on the test database, its graph freshly read from disk."""
    found = MigrationExecutor(connection)
    found.loader.build_graph()
    return found


def migrate_to(targets: list[tuple[str, str]]):
    """Migrate to ``targets`` ([(app, migration name)]); return the historical apps at that state."""
    runner = executor()
    runner.migrate(targets)
    return runner.loader.project_state(targets).apps


def latest() -> list[tuple[str, str]]:
    """The leaf migration of every app: the current schema."""
    return executor().loader.graph.leaf_nodes()
