"""Default periodic tasks, installed once into django-celery-beat's tables.

Operators edit them afterwards in the admin (Periodic tasks); we only create
missing ones and never overwrite an edited schedule.
"""

from __future__ import annotations

import json

# Task names are stable strings so that schedules survive refactoring.
TASK_INGEST = "recommender.ingest.tasks.ingest_source"
TASK_TRAIN = "recommender.training.tasks.train_model"
TASK_DIGEST_TICK = "recommender.digest.tasks.digest_tick"

DEFAULT_SCHEDULES = [
    # arXiv announces around 00:00 UTC Sunday to Thursday; fetch shortly after.
    {"name": "Ingest arXiv RSS", "task": TASK_INGEST, "kwargs": {"source": "arxiv-rss"}, "crontab": "30 1 * * *"},
    # Hugging Face daily papers collect upvotes through the day.
    {
        "name": "Ingest Hugging Face daily papers",
        "task": TASK_INGEST,
        "kwargs": {"source": "hf-daily"},
        "crontab": "15 */3 * * *",
    },
    {"name": "Train recommender", "task": TASK_TRAIN, "kwargs": {}, "crontab": "0 3 * * *"},
    # Subscribers choose their minute; a 5-minute tick keeps them on time.
    {"name": "Digest tick", "task": TASK_DIGEST_TICK, "kwargs": {}, "every_seconds": 300},
]


def schedules_ensure() -> int:
    """Create the default periodic tasks that do not exist yet; return how many."""
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

    created = 0
    for spec in DEFAULT_SCHEDULES:
        if PeriodicTask.objects.filter(name=spec["name"]).exists():
            continue
        fields = {"task": spec["task"], "kwargs": json.dumps(spec["kwargs"])}
        if "crontab" in spec:
            minute, hour, dom, month, dow = spec["crontab"].split()
            fields["crontab"], _ = CrontabSchedule.objects.get_or_create(
                minute=minute, hour=hour, day_of_month=dom, month_of_year=month, day_of_week=dow, timezone="UTC"
            )
        else:
            fields["interval"], _ = IntervalSchedule.objects.get_or_create(
                every=spec["every_seconds"], period=IntervalSchedule.SECONDS
            )
        PeriodicTask.objects.create(name=spec["name"], **fields)
        created += 1
    return created
