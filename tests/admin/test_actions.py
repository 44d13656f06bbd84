"""Operator actions: confirmation first, then the effect (mail sent, rows changed, task queued) and a log entry."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.models import LogEntry
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from recommender.interactions.services import interaction_record
from recommender.models import DeliveryStatus, DigestDelivery, Interaction, ModelStatus, ModelVersion, Paper, Profile
from tests.factories import delivered_ids, make_delivery, subscriber

from .conftest import queued_tasks

pytestmark = pytest.mark.django_db

PROFILES = "admin:recommender_profile_changelist"
DELIVERIES = "admin:recommender_digestdelivery_changelist"
VERSIONS = "admin:recommender_modelversion_changelist"


def run_action(client, changelist: str, action: str, pks, *, confirm: bool):
    data = {"action": action, ACTION_CHECKBOX_NAME: [str(pk) for pk in pks], "index": "0"}
    if confirm:
        data["post"] = "yes"
    return client.post(reverse(changelist), data)


def test_send_test_digest_asks_then_mails_the_operator(staff_client, operator, papers_today):
    ada = subscriber("ada@example.org")
    profile = Profile.objects.get(user=ada)
    page = run_action(staff_client, PROFILES, "send_test_digest", [profile.pk], confirm=False)
    assert page.status_code == 200 and b"Yes, send it to me" in page.content
    assert mail.outbox == []
    response = run_action(staff_client, PROFILES, "send_test_digest", [profile.pk], confirm=True)
    assert response.status_code == 302
    [message] = mail.outbox
    assert message.to == [operator.email]
    assert message.subject.startswith("[Test for ada@example.org]")
    assert papers_today[0].title in message.body
    # A test is not the subscriber's digest: nothing recorded as sent.
    assert not DigestDelivery.objects.filter(user=ada).exists()
    assert LogEntry.objects.filter(object_id=str(profile.pk), change_message__contains="test digest").exists()


def test_resend_today_sends_again_and_records(staff_client, papers_today):
    ada = subscriber("ada@example.org")
    profile = Profile.objects.get(user=ada)
    run_action(staff_client, PROFILES, "resend_today", [profile.pk], confirm=True)
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ada@example.org"]
    delivery = DigestDelivery.objects.get(user=ada)
    assert delivery.status == DeliveryStatus.SENT and delivered_ids(delivery)
    # Again: the same period's digest goes out a second time on request.
    page = run_action(staff_client, PROFILES, "resend_today", [profile.pk], confirm=False)
    assert page.status_code == 200 and len(mail.outbox) == 1
    run_action(staff_client, PROFILES, "resend_today", [profile.pk], confirm=True)
    assert len(mail.outbox) == 2
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT and delivery.attempts == 2
    assert LogEntry.objects.filter(change_message__startswith="Resend digest").count() == 2


def test_resend_many_goes_to_the_send_queue(
    staff_client, papers_today, redis_url, empty_queues, django_capture_on_commit_callbacks, monkeypatch
):
    from recommender.admin import subscribers as admin_subscribers

    monkeypatch.setattr(admin_subscribers, "SEND_INLINE_MAX", 1)
    users = [subscriber(f"r{i}@example.org") for i in range(3)]
    pks = list(Profile.objects.filter(user__in=users).values_list("pk", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        run_action(staff_client, PROFILES, "resend_today", pks, confirm=True)
    assert mail.outbox == []
    tasks = queued_tasks(redis_url, "send")
    assert [t["task"] for t in tasks] == ["recommender.digest.tasks.digest_send_batch"]
    assert sorted(tasks[0]["kwargs"]["user_ids"]) == sorted(u.pk for u in users)
    assert DigestDelivery.objects.filter(user__in=users, status=DeliveryStatus.PENDING).count() == 3


def test_reset_recommendations_forgets_interactions(staff_client, papers_today):
    ada = subscriber("ada@example.org")
    bob = subscriber("bob@example.org")
    for paper in papers_today[:3]:
        interaction_record(user=ada, paper=paper, kind="upvote")
    interaction_record(user=bob, paper=papers_today[0], kind="upvote")
    profile = Profile.objects.get(user=ada)
    page = run_action(staff_client, PROFILES, "reset_recommendations", [profile.pk], confirm=False)
    assert page.status_code == 200 and Interaction.objects.filter(user=ada).count() == 3
    run_action(staff_client, PROFILES, "reset_recommendations", [profile.pk], confirm=True)
    assert not Interaction.objects.filter(user=ada).exists()
    assert Interaction.objects.filter(user=bob).count() == 1
    assert Paper.objects.get(pk=papers_today[0].pk).local_upvotes == 1
    assert LogEntry.objects.filter(change_message__startswith="Reset recommendations").exists()


def test_deactivate_stops_digests(staff_client, papers_today):
    ada = subscriber("ada@example.org")
    profile = Profile.objects.get(user=ada)
    assert profile.next_digest_at is not None
    run_action(staff_client, PROFILES, "deactivate", [profile.pk], confirm=False)
    ada.refresh_from_db()
    assert ada.is_active
    run_action(staff_client, PROFILES, "deactivate", [profile.pk], confirm=True)
    ada.refresh_from_db()
    profile.refresh_from_db()
    assert not ada.is_active and profile.next_digest_at is None
    assert LogEntry.objects.filter(object_id=str(profile.pk), change_message="Deactivated").exists()


def test_preview_action_and_page(staff_client, papers_today):
    ada = subscriber("ada@example.org")
    profile = Profile.objects.get(user=ada)
    response = run_action(staff_client, PROFILES, "preview_digest", [profile.pk], confirm=False)
    url = reverse("admin:recommender_profile_digest_preview", args=[profile.pk])
    assert response.status_code == 302 and response["Location"] == url
    page = staff_client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'sandbox=""' in html and "srcdoc=" in html
    assert papers_today[0].title in html
    assert not DigestDelivery.objects.exists()


def test_preview_says_why_nothing_would_be_sent(staff_client, db):
    ada = subscriber("ada@example.org")
    page = staff_client.get(
        reverse("admin:recommender_profile_digest_preview", args=[Profile.objects.get(user=ada).pk])
    )
    assert page.status_code == 200 and b"No digest:" in page.content


def test_retry_failed_delivery_sends_it(staff_client, papers_today):
    ada = subscriber("ada@example.org")
    from recommender.digest.services import delivery_open_for_now

    delivery = delivery_open_for_now(user=ada, now=timezone.now())
    DigestDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED, error="permanent: 550 no")
    sent_ok = DigestDelivery.objects.create(user=subscriber("bob@example.org"), period_key="2026-01-01", status="sent")
    page = run_action(staff_client, DELIVERIES, "retry_failed", [delivery.pk, sent_ok.pk], confirm=False)
    assert page.status_code == 200 and b"Yes, send again" in page.content
    assert b"bob@example.org" not in page.content  # only failed ones are offered
    run_action(staff_client, DELIVERIES, "retry_failed", [delivery.pk, sent_ok.pk], confirm=True)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT and delivery.error == ""
    assert [m.to for m in mail.outbox] == [["ada@example.org"]]
    assert LogEntry.objects.filter(object_id=str(delivery.pk), change_message__contains="550 no").exists()


def test_delivery_email_view_shows_what_was_sent(staff_client, papers_today):
    ada = subscriber("ada@example.org")
    kept, dropped = papers_today[2], papers_today[3]
    delivery = make_delivery(
        ada,
        period_key="2026-11-20",
        status="sent",
        papers=[kept.pk, papers_today[0].pk, dropped.pk],
        reasons={str(kept.pk): "Because you liked <b>graphs</b>"},
    )
    dropped_title = dropped.title
    dropped.delete()  # its plan row goes with it
    response = staff_client.get(reverse("admin:recommender_digestdelivery_email", args=[delivery.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert kept.title in html and papers_today[0].title in html
    # The stored reason is shown, escaped twice (once by the email, once in srcdoc): never live markup.
    assert "<b>graphs</b>" not in html and "graphs" in html
    assert dropped_title not in html
    # The order is the stored one.
    assert html.index(kept.title) < html.index(papers_today[0].title)


def test_ingest_now_queues_the_task(staff_client, redis_url, empty_queues, django_capture_on_commit_callbacks):
    url = reverse("admin:recommender_ingestrun_ingest_now")
    page = staff_client.get(url)
    assert page.status_code == 200 and b"hf-daily" in page.content
    assert queued_tasks(redis_url, "ingest") == []
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(url, {"source": "hf-daily"})
    assert response.status_code == 302
    tasks = queued_tasks(redis_url, "ingest")
    assert tasks == [{"task": "recommender.ingest.tasks.ingest_source", "args": [], "kwargs": {"source": "hf-daily"}}]
    assert LogEntry.objects.filter(change_message="Ingest now: enqueued hf-daily").exists()
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(url, {"source": "evil"})
    assert len(queued_tasks(redis_url, "ingest")) == 1


def test_train_now_queues_the_task(staff_client, redis_url, empty_queues, django_capture_on_commit_callbacks):
    url = reverse("admin:recommender_modelversion_train_now")
    assert staff_client.get(url).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(url, {"activate": "never"})
    assert queued_tasks(redis_url, "train") == [
        {"task": "recommender.training.tasks.train_model", "args": [], "kwargs": {"activate": "never"}}
    ]
    assert LogEntry.objects.filter(change_message__startswith="Train now").exists()


def test_activate_rolls_back(staff_client):
    old = ModelVersion.objects.create(status=ModelStatus.READY, artifact=b"old", artifact_size=3)
    new = ModelVersion.objects.create(status=ModelStatus.READY, artifact=b"new", artifact_size=3, is_active=True)
    url = reverse("admin:recommender_modelversion_activate", args=[old.pk])
    page = staff_client.get(url)
    assert page.status_code == 200 and b"Yes, activate it" in page.content
    old.refresh_from_db()
    assert not old.is_active
    assert staff_client.post(url).status_code == 302
    old.refresh_from_db()
    new.refresh_from_db()
    assert old.is_active and not new.is_active
    assert LogEntry.objects.filter(object_id=str(old.pk), change_message__startswith="Activated").exists()
    # The same through the list action, forward again.
    run_action(staff_client, VERSIONS, "activate_selected", [new.pk], confirm=False)
    new.refresh_from_db()
    assert not new.is_active
    run_action(staff_client, VERSIONS, "activate_selected", [new.pk], confirm=True)
    new.refresh_from_db()
    assert new.is_active


def test_failed_version_cannot_be_activated(staff_client):
    failed = ModelVersion.objects.create(status=ModelStatus.FAILED, error="boom")
    staff_client.post(reverse("admin:recommender_modelversion_activate", args=[failed.pk]))
    failed.refresh_from_db()
    assert not failed.is_active


@pytest.mark.parametrize(
    ("changelist", "action"),
    [
        (PROFILES, "send_test_digest"),
        (PROFILES, "resend_today"),
        (PROFILES, "reset_recommendations"),
        (PROFILES, "deactivate"),
        (DELIVERIES, "retry_failed"),
        (VERSIONS, "activate_selected"),
    ],
)
def test_non_staff_cannot_run_actions(member_client, papers_today, changelist, action):
    ada = subscriber("ada@example.org")
    interaction_record(user=ada, paper=papers_today[0], kind="upvote")
    delivery = DigestDelivery.objects.create(user=ada, period_key="2026-11-20", status="failed")
    version = ModelVersion.objects.create(status=ModelStatus.READY, artifact=b"x", artifact_size=1)
    pk = {PROFILES: Profile.objects.get(user=ada).pk, DELIVERIES: delivery.pk, VERSIONS: version.pk}[changelist]
    response = run_action(member_client, changelist, action, [pk], confirm=True)
    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))
    ada.refresh_from_db()
    delivery.refresh_from_db()
    version.refresh_from_db()
    assert ada.is_active and Interaction.objects.filter(user=ada).count() == 1
    assert delivery.status == "failed" and not version.is_active
    assert mail.outbox == [] and not LogEntry.objects.exists()


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("admin:recommender_ingestrun_ingest_now", {"source": "arxiv-rss"}),
        ("admin:recommender_modelversion_train_now", {"activate": "always"}),
    ],
)
def test_non_staff_cannot_enqueue(
    member_client, redis_url, empty_queues, django_capture_on_commit_callbacks, name, data
):
    with django_capture_on_commit_callbacks(execute=True):
        response = member_client.post(reverse(name), data)
    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))
    assert queued_tasks(redis_url, "ingest") == [] and queued_tasks(redis_url, "train") == []


def test_deleting_an_upvote_in_the_admin_keeps_the_paper_count(staff_client, papers_today):
    ada = subscriber("ada@example.org")
    paper = papers_today[0]
    upvote = interaction_record(user=ada, paper=paper, kind="upvote")
    assert Paper.objects.get(pk=paper.pk).local_upvotes == 1
    url = reverse("admin:recommender_interaction_delete", args=[upvote.pk])
    assert staff_client.get(url).status_code == 200
    assert staff_client.post(url, {"post": "yes"}).status_code == 302
    assert not Interaction.objects.filter(pk=upvote.pk).exists()
    assert Paper.objects.get(pk=paper.pk).local_upvotes == 0
