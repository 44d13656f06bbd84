"""Plan rows without database constraints on ``user`` and ``topic`` (migration 0018) still follow deletions.

``DeliveredPaper.user`` copies ``delivery.user`` and ``topic`` is informational, so the plan phase does
not pay a foreign-key check for them on each of its ~1.3M rows a morning; Django's collector still
cascades a deleted user and sets a deleted topic to NULL, on every database.
"""

from __future__ import annotations

import pytest

from recommender.models import DeliveredPaper, DigestDelivery
from recommender.subscriptions.topics import topic_create, topic_delete
from tests.factories import make_delivery, make_paper, subscriber

pytestmark = pytest.mark.django_db


def test_deleting_a_topic_keeps_its_plan_rows_without_it_and_deleting_the_user_removes_them():
    user = subscriber("rows@example.org")
    other = subscriber("other@example.org")
    topic = topic_create(user=user, name="RL theory")
    a, b = make_paper(), make_paper()
    delivery = make_delivery(user, period_key="2026-12-01", papers=[a.pk, b.pk])
    kept = make_delivery(other, period_key="2026-12-01", papers=[a.pk])
    DeliveredPaper.objects.filter(delivery=delivery, paper=a).update(topic=topic)

    topic_delete(topic=topic)
    assert list(DeliveredPaper.objects.filter(delivery=delivery).values_list("topic_id", flat=True)) == [None, None]

    user.delete()
    assert not DigestDelivery.objects.filter(pk=delivery.pk).exists()
    assert not DeliveredPaper.objects.filter(user_id=user.pk).exists()
    assert DeliveredPaper.objects.filter(delivery=kept).count() == 1
