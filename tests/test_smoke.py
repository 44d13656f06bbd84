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


def _manage(*args, env_extra):
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    # Only the environment a deployment would have (tests may set e.g. DJANGO_ALLOW_ASYNC_UNSAFE).
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=repo, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
def test_check_deploy_passes_with_production_settings():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env_extra={
            "DEBUG": "0",
            "SECRET_KEY": "x" * 20 + "-production-secret-key-for-the-test-0123456789",
            "ALLOWED_HOSTS": "paperboy.example.org",
            "SITE_URL": "https://paperboy.example.org",
            "SENDER_POSTAL_ADDRESS": "Paperboy Ltd, 12 Quay Street, Manchester M3 3HN, United Kingdom",
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.slow
def test_check_deploy_refuses_the_placeholder_postal_address():
    """Every digest footer prints the sender's postal address: a deployment must not ship the placeholder."""
    env = {
        "DEBUG": "0",
        "SECRET_KEY": "x" * 20 + "-production-secret-key-for-the-test-0123456789",
        "ALLOWED_HOSTS": "paperboy.example.org",
        "SITE_URL": "https://paperboy.example.org",
    }
    for address in (None, "", "Paperboy, 1 Example Street, Nowhere", "..."):
        extra = env if address is None else {**env, "SENDER_POSTAL_ADDRESS": address}
        result = _manage("check", "--deploy", env_extra=extra)
        assert result.returncode != 0, (address, result.stdout + result.stderr)
        assert "paperboy.E001" in result.stderr and "SENDER_POSTAL_ADDRESS" in result.stderr


def test_production_refuses_to_start_without_secret_key():
    result = _manage("check", env_extra={"DEBUG": "0"})
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


@pytest.mark.django_db
def test_the_sites_row_follows_site_url_after_migrate():
    """allauth builds links from the Sites row outside a request: it must never say example.com."""
    from urllib.parse import urlsplit

    from django.conf import settings
    from django.contrib.sites.models import Site

    site = Site.objects.get(pk=settings.SITE_ID)
    assert site.domain == urlsplit(settings.SITE_URL).netloc and site.name == "Paperboy"
