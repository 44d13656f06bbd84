"""Print a user's digest as it would be sent now (HTML, or --text), without recording anything."""

from __future__ import annotations

import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from recommender.digest.context import digest_build
from recommender.digest.render import _cache, render_digest


class Command(BaseCommand):
    help = "Print EMAIL's digest (HTML by default, --text for the plain-text part); --bench N times rendering."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--text", action="store_true", help="Print the plain-text alternative")
        parser.add_argument("--subject", action="store_true", help="Print only the subject")
        parser.add_argument("--naive", action="store_true", help="Inline CSS on this email (slow path)")
        parser.add_argument("--bench", type=int, default=0, help="Render N times both ways and print timings")

    def handle(self, *args, email, text=False, subject=False, naive=False, bench=0, **options):
        user = get_user_model().objects.filter(email__iexact=email).first()
        if user is None:
            raise CommandError(f"no user with email {email}")
        content = digest_build(user=user, now=timezone.now())
        if content.skip_reason:
            raise CommandError(f"no digest for {email} now: {content.skip_reason}")
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
