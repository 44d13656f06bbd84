"""The personal feed: a user's recommendations as Atom at a secret-token URL, one URL per topic."""

from __future__ import annotations

import datetime as dt
import re

from django.conf import settings
from django.http import Http404, HttpResponse
from django.urls import reverse
from django.utils import feedgenerator, timezone

from ..models import Profile
from ..subscriptions.topics import topic_by_slug, topic_default
from .recommendations import picks_for

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _xml_safe(text: str) -> str:
    """Drop control characters XML cannot carry (ingested text may contain them)."""
    return _CONTROL.sub("", text or "")


class TextSummaryAtomFeed(feedgenerator.Atom1Feed):
    """Atom whose entry summaries are ``type="text"``: a reader shows them as characters, never as markup.

    Django's ``Atom1Feed`` writes ``description`` as ``<summary type="html">``, which tells the
    reader to render it: an ingested abstract with ``<svg/onload=...>`` would become live markup.
    Items carry their text in ``text_summary`` (``description`` stays None) and it is written,
    escaped by the XML writer, as ``type="text"``.
    """

    def add_item_elements(self, handler, item):
        super().add_item_elements(handler, item)
        if item.get("text_summary"):
            handler.addQuickElement("summary", item["text_summary"], {"type": "text"})


def personal_feed(request, token: str, slug: str | None = None) -> HttpResponse:
    """The reader's ranking as Atom: their default topic (``/feed/<token>/atom.xml``) or one topic by slug."""
    profile = Profile.objects.select_related("user").filter(feed_token=token, user__is_active=True).first()
    topic = None
    if profile is not None:
        topic = topic_default(user=profile.user) if slug is None else topic_by_slug(user=profile.user, slug=slug)
    if profile is None or (slug is not None and topic is None):
        raise Http404("No such feed")
    named = slug is not None and topic is not None
    feed = TextSummaryAtomFeed(
        title=f"Paperboy: {_xml_safe(topic.name)}" if named else "Paperboy: papers for you",
        link=settings.SITE_URL + (reverse("web:for_you_topic", args=[topic.slug]) if named else reverse("web:for_you")),
        description="Your personal arXiv recommendations",
        feed_url=request.build_absolute_uri(),
        language="en",
    )
    now = timezone.now()
    for pick in picks_for(user=profile.user, n=profile.papers_per_email or 10, topic=topic):
        p = pick.paper
        day = p.announced_on
        feed.add_item(
            title=_xml_safe(p.title),
            link=settings.SITE_URL + reverse("web:paper", args=[p.arxiv_id]),
            description=None,
            text_summary=_xml_safe(f"{pick.reason}\n\n{p.abstract}"),
            unique_id=f"arxiv:{p.arxiv_id}",
            pubdate=dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC) if day else now,
            author_name=_xml_safe(", ".join(p.authors[:10])) if p.authors else None,
            categories=[_xml_safe(c) for c in p.category_list],
        )
    response = HttpResponse(content_type="application/atom+xml; charset=utf-8")
    feed.write(response, "utf-8")
    response["Cache-Control"] = "private, max-age=300"
    return response
