"""Every admin page answers staff and refuses everyone else; secrets never reach the page."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from recommender.models import IngestRun, Interaction, ModelStatus, ModelVersion, Profile
from recommender.subscriptions.topics import topic_default
from tests.factories import make_delivery, make_paper, subscriber

pytestmark = pytest.mark.django_db

CHANGELISTS = [
    "admin:index",
    "admin:recommender_paper_changelist",
    "admin:recommender_profile_changelist",
    "admin:auth_user_changelist",
    "admin:recommender_interaction_changelist",
    "admin:recommender_digestdelivery_changelist",
    "admin:recommender_ingestrun_changelist",
    "admin:recommender_modelversion_changelist",
    "admin:django_celery_beat_periodictask_changelist",
    "admin:django_celery_beat_crontabschedule_changelist",
    "admin-dashboard",
    "admin:recommender_ingestrun_ingest_now",
    "admin:recommender_modelversion_train_now",
]


@pytest.fixture
def rows(papers_today):
    from recommender.interactions.services import interaction_record

    user = subscriber("ada@example.org")
    paper = papers_today[0]
    interaction = interaction_record(user=user, paper=paper, kind="upvote")
    delivery = make_delivery(user, period_key="2026-11-22", status="sent", papers=[paper.pk])
    run = IngestRun.objects.create(source="arxiv-rss", entries=3, created=2)
    version = ModelVersion.objects.create(
        status=ModelStatus.READY, artifact=b"SECRET-ARTIFACT-BYTES", artifact_size=21, metrics={"ndcg@10": 0.25}
    )
    return {
        "paper": paper,
        "profile": Profile.objects.get(user=user),
        "user": user,
        "interaction": interaction,
        "delivery": delivery,
        "run": run,
        "version": version,
    }


@pytest.mark.parametrize("name", CHANGELISTS)
def test_staff_sees_every_list(staff_client, rows, name):
    response = staff_client.get(reverse(name))
    assert response.status_code == 200, name


@pytest.mark.parametrize("name", CHANGELISTS)
def test_non_staff_is_sent_to_login(member_client, name):
    response = member_client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_anonymous_is_sent_to_login(client, db):
    response = client.get(reverse("admin-dashboard"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))


CHANGE_VIEWS = [
    ("admin:recommender_paper_change", "paper"),
    ("admin:recommender_profile_change", "profile"),
    ("admin:auth_user_change", "user"),
    ("admin:recommender_interaction_change", "interaction"),
    ("admin:recommender_digestdelivery_change", "delivery"),
    ("admin:recommender_ingestrun_change", "run"),
    ("admin:recommender_modelversion_change", "version"),
]


@pytest.mark.parametrize(("name", "key"), CHANGE_VIEWS)
def test_staff_sees_every_change_page(staff_client, rows, name, key):
    response = staff_client.get(reverse(name, args=[rows[key].pk]))
    assert response.status_code == 200


@pytest.mark.parametrize(("name", "key"), CHANGE_VIEWS)
def test_non_staff_cannot_open_change_pages(member_client, rows, name, key):
    response = member_client.get(reverse(name, args=[rows[key].pk]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_no_password_hash_or_feed_token_on_user_and_subscriber_pages(staff_client, rows):
    user = rows["user"]
    user.set_password("a-real-password-123")
    user.save()
    token = rows["profile"].feed_token
    for url in (
        reverse("admin:auth_user_change", args=[user.pk]),
        reverse("admin:recommender_profile_change", args=[rows["profile"].pk]),
        reverse("admin:recommender_profile_changelist"),
        reverse("admin:auth_user_changelist"),
    ):
        html = staff_client.get(url).content.decode()
        assert user.password not in html
        assert "md5$" not in html and "pbkdf2" not in html and "argon2" not in html
        assert token not in html
    html = staff_client.get(reverse("admin:auth_user_change", args=[user.pk])).content.decode()
    assert "password set" in html
    User = get_user_model()
    subscriber = User.objects.get(pk=rows["user"].pk)
    subscriber.set_unusable_password()
    subscriber.save()
    html = staff_client.get(reverse("admin:auth_user_change", args=[user.pk])).content.decode()
    assert "unusable" in html


def test_model_artifact_is_never_shown(staff_client, rows):
    version = rows["version"]
    for url in (
        reverse("admin:recommender_modelversion_change", args=[version.pk]),
        reverse("admin:recommender_modelversion_changelist"),
    ):
        html = staff_client.get(url).content.decode()
        assert "SECRET-ARTIFACT-BYTES" not in html
        assert "21" in html and "bytes" in html  # artifact_size, human-readable


def test_user_edit_keeps_password(staff_client, rows):
    user = rows["user"]
    user.set_password("keep-me-please-77")
    user.save()
    url = reverse("admin:auth_user_change", args=[user.pk])
    topic = topic_default(user=user)
    response = staff_client.post(
        url,
        {
            "username": user.username,
            "email": "renamed@example.org",
            "is_active": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "10:00:00",
            "profile-TOTAL_FORMS": "1",
            "profile-INITIAL_FORMS": "1",
            "profile-MIN_NUM_FORMS": "0",
            "profile-MAX_NUM_FORMS": "1",
            "profile-0-id": rows["profile"].pk,
            "profile-0-user": user.pk,
            "profile-0-frequency": "weekly",
            "profile-0-weekday": "2",
            "profile-0-send_time": "07:30",
            "profile-0-time_zone": "Europe/Paris",
            "profile-0-papers_per_email": "8",
            "profile-0-language": "en",
            "profile-0-suppression": "",
            "profile-0-suppression_reason": "",
            # The subscriber's topics, inline on the user page (the default one, its filters corrected).
            "topics-TOTAL_FORMS": "1",
            "topics-INITIAL_FORMS": "1",
            "topics-MIN_NUM_FORMS": "0",
            "topics-MAX_NUM_FORMS": "1000",
            "topics-0-id": topic.pk,
            "topics-0-user": user.pk,
            "topics-0-name": "General",
            "topics-0-position": "0",
            "topics-0-categories": '["cs.CL"]',
            "topics-0-include_keywords": '["retrieval"]',
            "topics-0-exclude_keywords": "[]",
            "topics-0-include_authors": "[]",
            "topics-0-exclude_authors": "[]",
            "topics-0-trending_weight": "0.25",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    user.refresh_from_db()
    assert user.email == "renamed@example.org"
    assert user.check_password("keep-me-please-77")
    assert Profile.objects.get(user=user).frequency == "weekly"
    topic.refresh_from_db()
    assert (topic.categories, topic.include_keywords, topic.trending_weight) == (["cs.CL"], ["retrieval"], 0.25)


def test_interaction_list_per_user_link(staff_client, rows):
    other = make_paper(category="cs.CL")
    from recommender.interactions.services import interaction_record

    bob = subscriber("bob@example.org")
    interaction_record(user=bob, paper=other, kind="thumbs_up", source="email")
    url = reverse("admin:recommender_interaction_changelist") + f"?user__id__exact={rows['user'].pk}"
    response = staff_client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert rows["paper"].arxiv_id in html and other.arxiv_id not in html
    response = staff_client.get(reverse("admin:recommender_interaction_changelist") + "?source__exact=email")
    assert other.arxiv_id in response.content.decode() and rows["paper"].arxiv_id not in response.content.decode()
    assert Interaction.objects.count() == 2
