from django.apps import AppConfig


class RecommenderConfig(AppConfig):
    name = "recommender"
    verbose_name = "Paperboy"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, signals  # noqa: F401  (register system checks, connect receivers)
        from .digest import signals as digest_signals  # noqa: F401  (ESP bounces -> suppression)
