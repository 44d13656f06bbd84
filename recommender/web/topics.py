"""The topics page (/account/topics/): list, create, rename, edit each topic's filters and dial, delete.

A topic's page previews its first picks at the dial's position (``topic_preview``): moving the dial shows
its effect at once, before saving.

Thin views over ``recommender.subscriptions.topics``: every change is a POST with a CSRF token, every
refusal (a taken name, the last topic, too many topics) comes back on the form. A topic is addressed by
its slug, looked up among the signed-in reader's own topics only: another reader's slug is a 404.
"""

from __future__ import annotations

import math

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from ..subscriptions.services import profile_ensure
from ..subscriptions.topics import (
    TOPIC_FIELDS,
    TopicError,
    topic_by_slug,
    topic_create,
    topic_default_ensure,
    topic_delete,
    topic_update,
    topic_vote_counts,
    topics_of,
)
from .recommendations import picks_for
from .topic_forms import TopicForm, TopicNameForm

PREVIEW_PICKS = 5  # the preview of the dial: enough to see the order move, small enough to rank at once


def reader_topic(request, slug: str | None):
    """The signed-in reader's topic ``slug`` (their default one for None); 404 for any other slug."""
    if slug is None:
        return topic_default_ensure(user=request.user)
    topic = topic_by_slug(user=request.user, slug=slug)
    if topic is None:
        raise Http404("No such topic")
    return topic


@login_required
@require_http_methods(["GET", "POST"])
def topics_page(request):
    topic_default_ensure(user=request.user)
    form = TopicNameForm(request.POST or None, prefix="new")
    if request.method == "POST" and form.is_valid():
        try:
            topic = topic_create(user=request.user, name=form.cleaned_data["name"])
        except TopicError as exc:
            form.add_error("name", str(exc))
        else:
            messages.success(request, f"Topic “{topic.name}” created: choose what it follows.")
            return redirect("web:topic", slug=topic.slug)
    topics = topics_of(user=request.user)
    votes = topic_vote_counts(user=request.user)
    for topic in topics:
        topic.votes = votes.get(topic.pk, 0)
    return render(request, "web/topics.html", {"topics": topics, "form": form, "default": topics[0]})


@login_required
@require_http_methods(["GET", "POST"])
def topic_edit(request, slug: str):
    topic = reader_topic(request, slug)
    initial = {name: getattr(topic, name) for name in TOPIC_FIELDS}
    form = TopicForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            topic_update(topic=topic, **form.cleaned_data)
        except TopicError as exc:
            form.add_error("name", str(exc))
        else:
            messages.success(request, f"Topic “{topic.name}” saved.")
            return redirect("web:topic", slug=topic.slug)
    profile = profile_ensure(user=request.user)
    topics = topics_of(user=request.user)
    form.fields["trending_weight"].widget.attrs.update(
        {
            "hx-get": reverse("web:topic_preview", args=[topic.slug]),
            "hx-trigger": "change, input delay:400ms",
            "hx-target": "#dial-preview",
        }
    )
    weight = form.cleaned_data.get("trending_weight", topic.trending_weight) if form.is_bound else topic.trending_weight
    feed_url = request.build_absolute_uri(reverse("web:topic_feed", args=[profile.feed_token, topic.slug]))
    context = {
        "topic": topic,
        "form": form,
        "is_default": topics[0].pk == topic.pk,
        "topics": topics,
        "feed_url": feed_url,
        "votes": topic_vote_counts(user=request.user).get(topic.pk, 0),
        "picks": picks_for(user=request.user, n=PREVIEW_PICKS, topic=topic, trending_weight=weight),
        "weight": weight,
    }
    return render(request, "web/topic_edit.html", context)


def _dial(request, topic) -> float:
    """``?trending_weight`` clamped to 0 ... 1, or the topic's own dial when absent or not a number."""
    try:
        weight = float(request.GET.get("trending_weight", ""))
    except ValueError:
        return topic.trending_weight
    return min(max(weight, 0.0), 1.0) if math.isfinite(weight) else topic.trending_weight


@login_required
@require_GET
def topic_preview(request, slug: str):
    """The topic's first picks at the dial's position (``?trending_weight=``), saved or not; changes nothing.

    The topic page swaps this in (htmx) whenever the dial moves, so the effect shows before saving.
    """
    topic = reader_topic(request, slug)
    weight = _dial(request, topic)
    picks = picks_for(user=request.user, n=PREVIEW_PICKS, topic=topic, trending_weight=weight)
    return render(request, "web/_dial_preview.html", {"picks": picks, "weight": weight, "topic": topic})


@login_required
@require_http_methods(["GET", "POST"])
def topic_delete_view(request, slug: str):
    """GET: what deleting would forget, and a button; POST: delete (never the reader's last topic)."""
    topic = reader_topic(request, slug)
    if request.method == "POST":
        try:
            deleted = topic_delete(topic=topic)
        except TopicError as exc:
            messages.error(request, str(exc))
            return redirect("web:topic", slug=topic.slug)
        noun = "vote" if deleted == 1 else "votes"
        messages.success(request, f"Topic “{topic.name}” deleted, with its {deleted} {noun}.")
        return redirect("web:topics")
    context = {
        "topic": topic,
        "votes": topic_vote_counts(user=request.user).get(topic.pk, 0),
        "last": len(topics_of(user=request.user)) == 1,
    }
    return render(request, "web/topic_delete.html", context)
