"""``manage.py seed_demo --users N``: confirmed subscribers with varied preferences and ratings."""

from django.core.management.base import BaseCommand, CommandError

from ...demo import demo_users_create
from ...models import Paper


class Command(BaseCommand):
    help = "Create N confirmed demo subscribers with varied preferences and ratings over the papers in the DB."

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, default=20)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--prefix", default="demo", help="Username/email prefix (demo → demo0@paperboy.localhost)")

    def handle(self, *args, users, seed, prefix, **options):
        if users < 1:
            raise CommandError("--users must be at least 1")
        if not Paper.objects.exists():
            raise CommandError("no papers in the database: run `manage.py ingest` first")
        ids = demo_users_create(count=users, seed=seed, prefix=prefix)
        self.stdout.write(f"created {len(ids)} confirmed subscribers ({prefix}N@paperboy.localhost)")
