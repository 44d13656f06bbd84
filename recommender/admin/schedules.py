"""Schedules: django-celery-beat's periodic tasks (ingest, train, digest tick) in the admin.

django-celery-beat registers its own admin ("Periodic tasks" with crontab
and interval schedules); operators change times or disable a schedule
there, and beat picks the change up without a restart. This module only
makes sure those pages are registered even if the app's admin module was
not autodiscovered, and lists the task names operators will see.
"""

from __future__ import annotations

from django.contrib import admin

from ..schedules import DEFAULT_SCHEDULES, TASK_DIGEST_TICK, TASK_INGEST, TASK_TRAIN

SCHEDULED_TASKS = (TASK_INGEST, TASK_TRAIN, TASK_DIGEST_TICK)


def ensure_registered() -> None:
    from django_celery_beat.models import PeriodicTask

    if not admin.site.is_registered(PeriodicTask):
        from django_celery_beat import admin as beat_admin  # noqa: F401 - registers PeriodicTask and schedules


def default_schedule_names() -> list[str]:
    return [spec["name"] for spec in DEFAULT_SCHEDULES]


ensure_registered()
