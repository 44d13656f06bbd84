"""Signal receivers: keep a Profile beside every user, install default schedules.

Receivers only call services; the logic lives there.
"""

from allauth.account.signals import email_confirmed
from django.conf import settings
from django.db.models.signals import post_migrate, post_save
from django.dispatch import receiver

from .subscriptions import services as subscription_services


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="paperboy_profile_ensure")
def _profile_for_new_user(sender, instance, created, **kwargs):
    if created:
        subscription_services.profile_ensure(user=instance)


@receiver(email_confirmed, dispatch_uid="paperboy_profile_confirm")
def _profile_confirm(sender, request, email_address, **kwargs):
    subscription_services.profile_confirm(user=email_address.user)


@receiver(post_migrate, dispatch_uid="paperboy_schedules_ensure")
def _schedules_ensure(sender, app_config=None, **kwargs):
    if app_config is not None and app_config.name == "recommender":
        from .schedules import schedules_ensure

        schedules_ensure()


@receiver(post_migrate, dispatch_uid="paperboy_search_index_ensure")
def _search_index_ensure(sender, app_config=None, using="default", **kwargs):
    # Django's SQLite schema editor rebuilds a table to alter it, dropping the
    # full-text triggers: re-create them after every migrate (a no-op when present).
    if app_config is not None and app_config.name == "recommender":
        from django.db import connections

        from .papers.search import search_index_ensure

        search_index_ensure(using=connections[using])
