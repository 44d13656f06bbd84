"""``manage.py evaluate``: thin Django wrapper around recommender.ranking.evaluation.

All logic lives in the pure-Python evaluation module so that it also runs as
``python -m recommender.ranking.evaluation`` without Django.
"""

from __future__ import annotations

import argparse

from django.core.management.base import BaseCommand, CommandError

from recommender.ranking import evaluation
from recommender.ranking.datasets import DatasetError


class Command(BaseCommand):
    help = "Offline evaluation of the recommender (warm / cold / digest protocols)."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        evaluation.add_arguments(parser)

    def handle(self, *args, **options) -> None:
        ns = argparse.Namespace(**{name: options[name] for name in evaluation.option_names()})
        try:
            evaluation.run_from_args(ns, self.stdout)
        except DatasetError as exc:
            raise CommandError(str(exc)) from None
