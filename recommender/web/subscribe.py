"""The subscribe box: an email alone starts a double opt-in subscription.

Nothing but the confirmation is sent until the address is confirmed, and the
visible outcome is the same whether or not the address is known (no account
enumeration): a known, confirmed address gets allauth's "account already
exists" notice instead of a new confirmation.

The confirmation link is allauth's own (``EmailAddress.send_confirmation``),
so the same link confirms subscriptions and signups, and allauth's
``email_confirmed`` signal confirms the profile. When the link is opened in
the browser that subscribed, ``AccountAdapter.confirm_email`` signs the new
subscriber in so they can go straight to onboarding; elsewhere they sign in
with an emailed code (allauth's login by code).

Subscribe-box accounts have no usable password. When the address belongs to
an account that was never verified, its password is discarded before the
confirmation goes out: someone else may have signed up with this address
(account pre-takeover), and confirming must not hand them the account.
"""

from __future__ import annotations

import logging

from allauth.account.adapter import get_adapter
from allauth.account.models import EmailAddress
from django.db import transaction

from ..subscriptions.services import account_is_verified, account_password_discard, subscriber_create

logger = logging.getLogger(__name__)

SESSION_PENDING = "paperboy_subscribe_pending"


def subscription_request(*, request, email: str) -> None:
    """Start (or restart) the double opt-in for ``email``; send exactly one email."""
    email = email.strip()
    address = EmailAddress.objects.filter(email__iexact=email).select_related("user").first()
    if address is not None and address.verified:
        get_adapter(request).send_account_already_exists_mail(email)
        # Touch the session either way so even the cookies do not tell the cases apart.
        request.session[SESSION_PENDING] = None
        return
    with transaction.atomic():
        user = address.user if address is not None else subscriber_create(email=email)
        if address is None:
            address = EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=False)
        elif not account_is_verified(user=user) and account_password_discard(user=user):
            # An unverified signup holds this address: its password was chosen by someone who never
            # proved the address, and the owner is about to confirm it. Nobody keeps that password.
            logger.info("subscribe box: discarded the unproven password of unverified account %s", user.pk)
    address.send_confirmation(request, signup=False)
    # Only a password-less subscriber may be signed in by the link, and only in this browser.
    request.session[SESSION_PENDING] = None if user.has_usable_password() else user.pk
