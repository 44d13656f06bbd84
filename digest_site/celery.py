"""The Celery app, configured from Django settings (``CELERY_*``).

Tasks live next to the code they drive (``recommender/<area>/tasks.py``) and
are routed to one queue per kind of work (ingest, train, send) so that each can
be scaled on its own machines.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "digest_site.settings")

app = Celery("digest_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(
    [
        "recommender.ingest",
        "recommender.training",
        "recommender.digest",
        "recommender.summaries",
        "recommender.library",
    ],
    related_name="tasks",
)
