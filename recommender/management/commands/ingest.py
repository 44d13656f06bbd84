"""``manage.py ingest SOURCE (--file PATH | --url URL) [--category CAT ...] [--date YYYY-MM-DD]``.

Runs one all-or-nothing ingestion and prints one summary line; on failure it
prints one error line and exits non-zero (the failed ``IngestRun`` is kept).
"""

from __future__ import annotations

import datetime as dt
import logging

from django.core.management.base import BaseCommand, CommandError

from recommender.ingest.entries import IngestError
from recommender.ingest.services import SOURCES, ingest_run


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"invalid --date {value!r} (expected YYYY-MM-DD)") from None


class Command(BaseCommand):
    help = "Ingest papers from arXiv (RSS, export API, OAI-PMH) or Hugging Face daily papers."

    def add_arguments(self, parser):
        parser.add_argument("source", choices=SOURCES)
        where = parser.add_mutually_exclusive_group()
        where.add_argument("--file", help="read a saved response instead of fetching")
        where.add_argument("--url", help="fetch this URL instead of the source's default")
        parser.add_argument("--category", action="append", dest="categories", default=[], help="repeatable, e.g. cs.LG")
        parser.add_argument("--date", help="announcement date (arxiv-rss), listing date (hf-daily), from (OAI)")
        parser.add_argument("--delay", type=float, default=None, help="seconds between paged requests (default 3)")
        parser.add_argument("--limit", type=int, default=1000, help="max entries for paged sources (0 = all)")
        parser.add_argument("--metadata-prefix", default="arXivRaw", choices=["arXivRaw", "arXiv"])
        parser.add_argument("--timeout", type=float, default=None, help="connect/read timeout in seconds")

    def handle(self, *args, **options):
        source = options["source"]
        if options["verbosity"] < 2:
            # The summary (or error) line below says it all; keep the service's log lines out.
            logging.getLogger("recommender.ingest").setLevel(logging.WARNING)
        try:
            run = ingest_run(
                source=source,
                url=options["url"],
                path=options["file"],
                categories=options["categories"],
                date=_date(options["date"]) if options["date"] else None,
                delay=options["delay"],
                limit=options["limit"],
                metadata_prefix=options["metadata_prefix"],
                timeout=options["timeout"],
            )
        except IngestError as exc:
            raise CommandError(f"ingest {source} failed: {exc}") from None
        note = run.params.get("note")
        self.stdout.write(
            f"{source}: {run.entries} entries, {run.created} created, {run.updated} updated, "
            f"{run.unchanged} unchanged (run {run.pk}, {run.duration_s:.2f}s)" + (f"; {note}" if note else "")
        )
