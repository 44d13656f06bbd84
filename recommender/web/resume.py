"""Resuming the digest after an unsubscribe, a bounce or a complaint (the preferences page's "resume my digest").

Thin: the rules live in ``subscriptions.services``. An unsubscribe was the
reader's own choice and is lifted by their signed-in POST. A bounce or a
complaint was reported by someone else (the mail server, the reader's spam
button): the POST only emails a link to the address, and the link's POST
lifts it. That proves the address takes mail again and that whoever reads it
wants the digest back. A GET never changes anything (link scanners).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.mail import EmailMultiAlternatives
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from ..models import Suppression
from ..subscriptions.schedule import zone
from ..subscriptions.services import (
    RESUME_MAX_AGE,
    profile_ensure,
    profile_resume,
    profile_resume_by_token,
    resume_needs_mailbox_proof,
    resume_token_make,
    resume_token_profile,
)
from .adapter import mail_context
from .ratelimit import rate_limit_hit

logger = logging.getLogger(__name__)

RESUME_MAILS_PER_DAY = 3


def next_digest_label(profile) -> str:
    """'Tuesday 2 December 2026, 07:30 (Europe/Paris)', or '' when nothing is scheduled."""
    if profile.next_digest_at is None:
        return ""
    local = profile.next_digest_at.astimezone(zone(profile.time_zone))
    return f"{local:%A} {local.day} {local:%B %Y, %H:%M} ({profile.time_zone})"


def _back_on(request, profile) -> None:
    when = next_digest_label(profile)
    suffix = f" The next one comes {when}." if when else " Choose daily or weekly below to get it again."
    messages.success(request, "Your digest is back on." + suffix)


def _send_resume_link(request, profile) -> None:
    url = request.build_absolute_uri(reverse("web:resume_confirm", args=[resume_token_make(profile=profile)]))
    context = {"resume_url": url, "email": profile.user.email, "days": RESUME_MAX_AGE // 86400, **mail_context()}
    subject = render_to_string("account/email/resume_digest_subject.txt", context).strip()
    body = render_to_string("account/email/resume_digest_message.txt", context)
    message = EmailMultiAlternatives(settings.ACCOUNT_EMAIL_SUBJECT_PREFIX + subject, body, None, [profile.user.email])
    message.attach_alternative(render_to_string("account/email/resume_digest_message.html", context), "text/html")
    message.send()


@login_required
@require_POST
def resume(request):
    profile = profile_ensure(user=request.user)
    if profile.suppression == Suppression.NONE:
        messages.info(request, "Your digest is not stopped: nothing to resume.")
    elif not resume_needs_mailbox_proof(profile=profile):
        _back_on(request, profile_resume(profile=profile))
    elif rate_limit_hit(scope="resume-mail", key=str(request.user.pk), limit=RESUME_MAILS_PER_DAY, period=86400):
        messages.error(request, "We already emailed you resume links today: use the latest one.")
    else:
        _send_resume_link(request, profile)
        messages.info(
            request,
            f"We emailed a link to {profile.user.email}. Open it and confirm to resume your digest"
            " (this makes sure the address takes mail again and that you want it).",
        )
    return redirect("web:preferences")


@never_cache
@require_http_methods(["GET", "POST"])
def resume_confirm(request, token: str):
    """GET: a page with one button; POST: lift the bounce or complaint the link was sent for."""
    profile = resume_token_profile(token=token)
    if profile is None:
        return render(request, "digest/link_invalid.html", status=400)
    if request.method == "POST":
        profile = profile_resume_by_token(token=token)
        if profile is None:
            return render(request, "digest/link_invalid.html", status=400)
        return render(request, "web/resume_confirm.html", {"done": True, "next_digest": next_digest_label(profile)})
    return render(request, "web/resume_confirm.html", {"done": False, "email": profile.user.email})
