"""Migration 0009: every delivery's JSON lists become plan rows, in order, with their reasons."""

from __future__ import annotations

import pytest

from tests.migrations import migrate_to

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("back_to_the_latest_schema")]

BEFORE = [("recommender", "0008_library_import")]
AFTER = [("recommender", "0009_delivered_paper")]


@pytest.mark.slow
def test_json_lists_carried_over_in_order():
    apps = migrate_to(BEFORE)
    User = apps.get_model("auth", "User")
    Paper = apps.get_model("recommender", "Paper")
    DigestDelivery = apps.get_model("recommender", "DigestDelivery")
    user = User.objects.create(username="migrated", email="m@example.org")
    papers = [Paper.objects.create(arxiv_id=f"2601.{i:05d}", title=f"P{i}") for i in range(5)]
    a, b, c, d, e = (p.id for p in papers)
    sent = DigestDelivery.objects.create(
        user=user,
        period_key="2026-11-20",
        status="sent",
        papers=[c, a, b],
        trending=[d, a],  # a paper listed twice: kept once, in its first section
        reasons={str(c): "because X", str(a): "because Y"},
    )
    pending = DigestDelivery.objects.create(user=user, period_key="2026-11-21", status="pending")
    gone = DigestDelivery.objects.create(user=user, period_key="2026-11-19", status="sent", papers=[e, 999999])

    apps = migrate_to(AFTER)
    DeliveredPaper = apps.get_model("recommender", "DeliveredPaper")
    DigestDelivery = apps.get_model("recommender", "DigestDelivery")
    rows = list(
        DeliveredPaper.objects.filter(delivery_id=sent.id)
        .order_by("section", "rank")
        .values_list("section", "rank", "paper_id", "reason", "user_id")
    )
    assert rows == [
        ("papers", 1, c, "because X", user.id),
        ("papers", 2, a, "because Y", user.id),
        ("papers", 3, b, "", user.id),
        ("trending", 1, d, "", user.id),
    ]
    assert list(DeliveredPaper.objects.filter(delivery_id=gone.id).values_list("paper_id", flat=True)) == [e]
    assert DigestDelivery.objects.get(id=sent.id).planned_at is not None
    assert DigestDelivery.objects.get(id=pending.id).planned_at is None

    apps = migrate_to(BEFORE)
    restored = apps.get_model("recommender", "DigestDelivery").objects.get(id=sent.id)
    assert restored.papers == [c, a, b] and restored.trending == [d]
