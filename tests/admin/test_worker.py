"""End to end: a button in the admin, a real Celery worker on real Redis, the result in the database."""

from __future__ import annotations

import pytest
from django.urls import reverse

from recommender.models import ModelStatus, ModelVersion
from tests.conftest import wait_until


@pytest.mark.slow
def test_train_now_runs_on_a_worker(celery_worker, client, transactional_db):
    from django.contrib.auth import get_user_model

    operator = get_user_model().objects.create_superuser(username="op", email="op@lab.example", password=None)
    client.force_login(operator)
    response = client.post(reverse("admin:recommender_modelversion_train_now"), {"activate": "if_not_worse"})
    assert response.status_code == 302
    wait_until(lambda: ModelVersion.objects.exclude(status=ModelStatus.TRAINING).exists(), what="the training to end")
    # Nothing to learn from yet: the worker recorded a failed version and the admin shows why.
    version = ModelVersion.objects.get()
    assert version.status == ModelStatus.FAILED and "no interactions" in version.error
    page = client.get(reverse("admin:recommender_modelversion_change", args=[version.pk]))
    assert b"no interactions to learn from yet" in page.content
