"""Pausing the digest from the account pages (the rules live in ``subscriptions.pause``).

A pause differs from "resume my digest" (``resume.py``): nothing is stopped, the digest comes back by
itself on the day chosen. Both views are POST-only and redirect back to the preferences page.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_POST

from ..subscriptions.pause import (
    PAUSE_MAX_DAYS,
    PAUSE_WEEKS,
    pause_end_for,
    pause_label,
    profile_pause,
    profile_unpause,
)
from ..subscriptions.schedule import zone
from ..subscriptions.services import profile_ensure

LENGTH_CHOICES = [(str(w), f"{w} week{'s' if w > 1 else ''}") for w in PAUSE_WEEKS] + [("date", "until a date")]


START_CHOICES = [("now", "now"), ("after_next", "after my next digest (it says so in its footer)")]


class PauseForm(forms.Form):
    length = forms.ChoiceField(choices=LENGTH_CHOICES, widget=forms.RadioSelect, label="Pause my digest for")
    start = forms.ChoiceField(choices=START_CHOICES, widget=forms.RadioSelect, label="Starting", required=False)
    until = forms.DateField(required=False, label="Until", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, today: dt.date, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today

    def clean(self):
        data = super().clean()
        if data.get("length") == "date":
            until = data.get("until")
            if until is None:
                self.add_error("until", "Choose the day your digest comes back.")
            elif until <= self.today:
                self.add_error("until", "Choose a day after today.")
            elif until > self.today + dt.timedelta(days=PAUSE_MAX_DAYS):
                self.add_error("until", f"A pause lasts at most {PAUSE_MAX_DAYS // 30} months: unsubscribe instead.")
        return data


def pause_form(*, profile, data=None) -> PauseForm:
    today = timezone.now().astimezone(zone(profile.time_zone)).date()
    return PauseForm(data, today=today, initial={"length": "1", "start": "now"})


def _pause_start(profile, choice: str) -> dt.datetime | None:
    """``None`` (now), or just after the next scheduled digest: that one goes out and announces the pause."""
    if choice != "after_next" or profile.next_digest_at is None or profile.next_digest_at <= timezone.now():
        return None
    return profile.next_digest_at + dt.timedelta(seconds=1)


@login_required
@require_POST
def pause(request):
    profile = profile_ensure(user=request.user)
    form = pause_form(profile=profile, data=request.POST)
    if not form.is_valid():
        errors = "; ".join(str(e) for errs in form.errors.values() for e in errs)
        messages.error(request, f"Not paused: {errors}")
        return redirect("web:preferences")
    length = form.cleaned_data["length"]
    if length == "date":
        end = pause_end_for(profile=profile, until=form.cleaned_data["until"])
    else:
        end = pause_end_for(profile=profile, weeks=int(length))
    profile = profile_pause(profile=profile, end=end, start=_pause_start(profile, form.cleaned_data.get("start") or ""))
    messages.success(request, f"Your digest is paused until {pause_label(profile)}. It comes back by itself.")
    return redirect("web:preferences")


@login_required
@require_POST
def unpause(request):
    profile = profile_ensure(user=request.user)
    profile_unpause(profile=profile)
    messages.success(request, "Your digest is back on.")
    return redirect("web:preferences")
