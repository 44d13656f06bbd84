"""The project boots: settings, migrations, the outbox backend and the schedule defaults."""

import pytest
from django.core import mail
from django.core.management import call_command


@pytest.mark.django_db
def test_default_schedules_installed():
    from django_celery_beat.models import PeriodicTask

    names = set(PeriodicTask.objects.values_list("name", flat=True))
    assert {"Digest tick", "Train recommender", "Ingest arXiv RSS"} <= names


@pytest.mark.django_db
def test_no_missing_migrations():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_outbox_backend_writes_eml(tmp_path, settings):
    settings.EMAIL_BACKEND = "recommender.mail.outbox.OutboxBackend"
    settings.OUTBOX_DIR = tmp_path
    mail.send_mail("Hello", "Body", "a@example.org", ["b@example.org"])
    files = list(tmp_path.glob("*.eml"))
    assert len(files) == 1
    assert b"Subject: Hello" in files[0].read_bytes()
