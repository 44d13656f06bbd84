"""Print a user's digest as it would be sent now (HTML, or --text), without recording a delivery.

``--language LANG`` renders it in LANG, filling that digest's missing
translations first (synchronously, through the configured LLM).
"""

from __future__ import annotations

import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from recommender.digest.context import digest_build
from recommender.digest.render import _cache, render_digest
from recommender.summaries.languages import SUPPORTED
from recommender.summaries.llm import configured
from recommender.summaries.services import summaries_fill


class Command(BaseCommand):
    help = "Print EMAIL's digest (HTML by default, --text for the plain-text part); --bench N times rendering."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--text", action="store_true", help="Print the plain-text alternative")
        parser.add_argument("--subject", action="store_true", help="Print only the subject")
        parser.add_argument("--naive", action="store_true", help="Inline CSS on this email (slow path)")
        parser.add_argument("--bench", type=int, default=0, help="Render N times both ways and print timings")
        parser.add_argument(
            "--language", default=None, help="Digest language (e.g. zh); missing translations are filled first"
        )

    def handle(self, *args, email, text=False, subject=False, naive=False, bench=0, language=None, **options):
        user = get_user_model().objects.filter(email__iexact=email).first()
        if user is None:
            raise CommandError(f"no user with email {email}")
        if language is not None and language not in SUPPORTED:
            raise CommandError(f"unsupported language {language!r}: one of {', '.join(SUPPORTED)}")
        now = timezone.now()
        content = digest_build(user=user, now=now, language=language)
        if content.skip_reason:
            raise CommandError(f"no digest for {email} now: {content.skip_reason}")
        if language and language != "en":
            self._fill(content, language)
            content = digest_build(user=user, now=now, language=language)
        if bench:
            self._bench(content.context, bench)
            return
        rendered = render_digest(content.context, naive=naive)
        if subject:
            self.stdout.write(rendered.subject)
        elif text:
            self.stdout.write(rendered.text)
        else:
            self.stdout.write(rendered.html)

    def _fill(self, content, language: str) -> None:
        if not configured():
            self.stderr.write("No LLM configured (LLM_BASE_URL, LLM_MODEL): the digest stays in English.")
            return
        result = summaries_fill(paper_ids=content.paper_ids + content.trending_ids, languages=[language])
        self.stderr.write(
            f"{language}: {result.translations} translated, {result.translations_cached} cached, "
            f"{result.translations_rejected} rejected, {result.requests} LLM requests"
            + (" (daily token budget exhausted)" if result.budget_exhausted else "")
        )

    def _bench(self, context: dict, n: int) -> None:
        _cache.clear()
        t0 = time.perf_counter()
        render_digest(context)  # first call inlines the template once
        first = time.perf_counter() - t0
        rows = []
        for naive in (True, False):
            t0 = time.perf_counter()
            for _ in range(n):
                render_digest(context, naive=naive)
            per = (time.perf_counter() - t0) / n * 1000
            rows.append((naive, per))
        self.stdout.write(f"{'path':<28}{'ms/email':>10}{'emails/s':>10}")
        for naive, per in rows:
            name = "naive (premailer per email)" if naive else "inlined template (once)"
            self.stdout.write(f"{name:<28}{per:>10.2f}{1000 / per:>10.1f}")
        self.stdout.write(
            f"one-off template inlining: {first * 1000:.1f} ms; n={n}; speed-up x{rows[0][1] / rows[1][1]:.1f}"
        )
