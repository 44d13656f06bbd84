"""Signal receivers: keep a Profile beside every user, install default schedules.

Receivers only call services; the logic lives there.
"""

from urllib.parse import urlsplit

from allauth.account.signals import authentication_step_completed, email_confirmed, user_signed_up
from django.conf import settings
from django.contrib.sites.models import Site
from django.db.models.signals import post_migrate, post_save
from django.dispatch import receiver

from .papers.search import search_index_ensure
from .schedules import schedules_ensure
from .subscriptions import services as subscription_services


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="paperboy_profile_ensure")
def _profile_for_new_user(sender, instance, created, **kwargs):
    if created:
        subscription_services.profile_ensure(user=instance)


@receiver(email_confirmed, dispatch_uid="paperboy_profile_confirm")
def _profile_confirm(sender, request, email_address, **kwargs):
    subscription_services.profile_confirm(user=email_address.user)


# The account whose password was chosen or typed in this browser session (signup, password sign-in).
SESSION_PASSWORD_CHOSEN = "paperboy_password_chosen_here"  # noqa: S105 (a session key, not a password)


@receiver(user_signed_up, dispatch_uid="paperboy_password_chosen_at_signup")
def _password_chosen_at_signup(sender, request, user, **kwargs):
    if request is not None:
        request.session[SESSION_PASSWORD_CHOSEN] = user.pk


@receiver(authentication_step_completed, dispatch_uid="paperboy_password_proof")
def _authentication_step(sender, request, user, method, **kwargs):
    """A code sign-in proves the mailbox, not the password: an unverified account's password goes (pre-takeover)."""
    if request is None:
        return
    if method == "password":
        request.session[SESSION_PASSWORD_CHOSEN] = user.pk
    elif (
        method == "code"
        and request.session.get(SESSION_PASSWORD_CHOSEN) != user.pk
        and not subscription_services.account_is_verified(user=user)
    ):
        subscription_services.account_password_discard(user=user)


@receiver(post_migrate, dispatch_uid="paperboy_schedules_ensure")
def _schedules_ensure(sender, app_config=None, **kwargs):
    if app_config is not None and app_config.name == "recommender":
        schedules_ensure()


@receiver(post_migrate, dispatch_uid="paperboy_search_index_ensure")
def _search_index_ensure(sender, app_config=None, using="default", **kwargs):
    # Django's SQLite schema editor rebuilds a table to alter it, dropping the FTS5
    # triggers: re-create them after every migrate (a no-op when present, and on PostgreSQL).
    if app_config is not None and app_config.name == "recommender":
        from django.db import connections

        search_index_ensure(using=connections[using])


@receiver(post_migrate, dispatch_uid="paperboy_site_from_settings")
def _site_from_settings(sender, app_config=None, using="default", **kwargs):
    """Keep the Sites row (allauth's fallback outside a request) on SITE_URL, never "example.com"."""
    if app_config is not None and app_config.name == "recommender":
        host = urlsplit(settings.SITE_URL).netloc or "localhost"
        Site.objects.using(using).update_or_create(pk=settings.SITE_ID, defaults={"domain": host, "name": "Paperboy"})
