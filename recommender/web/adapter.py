"""allauth adapter: first-login onboarding redirect, and sign-in after a subscribe confirmation."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.core.exceptions import ValidationError
from django.urls import reverse

from .subscribe import SESSION_PENDING

MAX_EMAIL_LENGTH = 254  # RFC 5321 path limit, and the length of the email columns


class AccountAdapter(DefaultAccountAdapter):
    def clean_email(self, email: str) -> str:
        # allauth cuts a longer address to the 254-character column when it saves
        # the user, which would register (and mail) an address nobody typed.
        if len(email) > MAX_EMAIL_LENGTH:
            raise ValidationError(f"Email addresses have at most {MAX_EMAIL_LENGTH} characters.")
        return super().clean_email(email)

    def get_login_redirect_url(self, request) -> str:
        profile = getattr(request.user, "profile", None)
        if profile is not None and profile.onboarded_at is None:
            return reverse("web:onboarding")
        return super().get_login_redirect_url(request)

    def get_signup_redirect_url(self, request) -> str:
        # Decided at signup time, before anyone is signed in: a new account is never onboarded yet.
        return reverse("web:onboarding")

    def confirm_email(self, request, email_address) -> bool:
        confirmed = super().confirm_email(request, email_address)
        user = email_address.user
        # Same-browser rule (as allauth's own login-on-confirmation): the session
        # that asked for the subscription is the one that may be signed in.
        if (
            confirmed
            and not request.user.is_authenticated
            and request.session.get(SESSION_PENDING) == user.pk
            and not user.has_usable_password()
        ):
            request.session.pop(SESSION_PENDING, None)
            self.login(request, user)
        return confirmed
