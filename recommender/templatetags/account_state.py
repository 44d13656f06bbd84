"""``{% pause_banner %}``: the "your digest is paused" banner on every page a signed-in reader sees."""

from __future__ import annotations

from django import template
from django.utils import timezone

from ..models import Profile
from ..subscriptions.pause import pause_is_active, pause_is_set, pause_label

register = template.Library()


@register.inclusion_tag("web/_pause_banner.html", takes_context=True)
def pause_banner(context) -> dict:
    """The banner's context: nothing for visitors and readers without a pause (one query otherwise)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"show": False}
    profile = Profile.objects.filter(user=user).only("paused_from", "paused_until", "time_zone").first()
    now = timezone.now()
    if profile is None or not pause_is_set(profile, now=now):
        return {"show": False}
    return {
        "show": True,
        "active": pause_is_active(profile, at=now),
        "starts": profile.paused_from,
        "until": pause_label(profile),
        "csrf_token": context.get("csrf_token"),
    }
