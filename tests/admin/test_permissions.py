"""Who may do what: custom admin pages refuse non-staff; staff who may only look cannot operate."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core import mail
from django.urls import reverse

from recommender.interactions.services import interaction_record
from recommender.models import Interaction, ModelStatus, ModelVersion, Profile
from tests.factories import make_delivery, subscriber

from .conftest import queued_tasks

pytestmark = pytest.mark.django_db


@pytest.fixture
def objects(papers_today):
    ada = subscriber("ada@example.org")
    interaction_record(user=ada, paper=papers_today[0], kind="upvote")
    return {
        "profile": Profile.objects.get(user=ada),
        "delivery": make_delivery(ada, period_key="2026-11-20", status="failed", papers=[papers_today[0].pk]),
        "version": ModelVersion.objects.create(status=ModelStatus.READY, artifact=b"x", artifact_size=1),
    }


def custom_urls(objects) -> list[str]:
    return [
        reverse("admin:recommender_profile_digest_preview", args=[objects["profile"].pk]),
        reverse("admin:recommender_digestdelivery_email", args=[objects["delivery"].pk]),
        reverse("admin:recommender_modelversion_activate", args=[objects["version"].pk]),
        reverse("admin:recommender_modelversion_train_now"),
        reverse("admin:recommender_ingestrun_ingest_now"),
    ]


def test_custom_pages_refuse_non_staff(member_client, objects):
    for url in custom_urls(objects):
        for method in (member_client.get, member_client.post):
            response = method(url)
            assert response.status_code == 302, url
            assert response["Location"].startswith(reverse("admin:login"))
    objects["version"].refresh_from_db()
    assert not objects["version"].is_active


def test_custom_pages_answer_staff(staff_client, objects):
    for url in custom_urls(objects):
        assert staff_client.get(url).status_code == 200, url


@pytest.fixture
def viewer_client(client, db):
    """Staff with view permissions only: may look at everything, may not operate."""
    User = get_user_model()
    viewer = User.objects.create_user(username="viewer", email="viewer@lab.example", password="v-pass-12345678")
    viewer.is_staff = True
    viewer.save()
    viewer.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    client.force_login(viewer)
    return client


def test_view_only_staff_cannot_operate(
    viewer_client, objects, redis_url, empty_queues, django_capture_on_commit_callbacks
):
    profile, delivery, version = objects["profile"], objects["delivery"], objects["version"]
    assert viewer_client.get(reverse("admin:recommender_profile_changelist")).status_code == 200
    # Viewing subscribers is not reading their digests: that needs recommender.preview_digest.
    assert viewer_client.get(reverse("admin:recommender_profile_digest_preview", args=[profile.pk])).status_code == 403
    changelist = viewer_client.get(reverse("admin:recommender_profile_changelist")).content.decode()
    assert "reset_recommendations" not in changelist and "send_test_digest" not in changelist
    for name, pk, action in [
        ("admin:recommender_profile_changelist", profile.pk, "reset_recommendations"),
        ("admin:recommender_profile_changelist", profile.pk, "send_test_digest"),
        ("admin:recommender_digestdelivery_changelist", delivery.pk, "retry_failed"),
        ("admin:recommender_modelversion_changelist", version.pk, "activate_selected"),
    ]:
        viewer_client.post(reverse(name), {"action": action, ACTION_CHECKBOX_NAME: [pk], "post": "yes", "index": "0"})
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            viewer_client.post(reverse("admin:recommender_ingestrun_ingest_now"), {"source": "hf-daily"}).status_code
            == 403
        )
        assert (
            viewer_client.post(reverse("admin:recommender_modelversion_train_now"), {"activate": "always"}).status_code
            == 403
        )
        assert (
            viewer_client.post(reverse("admin:recommender_modelversion_activate", args=[version.pk])).status_code == 403
        )
    delivery.refresh_from_db()
    version.refresh_from_db()
    assert Interaction.objects.filter(user=profile.user).count() == 1
    assert delivery.status == "failed" and not version.is_active
    assert mail.outbox == [] and not LogEntry.objects.exists()
    assert queued_tasks(redis_url, "ingest") == [] and queued_tasks(redis_url, "train") == []


def test_staff_adds_a_user_who_gets_one_profile(staff_client):
    response = staff_client.post(
        reverse("admin:auth_user_add"),
        {
            "username": "newcomer",
            "password1": "a-Strong-pass-991",
            "password2": "a-Strong-pass-991",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    user = get_user_model().objects.get(username="newcomer")
    assert Profile.objects.filter(user=user).count() == 1
