"""``manage.py bootstrap``: everything ``make run`` needs before the processes start.

Idempotent: creates the admin account, loads papers (live arXiv, else the
bundled sample feed), seeds demo subscribers, trains a first model and puts
one digest in the outbox, skipping each step that is already done.
"""

import os
import secrets

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.utils import timezone

from ...demo import demo_readers_due_soon
from ...ingest import services as ingest
from ...models import Interaction, ModelVersion, Paper
from ...papers.trending import trending_refresh
from ...subscriptions.services import profile_confirm


class Command(BaseCommand):
    help = "Create the admin, load papers (live or sample), seed demo users, train, preview a digest."

    def add_arguments(self, parser):
        parser.add_argument("--offline", action="store_true", help="Do not try live arXiv; load the sample feed.")
        parser.add_argument("--demo-users", type=int, default=30)

    def handle(self, *args, offline, demo_users, **options):
        self._admin()
        self._papers(offline=offline)
        seeded = not Interaction.objects.exists() and Paper.objects.exists()
        if seeded:
            call_command("seed_demo", users=demo_users, stdout=self.stdout)
        trending_refresh()
        if Interaction.objects.exists() and not ModelVersion.objects.filter(is_active=True).exists():
            call_command("train", activate="always", stdout=self.stdout)
        self._first_digest()
        if seeded:
            self._demo_digests_soon()
        self.stdout.write(
            f"\nPaperboy is ready: {settings.SITE_URL}/  (admin: {settings.SITE_URL}/admin/, "
            f"captured mail: {settings.SITE_URL}/outbox/)"
        )

    def _admin(self):
        User = get_user_model()
        email = os.environ.get("ADMIN_EMAIL", "admin@paperboy.localhost")
        if User.objects.filter(email__iexact=email).exists():
            username = User.objects.filter(email__iexact=email).values_list("username", flat=True).first()
            self.stdout.write(
                f"admin account: {email} (exists; forgot its password? python manage.py changepassword {username})"
            )
            return
        password = os.environ.get("ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        user = User.objects.create_superuser(username="admin", email=email, password=password)
        EmailAddress.objects.update_or_create(user=user, email=email, defaults={"verified": True, "primary": True})
        profile_confirm(user=user)
        user.profile.onboarded_at = timezone.now()
        user.profile.save(update_fields=["onboarded_at"])
        shown = password if not os.environ.get("ADMIN_PASSWORD") else "(from ADMIN_PASSWORD)"
        self.stdout.write(
            f"admin account: {email} / {shown}  (shown once; later: python manage.py changepassword admin)"
        )

    def _papers(self, *, offline: bool):
        if Paper.objects.exists():
            self.stdout.write(f"papers: {Paper.objects.count()} already loaded")
            return
        if not offline:
            try:
                runs = ingest.ingest_live(timeout=5.0)
                self.stdout.write(f"live arXiv: {sum(r.created for r in runs)} papers")
                if Paper.objects.exists():
                    return
            except Exception as exc:
                reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
                self.stdout.write(f"arXiv is unreachable ({reason}); loading the bundled sample feed instead")
        runs = ingest.ingest_sample()
        self.stdout.write(f"sample feed: {sum(r.created for r in runs)} papers")

    def _demo_digests_soon(self):
        """A few demo readers due in 2-8 minutes: the beat, the worker and SMTP at work, seen in the outbox."""
        due = demo_readers_due_soon()
        if due:
            self.stdout.write(
                f"scheduled digests: {len(due)} demo readers are due in 2-8 minutes; the beat tick sends them "
                f"(look at {settings.SITE_URL}/outbox/ about 10 minutes after start)"
            )

    def _first_digest(self):
        email = os.environ.get("ADMIN_EMAIL", "admin@paperboy.localhost")
        user = get_user_model().objects.filter(email__iexact=email).first()
        if user is None or not Paper.objects.exists():
            return
        if not user.interactions.exists():
            # Give the admin a few votes so their first digest is personal.
            for paper in Paper.objects.order_by("-trending_score")[:3]:
                Interaction.objects.get_or_create(user=user, paper=paper, kind="upvote")
        try:
            call_command("send_digests", user=email, stdout=self.stdout)
        except Exception as exc:  # the digest is a convenience here, never a blocker
            self.stdout.write(f"could not build the first digest: {exc}")
