"""WSGI entry point (gunicorn digest_site.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "digest_site.settings")
application = get_wsgi_application()


def _warm_up() -> None:
    """Load the active model and its default candidates before the first request (web processes only:
    this module is imported by gunicorn and runserver, never by Celery or manage.py commands).

    With ``gunicorn --preload`` this runs once in the master and the workers share the pages;
    either way the database connection it used is closed so no forked worker inherits it.
    """
    from django.db import connections

    from recommender.serving import warm_up

    try:
        warm_up()
    finally:
        connections.close_all()


_warm_up()
