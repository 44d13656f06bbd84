"""The migration that removes DigestDelivery's JSON lists: a delivery that has only the lists gets its plan rows.

Such deliveries are messages handed over after 0009 by a worker of the release before it (it wrote the lists at
the hand-over, never rows). The data step is called directly on the schema before the migration, then the real
migration runs forwards (the columns go) and backwards (they come back, filled from the rows).
"""

from __future__ import annotations

import importlib

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone

from tests.migrations import migrate_to

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("back_to_the_latest_schema")]

SUFFIX = "_delivery_lists_removed"


def _migration():
    """The migration itself, found by name whatever its number."""
    loader = MigrationLoader(connection)
    [key] = [k for k in loader.disk_migrations if k[0] == "recommender" and k[1].endswith(SUFFIX)]
    return loader.disk_migrations[key]


def _rows(DeliveredPaper, delivery) -> list[tuple]:
    return list(
        DeliveredPaper.objects.filter(delivery_id=delivery.id)
        .order_by("section", "rank")
        .values_list("section", "rank", "paper_id", "reason", "user_id")
    )


def _columns() -> set[str]:
    with connection.cursor() as cursor:
        return {c.name for c in connection.introspection.get_table_description(cursor, "recommender_digestdelivery")}


def test_json_only_deliveries_get_their_rows_then_the_lists_go_and_come_back():
    migration = _migration()
    step = importlib.import_module(migration.__module__).lists_to_rows
    before = [dep for dep in migration.dependencies if dep[0] == "recommender"]
    apps = migrate_to(before)
    User = apps.get_model("auth", "User")
    Paper = apps.get_model("recommender", "Paper")
    DigestDelivery = apps.get_model("recommender", "DigestDelivery")
    DeliveredPaper = apps.get_model("recommender", "DeliveredPaper")
    user = User.objects.create(username="legacy", email="legacy@example.org")
    a, b, c, d, e = (Paper.objects.create(arxiv_id=f"2601.{i:05d}", title=f"P{i}").id for i in range(5))

    # Handed over by the old release: lists and a Message-ID, no rows.
    sent = DigestDelivery.objects.create(
        user=user,
        period_key="2026-11-20",
        status="sent",
        message_id="<1@x>",
        papers=[c, a, b, 999999],  # a paper deleted since: left out
        trending=[d, a],  # a paper listed twice: kept once, in its first section
        reasons={str(c): "because X", str(a): "because Y"},
    )
    in_doubt = DigestDelivery.objects.create(
        user=user, period_key="2026-11-21", status="failed", error="in-doubt: no reply", message_id="<2@x>", papers=[e]
    )
    # Planned by the new release: its rows are the record; its lists (the hand-over's copy) are not carried twice.
    planned = DigestDelivery.objects.create(
        user=user, period_key="2026-11-22", status="sent", message_id="<3@x>", papers=[a], planned_at=timezone.now()
    )
    DeliveredPaper.objects.create(delivery=planned, user=user, paper_id=a, section="papers", rank=1)
    # Reopened by an operator: Message-ID and rows gone, stale lists left; the planner ranks it again.
    reopened = DigestDelivery.objects.create(user=user, period_key="2026-11-23", status="pending", papers=[b])

    with connection.schema_editor() as editor:
        step(apps, editor)
        step(apps, editor)  # twice: nothing more
    assert _rows(DeliveredPaper, sent) == [
        ("papers", 1, c, "because X", user.id),
        ("papers", 2, a, "because Y", user.id),
        ("papers", 3, b, "", user.id),
        ("trending", 1, d, "", user.id),
    ]
    assert _rows(DeliveredPaper, in_doubt) == [("papers", 1, e, "", user.id)]
    assert _rows(DeliveredPaper, planned) == [("papers", 1, a, "", user.id)]
    assert _rows(DeliveredPaper, reopened) == []
    assert DigestDelivery.objects.get(id=sent.id).planned_at is not None
    assert DigestDelivery.objects.get(id=reopened.id).planned_at is None

    # The real migration: one more legacy delivery carried over by it, then the columns are gone.
    late = DigestDelivery.objects.create(
        user=user, period_key="2026-11-24", status="sent", message_id="<4@x>", trending=[e, c]
    )
    apps = migrate_to([("recommender", migration.name)])
    assert not {"papers", "trending", "reasons"} & _columns()
    DeliveredPaper = apps.get_model("recommender", "DeliveredPaper")
    assert _rows(DeliveredPaper, late) == [("trending", 1, e, "", user.id), ("trending", 2, c, "", user.id)]

    # Backwards: the lists again, from the rows.
    DigestDelivery = migrate_to(before).get_model("recommender", "DigestDelivery")
    restored = DigestDelivery.objects.get(id=sent.id)
    assert (restored.papers, restored.trending, restored.reasons) == (
        [c, a, b],
        [d],
        {str(c): "because X", str(a): "because Y"},
    )
    assert DigestDelivery.objects.get(id=reopened.id).papers == []
