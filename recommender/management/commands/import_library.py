"""``manage.py import_library EMAIL FILE [--topic NAME] [--format F] [--wait]``: import a library for one user.

Prints what the result page shows (entries read, matched by id, matched by
title, fetched, not found with reasons, duplicates). A malformed file is one
error line, a non-zero exit, and nothing written. Ids the catalogue lacks are
queued for the ingest worker; ``--wait`` fetches them here instead.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from recommender.ingest.entries import IngestError
from recommender.library import services
from recommender.library.parsers import FORMATS, LibraryError
from recommender.library.tasks import library_fetch_run


class Command(BaseCommand):
    help = "Import a BibTeX, RIS, CSV or text library as saved papers of one user."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("file")
        parser.add_argument("--topic", default="", help="not supported yet: accepted and ignored, with a note")
        parser.add_argument("--format", choices=FORMATS, default="", help="default: from the extension or content")
        parser.add_argument("--wait", action="store_true", help="fetch missing ids from arXiv now, not in the worker")

    def handle(self, *args, email, file, topic, format, wait, **options):
        user = get_user_model().objects.filter(email__iexact=email).first()
        if user is None:
            raise CommandError(f"no user with email {email}")
        limit = services.limits()["max_bytes"]
        try:
            with open(file, "rb") as handle:
                data = handle.read(limit + 1)
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror or exc}") from None
        try:
            if wait:
                report = self._import_waiting(user, data, file, format, topic)
            else:
                report = services.library_import(user=user, data=data, filename=file, kind=format, topic=topic)
        except LibraryError as exc:
            raise CommandError(str(exc)) from None
        for line in report.lines():
            self.stdout.write(line)

    def _import_waiting(self, user, data, file, format, topic):
        report = services.library_import(user=user, data=data, filename=file, kind=format, topic=topic, fetch=False)
        for start in range(0, len(report.queued), services.FETCH_BATCH):
            batch = report.queued[start : start + services.FETCH_BATCH]
            try:
                done = library_fetch_run(user_id=user.pk, arxiv_ids=batch)
            except IngestError as exc:
                raise CommandError(f"fetching {len(batch)} ids from arXiv failed: {exc}") from None
            report.saved += done.get("saved", 0)
        return report
