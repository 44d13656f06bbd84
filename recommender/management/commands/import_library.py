"""``manage.py import_library EMAIL (FILE | --orcid ID | --author NAME) [--yes] [--wait]``: import for one user.

With FILE: prints what the result page shows (entries read, matched by id,
matched by title, fetched, not found with reasons, duplicates). A malformed
file is one error line, a non-zero exit, and nothing written.

With ``--orcid`` or ``--author`` ("my own papers", as on /account/import/mine/):
lists the arXiv papers of the ORCID record's public works, or what arXiv lists
under the name, and saves nothing unless ``--yes`` is given, which saves every
listed paper (the command's confirmation). Ids the catalogue lacks are queued
for the ingest worker; ``--wait`` fetches them here instead.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from recommender.ingest.entries import IngestError
from recommender.library import services
from recommender.library.author import AuthorQueryError, author_search, orcid_search
from recommender.library.orcid import OrcidError
from recommender.library.parsers import FORMATS, LibraryError
from recommender.library.tasks import library_fetch_run
from recommender.models import Paper, Topic
from recommender.subscriptions.topics import TopicError, topic_create, topic_named


class Command(BaseCommand):
    help = "Import a BibTeX, RIS, CSV or text library, or one's own papers by ORCID iD or author name, for one user."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("file", nargs="?", default="")
        parser.add_argument("--orcid", default="", help="list the arXiv papers of this ORCID iD's public works")
        parser.add_argument("--author", default="", help="list what arXiv lists under this author name")
        parser.add_argument("--yes", action="store_true", help="with --orcid / --author: save every listed paper")
        parser.add_argument(
            "--topic", default="", help="with FILE: save under this topic (its name or slug; created if new)"
        )
        parser.add_argument("--format", choices=FORMATS, default="", help="default: from the extension or content")
        parser.add_argument("--wait", action="store_true", help="fetch missing ids from arXiv now, not in the worker")

    def handle(self, *args, email, file, orcid, author, yes, topic, format, wait, **options):
        if sum(1 for given in (file, orcid, author) if given) != 1:
            raise CommandError("give exactly one of FILE, --orcid ID or --author NAME")
        user = get_user_model().objects.filter(email__iexact=email).first()
        if user is None:
            raise CommandError(f"no user with email {email}")
        if file:
            report = self._import_file(user, file, format=format, topic=self._topic(user, topic), wait=wait)
        else:
            found = self._orcid(orcid) if orcid else self._author(author)
            if not yes:
                self.stdout.write(f"nothing saved: run again with --yes to save these {len(found)} papers")
                return
            report = services.ids_import(user=user, arxiv_ids=found, fetch=not wait)
            if wait:
                self._fetch_now(user, report)
        for line in report.lines():
            self.stdout.write(line)

    # --- a library file ---------------------------------------------------------------------

    def _topic(self, user, name: str) -> Topic | None:
        """The user's topic ``name`` (created when they have none of that name); None: account-wide."""
        if not name:
            return None
        topic = topic_named(user=user, name=name)
        if topic is not None:
            return topic
        try:
            topic = topic_create(user=user, name=name)
        except TopicError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"created the topic “{topic.name}”")
        return topic

    def _import_file(self, user, file: str, *, format: str, topic: Topic | None, wait: bool) -> services.ImportReport:
        limit = services.limits()["max_bytes"]
        try:
            with open(file, "rb") as handle:
                data = handle.read(limit + 1)
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror or exc}") from None
        try:
            report = services.library_import(
                user=user, data=data, filename=file, kind=format, topic=topic, fetch=not wait
            )
        except LibraryError as exc:
            raise CommandError(str(exc)) from None
        if wait:
            self._fetch_now(user, report, topic=topic)
        return report

    def _fetch_now(self, user, report: services.ImportReport, *, topic: Topic | None = None) -> None:
        for start in range(0, len(report.queued), services.FETCH_BATCH):
            batch = report.queued[start : start + services.FETCH_BATCH]
            try:
                done = library_fetch_run(user_id=user.pk, arxiv_ids=batch, topic_id=topic.pk if topic else None)
            except IngestError as exc:
                raise CommandError(f"fetching {len(batch)} ids from arXiv failed: {exc}") from None
            report.saved += done.get("saved", 0)

    # --- my own papers ----------------------------------------------------------------------

    def _list(self, papers: list[tuple[str, str]]) -> list[str]:
        """Print one line per paper (id, in the catalogue or to fetch, title); return the ids."""
        ids = [arxiv_id for arxiv_id, _ in papers]
        known = set(Paper.objects.filter(arxiv_id__in=ids).values_list("arxiv_id", flat=True))
        for arxiv_id, title in papers:
            where = "in the catalogue" if arxiv_id in known else "to fetch from arXiv"
            self.stdout.write(f"  {arxiv_id}  [{where}]  {title or '(untitled)'}")
        return ids

    def _orcid(self, text: str) -> list[str]:
        try:
            orcid, result = orcid_search(orcid=text)
        except OrcidError as exc:
            raise CommandError(str(exc)) from None
        if not result.works:
            raise CommandError(f"ORCID lists {result.groups} public works for {orcid}, none with an arXiv id or DOI")
        more = f" (the first {len(result.works)})" if result.truncated else ""
        self.stdout.write(f"ORCID {orcid}: {len(result.works)} arXiv papers{more} in {result.groups} public works")
        return self._list([(w.arxiv_id, w.title) for w in result.works])

    def _author(self, name: str) -> list[str]:
        try:
            entries = author_search(name=name)
        except AuthorQueryError as exc:
            raise CommandError(str(exc)) from None
        except IngestError as exc:
            raise CommandError(f"arXiv did not answer: {exc}") from None
        if not entries:
            raise CommandError(f"arXiv lists no paper under {name!r}")
        self.stdout.write(f"arXiv lists {len(entries)} papers under {name!r}")
        return self._list([(e.arxiv_id, e.title) for e in entries])
