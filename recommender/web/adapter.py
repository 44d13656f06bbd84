"""allauth adapter and signup form: onboarding redirect, sign-in after a subscribe confirmation, no enumeration.

Known and new addresses cost the same at signup (one password hash, one email):
the timing of the answer must not tell anyone which addresses are registered.
"""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.forms import SignupForm as AllauthSignupForm
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.urls import reverse

from .subscribe import SESSION_PENDING

MAX_EMAIL_LENGTH = 254  # RFC 5321 path limit, and the length of the email columns
SITE_NAME = "Paperboy"


def mail_context() -> dict:
    """The site's name and address for the account emails, from settings.SITE_URL.

    Not the Sites framework: its row says "example.com" unless someone edits it,
    and a mail sent outside a request (a task) has no context processors.
    """
    return {
        "site_name": SITE_NAME,
        "site_url": settings.SITE_URL,
        "site_host": settings.SITE_URL.split("://", 1)[-1],
    }


class AccountAdapter(DefaultAccountAdapter):
    def clean_email(self, email: str) -> str:
        # allauth cuts a longer address to the 254-character column when it saves
        # the user, which would register (and mail) an address nobody typed.
        if len(email) > MAX_EMAIL_LENGTH:
            raise ValidationError(f"Email addresses have at most {MAX_EMAIL_LENGTH} characters.")
        return super().clean_email(email)

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        """allauth's mail (text + HTML when both templates exist), with the site's real name and address."""
        super().send_mail(template_prefix, email, {**mail_context(), **context})

    def get_login_redirect_url(self, request) -> str:
        profile = getattr(request.user, "profile", None)
        if profile is not None and profile.onboarded_at is None:
            return reverse("web:onboarding")
        return super().get_login_redirect_url(request)

    def get_signup_redirect_url(self, request) -> str:
        # Decided at signup time, before anyone is signed in: a new account is never onboarded yet.
        return reverse("web:onboarding")

    def send_account_already_exists_mail(self, email: str) -> None:
        """allauth's notice, plus the sign-in-by-code link (subscribe-box accounts have no password to reset to)."""
        request = self.request
        self.send_mail(
            "account/email/account_already_exists",
            email,
            {
                "login_code_url": request.build_absolute_uri(reverse("account_request_login_code")),
                "password_reset_url": request.build_absolute_uri(reverse("account_reset_password")),
            },
        )

    def get_email_verification_redirect_url(self, email_address) -> str:
        # Confirmed in another browser (the phone): a reader without a password is sent to the code sign-in.
        if not self.request.user.is_authenticated and not email_address.user.has_usable_password():
            messages.info(
                self.request, "Your address is confirmed. To sign in, we email you a sign-in code: no password needed."
            )
            return reverse("account_request_login_code")
        return super().get_email_verification_redirect_url(email_address)

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


class SignupForm(AllauthSignupForm):
    """allauth's signup form, with the same work for a known address as for a new one.

    A new signup hashes the password (``set_password``) and sends a confirmation;
    a known one sends "account already exists" and, without this, hashes nothing:
    with PBKDF2 the difference (~1 s against ~70 ms) told anyone which addresses
    have accounts. The typed password is hashed and thrown away, never stored.
    """

    def try_save(self, request):
        if self.account_already_exists:
            make_password(self.cleaned_data.get("password1") or "")
        return super().try_save(request)
