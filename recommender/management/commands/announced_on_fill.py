"""``manage.py announced_on_fill``: derive the missing announcement days (papers from the API or OAI-PMH).

A one-off backfill for rows ingested before the day was derived at ingestion
(recommender/ingest/announce.py); safe to run again (it fills only missing days).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from recommender.ingest.services import papers_announced_on_fill
from recommender.papers.trending import trending_refresh


class Command(BaseCommand):
    help = "Give papers without an announcement day the one arXiv's schedule gives their first version."

    def handle(self, *args, **options):
        filled = papers_announced_on_fill()
        if filled:
            trending_refresh()  # newly dated papers may be recent enough to trend
        self.stdout.write(f"{filled} paper(s) given an announcement day")
