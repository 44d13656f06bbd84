"""``manage.py train``: train a recommender version now and print its metrics."""

import json

from django.core.management.base import BaseCommand, CommandError

from ...training.services import TrainingError, model_train


class Command(BaseCommand):
    help = "Train the recommender on all interactions, activate it if not worse, print metrics."

    def add_arguments(self, parser):
        parser.add_argument(
            "--activate",
            choices=["if_not_worse", "always", "never"],
            default="if_not_worse",
            help="Activation policy (default: only if not worse than the active version).",
        )

    def handle(self, *args, activate, **options):
        try:
            version = model_train(activate=activate)
        except TrainingError as exc:
            raise CommandError(str(exc)) from exc
        state = "active" if version.is_active else version.status
        self.stdout.write(
            f"model v{version.pk} {state}: {version.n_users} users, {version.n_items} papers, "
            f"{version.n_interactions} interactions, {version.train_seconds:.1f}s"
        )
        self.stdout.write(json.dumps(version.metrics, sort_keys=True))
