"""Forms of the topics page: a new topic's name, and one topic's name, filters and personal <-> trending dial.

They validate and normalise only; ``recommender.subscriptions.topics`` decides (unique names, the limit on
topics, never deleting the last one) and its ``TopicError`` is shown on the form.
"""

from __future__ import annotations

from django import forms

from ..papers.selectors import CATEGORY_RE, category_groups
from ..subscriptions.topics import MAX_NAME_CHARS
from .forms import CONTROL_RE, RuleListField

DIAL_STEP = 0.05


class TopicNameForm(forms.Form):
    name = forms.CharField(label="Topic name", max_length=MAX_NAME_CHARS, strip=True)

    def clean_name(self) -> str:
        name = " ".join(CONTROL_RE.sub(" ", self.cleaned_data["name"]).split())
        if not name:
            raise forms.ValidationError("A topic needs a name.")
        return name


class DialInput(forms.NumberInput):
    """``<input type="range">`` from "only my taste" (0) to "what the community upvotes" (1)."""

    input_type = "range"

    def __init__(self):
        super().__init__({"min": "0", "max": "1", "step": str(DIAL_STEP), "list": "dial-marks"})


class TopicForm(TopicNameForm):
    categories = forms.MultipleChoiceField(
        label="Categories", choices=category_groups, widget=forms.CheckboxSelectMultiple, required=False
    )
    include_keywords = RuleListField(label="Always include keywords")
    exclude_keywords = RuleListField(label="Never show keywords")
    include_authors = RuleListField(label="Follow authors")
    exclude_authors = RuleListField(label="Hide authors")
    trending_weight = forms.FloatField(
        label="Personal ↔ trending",
        min_value=0.0,
        max_value=1.0,
        widget=DialInput(),
        help_text="Left: only what you voted for counts. Right: what the community upvotes counts most.",
    )

    def clean_categories(self) -> list[str]:
        return [c for c in self.cleaned_data["categories"] if CATEGORY_RE.match(c)]
