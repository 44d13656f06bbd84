"""Write side for subscribers: profile creation, confirmation, preferences, suppression and resuming.

Every change that can move a subscriber's next send time recomputes
``Profile.next_digest_at`` here, so the beat tick stays one indexed query.
"""

from __future__ import annotations

import re
from collections import defaultdict

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core import signing
from django.db import transaction
from django.utils import timezone

from ..models import Profile, Suppression
from .pause import next_moment_after_pause
from .topics import topic_default_ensure

User = get_user_model()
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def profile_ensure(*, user) -> Profile:
    """Return the user's profile, creating it with defaults (and the default topic, "General") if missing."""
    profile, created = Profile.objects.get_or_create(user=user)
    if created:
        topic_default_ensure(user=user)
    return profile


def profile_reschedule(*, profile: Profile, after=None, save: bool = True) -> Profile:
    """Recompute when this subscriber is next due (None if not sendable; never inside a pause)."""
    after = after or timezone.now()
    profile.next_digest_at = next_moment_after_pause(profile, after=after) if profile.is_sendable else None
    if save:
        profile.save(update_fields=["next_digest_at", "modified_at"])
    return profile


RESCHEDULE_CHUNK = 1000  # profile ids per UPDATE


def profiles_reschedule_due(*, profiles: list[Profile], now) -> None:
    """Reschedule the profiles due at ``now`` (the tick): one ``UPDATE ... WHERE id IN (...)`` per next moment.

    Subscribers who share a time zone, hour and frequency share their next moment, so a morning of 100k
    digests is a few hundred small UPDATEs. ``bulk_update`` builds a ``CASE`` with one branch per row
    instead, which cost more than half the plan tick's CPU at 100k subscribers (profiled with py-spy).
    """
    by_moment: dict = defaultdict(list)
    for profile in profiles:
        # From ``now``, not from the missed moment: after an outage the
        # subscriber gets one digest, not one per missed period.
        profile_reschedule(profile=profile, after=max(now, profile.next_digest_at), save=False)
        by_moment[profile.next_digest_at].append(profile.pk)
    modified = timezone.now()
    for moment, ids in by_moment.items():
        for start in range(0, len(ids), RESCHEDULE_CHUNK):
            Profile.objects.filter(pk__in=ids[start : start + RESCHEDULE_CHUNK]).update(
                next_digest_at=moment, modified_at=modified
            )


def profile_confirm(*, user) -> Profile:
    """Mark the subscriber's address confirmed (double opt-in done) and schedule them."""
    profile = profile_ensure(user=user)
    if profile.confirmed_at is None:
        profile.confirmed_at = timezone.now()
        if profile.suppression == Suppression.UNSUBSCRIBED:
            profile.suppression = Suppression.NONE
        profile.save(update_fields=["confirmed_at", "suppression", "modified_at"])
    return profile_reschedule(profile=profile)


def profile_update(*, profile: Profile, **fields) -> Profile:
    """Update preference fields and reschedule."""
    for name, value in fields.items():
        setattr(profile, name, value)
    profile.save()
    return profile_reschedule(profile=profile)


@transaction.atomic
def profile_suppress(*, user, reason: str, detail: str = "") -> Profile:
    """Stop all digests to this user (unsubscribe, bounce, complaint)."""
    profile = Profile.objects.select_for_update().get(user=user)
    profile.suppression = reason
    # The detail may quote a remote mail server (ESP webhooks): no NUL or control characters in the database.
    profile.suppression_reason = _CONTROL_RE.sub(" ", detail)[:1000]
    profile.suppressed_at = timezone.now()
    profile.next_digest_at = None
    profile.save(update_fields=["suppression", "suppression_reason", "suppressed_at", "next_digest_at", "modified_at"])
    return profile


def account_password_discard(*, user) -> bool:
    """Make ``user``'s password unusable; return whether there was one to discard.

    Called when someone proves they own the address of an account that was never
    verified (subscribe box, emailed sign-in code) and did not choose its password
    in this browser: whoever chose it may be an attacker who signed up first with
    the victim's address (account pre-takeover). The owner signs in by emailed code
    and may set a password of their own. Changing the stored hash also ends every
    session of the account (Django checks each session's auth hash). ``user`` is
    changed in place, so a login that follows in the same request uses the new hash.
    """
    if not user.has_usable_password():
        return False
    user.set_unusable_password()
    user.save(update_fields=["password"])
    return True


def account_is_verified(*, user) -> bool:
    """Whether any address of ``user`` has been verified (the account has an owner who proved it)."""
    return EmailAddress.objects.filter(user=user, verified=True).exists()


# --- resuming after a suppression --------------------------------------------------------

RESUME_SALT = "paperboy.subscriptions.resume"
RESUME_MAX_AGE = 3 * 24 * 3600  # seconds: long enough for a mailbox checked once a weekend
# Someone else stopped these digests (the mail server, the reader's spam button): only the mailbox may undo it.
RESUME_NEEDS_MAILBOX = frozenset({Suppression.BOUNCED, Suppression.COMPLAINED})


def profile_resume(*, profile: Profile) -> Profile:
    """Lift the suppression and schedule the next digest (callers decide whether the reader may)."""
    profile.suppression = Suppression.NONE
    profile.suppression_reason = ""
    profile.suppressed_at = None
    profile.save(update_fields=["suppression", "suppression_reason", "suppressed_at", "modified_at"])
    return profile_reschedule(profile=profile)


def resume_needs_mailbox_proof(*, profile: Profile) -> bool:
    """Whether resuming needs the emailed link: the suppression came from a bounce or a complaint."""
    return profile.suppression in RESUME_NEEDS_MAILBOX


def _suppression_stamp(profile: Profile) -> str:
    return f"{profile.suppression}@{profile.suppressed_at.isoformat() if profile.suppressed_at else ''}"


def resume_token_make(*, profile: Profile) -> str:
    """A signed token that lifts exactly this suppression of this profile (a later one needs a new token)."""
    return signing.dumps({"u": profile.user_id, "s": _suppression_stamp(profile)}, salt=RESUME_SALT)


def resume_token_profile(*, token: str) -> Profile | None:
    """The suppressed profile ``token`` was made for, if it is valid, unexpired and its suppression still stands."""
    try:
        data = signing.loads(token, salt=RESUME_SALT, max_age=RESUME_MAX_AGE)
    except signing.BadSignature:  # also SignatureExpired
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return None
    profile = Profile.objects.filter(user_id=data["u"], user__is_active=True).first()
    if profile is None or profile.suppression == Suppression.NONE or _suppression_stamp(profile) != data.get("s"):
        return None
    return profile


@transaction.atomic
def profile_resume_by_token(*, token: str) -> Profile | None:
    """Resume the profile ``token`` names (good once: afterwards its suppression no longer stands)."""
    profile = resume_token_profile(token=token)
    if profile is None:
        return None
    profile = Profile.objects.select_for_update().get(pk=profile.pk)
    if _suppression_stamp(profile) != signing.loads(token, salt=RESUME_SALT)["s"]:
        return None  # lifted (or replaced) by a concurrent request
    return profile_resume(profile=profile)


def subscriber_create(*, email: str, **preferences) -> User:
    """Create (or return) an unconfirmed subscriber for ``email`` with an unusable password."""
    email = User.objects.normalize_email(email).strip()
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = User(username=_username_for(email), email=email)
        user.set_unusable_password()
        user.save()
    profile = profile_ensure(user=user)
    if preferences:
        profile_update(profile=profile, **preferences)
    return user


def _username_for(email: str) -> str:
    """Usernames are internal (login is by email); keep them unique and short."""
    import hashlib

    return "u_" + hashlib.sha256(email.lower().encode()).hexdigest()[:24]
