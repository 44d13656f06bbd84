"""Forms for the public site: search, subscribe, preferences, onboarding, account deletion (topics: topic_forms).

Forms validate and normalise; the views hand ``cleaned_data`` to services.
"""

from __future__ import annotations

import functools
import re
import zoneinfo

from django import forms
from django.core.exceptions import ValidationError
from django.utils.html import format_html, format_html_join

from ..models import EmptyDay, Frequency
from ..papers.search import MAX_QUERY_CHARS, MODES
from ..papers.selectors import category_groups
from ..summaries import languages as digest_languages

WEEKDAYS = [
    (0, "Monday"),
    (1, "Tuesday"),
    (2, "Wednesday"),
    (3, "Thursday"),
    (4, "Friday"),
    (5, "Saturday"),
    (6, "Sunday"),
]
# The digest languages the summaries app can fill (recommender/summaries/languages.py).
LANGUAGES = digest_languages.choices()
MAX_RULES = 50
MAX_RULE_CHARS = 100
# C0/C1 control characters (NUL is refused by CharField itself): never stored in a rule.
CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class SearchForm(forms.Form):
    q = forms.CharField(label="Search papers", max_length=MAX_QUERY_CHARS, required=False, strip=True)
    mode = forms.ChoiceField(
        choices=[("blend", "Blend"), ("keyword", "Keyword"), ("semantic", "Semantic")], required=False
    )

    def clean_mode(self) -> str:
        mode = self.cleaned_data.get("mode") or "blend"
        return mode if mode in MODES else "blend"


class SubscribeForm(forms.Form):
    email = forms.EmailField(label="Email address", max_length=254)


def _category_field(label: str = "Categories") -> forms.MultipleChoiceField:
    # A callable: the offered categories and their popularity order follow the catalogue, not import time.
    return forms.MultipleChoiceField(
        label=label, choices=category_groups, widget=forms.CheckboxSelectMultiple, required=False
    )


@functools.cache
def time_zone_names() -> tuple[str, ...]:
    """IANA zones offered in the list: ``Area/City`` names (no ``Etc/GMT+3`` or legacy aliases), and UTC."""
    names = zoneinfo.available_timezones()
    return ("UTC", *sorted(z for z in names if "/" in z and not z.startswith(("Etc/", "SystemV/", "US/"))))


class TimeZoneInput(forms.TextInput):
    """A text field with a searchable list of IANA zones (``<input list>`` + ``<datalist>``).

    ``static/js/timezone.js`` fills in the browser's zone where the field still
    holds the default; without JavaScript it stays a plain text field.
    """

    def __init__(self, attrs=None):
        super().__init__({"autocomplete": "off", "spellcheck": "false", "data-browser-zone": "", **(attrs or {})})

    def render(self, name, value, attrs=None, renderer=None):
        list_id = f"{(attrs or {}).get('id') or name}-list"
        field = super().render(name, value, {**(attrs or {}), "list": list_id}, renderer)
        options = format_html_join("", '<option value="{}">', ((z,) for z in time_zone_names()))
        return format_html('{}<datalist id="{}">{}</datalist>', field, list_id, options)


def _time_zone_field(*, saved: bool) -> forms.CharField:
    """``saved``: the value is the reader's own choice (preferences), so the browser's zone is only offered.

    Onboarding may leave it out (a page rendered before the field existed): the saved zone then stays.
    """
    return forms.CharField(
        label="Time zone",
        max_length=64,
        required=saved,
        help_text="Type to search, e.g. Europe/Paris or America/New_York.",
        widget=TimeZoneInput({"data-keep-default": ""} if saved else None),
    )


def _clean_time_zone(value: str) -> str:
    name = value.strip()
    if name not in zoneinfo.available_timezones():
        raise ValidationError("Unknown time zone: use an IANA name such as Europe/Paris.")
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError("Unknown time zone.") from exc
    return name


class RuleListField(forms.CharField):
    """One rule per line or comma: trimmed, de-duplicated, bounded in count and length."""

    widget = forms.Textarea(attrs={"rows": 2})

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", MAX_RULES * (MAX_RULE_CHARS + 2))
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return "\n".join(value)
        return value

    def clean(self, value) -> list[str]:
        text = super().clean(value) or ""
        rules: list[str] = []
        for part in re.split(r"[\n,]", text):
            part = " ".join(CONTROL_RE.sub(" ", part).split())
            if not part:
                continue
            if len(part) > MAX_RULE_CHARS:
                raise ValidationError(f"Each entry must be at most {MAX_RULE_CHARS} characters.")
            if part.lower() not in (r.lower() for r in rules):
                rules.append(part)
        if len(rules) > MAX_RULES:
            raise ValidationError(f"At most {MAX_RULES} entries.")
        return rules


class PreferencesForm(forms.Form):
    frequency = forms.ChoiceField(choices=Frequency.choices, widget=forms.RadioSelect)
    weekday = forms.TypedChoiceField(choices=WEEKDAYS, coerce=int, label="Weekday (weekly digests)")
    send_time = forms.TimeField(label="Local send time", widget=forms.TimeInput(attrs={"type": "time"}))
    time_zone = _time_zone_field(saved=True)
    papers_per_email = forms.IntegerField(label="Papers per email", min_value=1, max_value=50)
    # What to read (categories, keywords, authors, the dial) is per topic: recommender/web/topic_forms.py.
    language = forms.ChoiceField(choices=LANGUAGES, label="Digest language")
    translate_abstract = forms.BooleanField(
        required=False,
        label="Translate the abstracts too",
        help_text="With a second language: each paper shown in full also gets its abstract machine-translated, "
        "above the original (fewer papers are shown in full to keep the email small).",
    )
    email_per_topic = forms.BooleanField(
        required=False,
        label="One email per topic",
        help_text="With several topics: a separate email for each topic, its name in the subject, instead of one "
        "email with a section per topic (a paper still comes once, under the topic that ranks it highest).",
    )
    empty_day = forms.ChoiceField(
        choices=EmptyDay.choices, widget=forms.RadioSelect, label="On a day with nothing new", required=False
    )

    def clean_time_zone(self) -> str:
        return _clean_time_zone(self.cleaned_data["time_zone"])

    def clean_empty_day(self) -> str:
        return self.cleaned_data.get("empty_day") or EmptyDay.NOTHING  # not sent: the default, send nothing


class OnboardingCategoriesForm(forms.Form):
    categories = _category_field("Which areas do you follow?")
    time_zone = _time_zone_field(saved=False)

    def clean_time_zone(self) -> str:
        value = self.cleaned_data["time_zone"]
        return _clean_time_zone(value) if value.strip() else ""

    def changes(self) -> dict:
        """The profile fields to save: the categories, and the time zone when one was given."""
        return {name: value for name, value in self.cleaned_data.items() if name != "time_zone" or value}

    def clean_categories(self) -> list[str]:
        chosen = self.cleaned_data["categories"]
        if not chosen:
            raise ValidationError("Pick at least one category.")
        return chosen


class DeleteAccountForm(forms.Form):
    confirm = forms.BooleanField(label="Yes, delete my account and everything I rated", required=True)
    password = forms.CharField(widget=forms.PasswordInput, required=False, max_length=4096)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        if not user.has_usable_password():
            del self.fields["password"]

    def clean_password(self) -> str:
        password = self.cleaned_data.get("password", "")
        if not self.user.check_password(password):
            raise ValidationError("That is not your password.")
        return password
