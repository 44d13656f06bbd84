"""Public pages and account pages: thin views over selectors, search and services.

Listings attach the user's marks to each card from one query
(``selectors.interactions_by_paper``). Every vote button is a plain POST form
that htmx upgrades to an in-place swap of ``web/_actions.html``. Public pages
render their body once per URL for all anonymous visitors (``_public_page``).
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import hashlib
import json
import secrets

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from .. import arxiv_ids
from ..interactions.services import interaction_record, interaction_undo, interactions_reset
from ..models import InteractionKind, InteractionSource
from ..papers import search as paper_search
from ..papers import selectors, trending
from ..serving import content_encoder, similar_papers
from ..subscriptions.services import profile_ensure, profile_update
from ..subscriptions.topics import (
    topic_default_ensure,
    topic_of_user,
    topic_reset,
    topic_update,
    topics_of,
)
from .forms import (
    DeleteAccountForm,
    OnboardingCategoriesForm,
    PreferencesForm,
    SearchForm,
    SubscribeForm,
)
from .pause import pause_form
from .ratelimit import client_ip, rate_limit_hit
from .recommendations import hidden_ids, picks_for
from .resume import next_digest_label
from .subscribe import subscription_request
from .topics import reader_topic

PAGE_SIZE = 30
ANONYMOUS_CACHE_SECONDS = 30  # how stale an anonymous visitor's listing (e.g. vote counts) may be
SEARCH_RESULTS = 100
SEARCH_PAGE_SIZE = 20
SIMILAR_CACHE_SECONDS = 3600  # neighbours change only when the model or the archive does
MAX_CACHED_PAGE_NUMBER = 10_000  # any larger page number is the last page, like this one (one cache key for all)
ACTION_KINDS = (
    InteractionKind.UPVOTE,
    InteractionKind.THUMBS_UP,
    InteractionKind.THUMBS_DOWN,
    InteractionKind.NOT_INTERESTED,
    InteractionKind.SAVE,
)
SUBSCRIBE_LIMIT_IP = (10, 3600)  # per client IP per hour
SUBSCRIBE_LIMIT_EMAIL = (3, 3600)  # per address per hour: no mail-bombing a stranger


def safe_next(request, fallback: str = "/") -> str:
    """The ``next`` parameter if it points back at this site, else ``fallback``."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def _with_marks(request, papers) -> list:
    papers = list(papers)
    marks = selectors.interactions_by_paper(user=request.user, paper_ids=[p.id for p in papers])
    for p in papers:
        p.marks = marks.get(p.id, set())
    return papers


def _category(request) -> str:
    category = request.GET.get("category", "").strip()
    return category if selectors.CATEGORY_RE.match(category) else ""


def _page(request, items, size: int = PAGE_SIZE):
    return Paginator(items, size).get_page(request.GET.get("page"))


def _listing_context(request, page, **extra) -> dict:
    return {
        "page": page,
        "papers": _with_marks(request, page.object_list),
        "category_groups": selectors.category_groups(),  # named and grouped (papers/taxonomy.py)
        "category": _category(request),
        **extra,
    }


def _page_number(request) -> str:
    """``?page`` as the paginator reads it (not a number: page 1; huge: the last page), as a canonical string."""
    try:
        number = int(request.GET.get("page", ""))
    except ValueError:
        return ""
    return str(min(max(number, 0), MAX_CACHED_PAGE_NUMBER))


def _canonical_request(request, params: dict[str, str]):
    """A copy of ``request`` whose query string holds only ``params`` (sorted, empty ones dropped).

    An anonymous body is cached under and rendered from this request, so one
    cache entry serves every spelling of the same page (``?utm_source=…``,
    reordered or repeated parameters) and no visitor's extra parameters end up
    in the links of a body everyone is served.
    """
    query = urlencode(sorted((name, value) for name, value in params.items() if value))
    canonical = copy.copy(request)
    canonical.META = {**request.META, "QUERY_STRING": query}
    canonical.GET = QueryDict(query)
    return canonical


def _public_page(request, body_template: str, build, params: dict[str, str] | None = None) -> HttpResponse:
    """Render a public page whose body ``build(request)`` describes as ``(title, context)``.

    Anonymous visitors all see the same body for a URL (their vote buttons are
    login links, with no CSRF token), so it is rendered once per
    ``ANONYMOUS_CACHE_SECONDS`` and reused: the pages stay fast under load on
    a large archive. Its cache key is the path plus ``params``, the query
    parameters the view reads in canonical form: any other parameter is
    ignored, so random query strings cannot grow the cache. Signed-in users
    always get a fresh body with their marks.
    """
    key, body_request = None, request
    if not request.user.is_authenticated:
        body_request = _canonical_request(request, params or {})
        key = "web:page:" + hashlib.sha256(body_request.get_full_path().encode()).hexdigest()
        cached = cache.get(key)
        if cached is not None:
            title, body = cached
            return _page_response(request, title, body)
    title, context = build(body_request)
    # One login link for every vote button of the page (anonymous visitors only).
    context["login_next"] = f"{settings.LOGIN_URL}?{urlencode({'next': body_request.get_full_path()})}"
    body = render_to_string(body_template, context, body_request)
    if key is not None:
        cache.set(key, (title, body), ANONYMOUS_CACHE_SECONDS)
    # The frame (subscribe box with its CSRF token) is rendered for the real request.
    return _page_response(request, title, body)


def _page_response(request, title: str, body: str) -> HttpResponse:
    # ``body`` is template output (every ingested value escaped by the template engine).
    return render(
        request,
        "web/page.html",
        {"page_title": title, "body": mark_safe(body), "subscribe_form": SubscribeForm()},  # noqa: S308
    )


def _day_param(request) -> str:
    """``?day`` as an ISO date, or "" when absent or unreadable (both mean the latest day)."""
    try:
        return dt.date.fromisoformat(request.GET.get("day", "")).isoformat()
    except ValueError:
        return ""


@require_GET
def daily(request):
    def build(request):
        day_param = _day_param(request)
        day = dt.date.fromisoformat(day_param) if day_param else selectors.latest_day()
        category = _category(request)
        if day is None:
            page = _page(request, [])
            prev_day = next_day = None
        else:
            page = _page(request, selectors.papers_announced_on(day=day, category=category))
            prev_day, next_day = selectors.day_neighbours(day=day)
        title = f"Daily papers · {day:%b %-d, %Y}" if day else "Daily papers"
        return title, _listing_context(request, page, day=day, prev_day=prev_day, next_day=next_day)

    params = {"day": _day_param(request), "category": _category(request), "page": _page_number(request)}
    return _public_page(request, "web/_daily_body.html", build, params)


@require_GET
def trending_view(request):
    def build(request):
        page = _page(request, selectors.papers_trending(category=_category(request)))
        formula = {
            "gravity": trending.GRAVITY,
            "new_boost": trending.NEW_BOOST,
            "new_hours": trending.NEW_HOURS,
            "local_weight": trending.LOCAL_WEIGHT,
            "window_days": trending.WINDOW_DAYS,
        }
        return "Trending papers", _listing_context(request, page, formula=formula)

    params = {"category": _category(request), "page": _page_number(request)}
    return _public_page(request, "web/_trending_body.html", build, params)


@require_GET
def search_view(request):
    def build(request):
        form = SearchForm(request.GET)
        query, mode, page = "", "blend", None
        if form.is_valid():
            query, mode = form.cleaned_data["q"], form.cleaned_data["mode"]
        if query:
            found = paper_search.search_hits(query=query, mode=mode, n=SEARCH_RESULTS, encoder=content_encoder())
            hits = {h.paper_id: h for h in found}
            page = _page(request, list(hits), SEARCH_PAGE_SIZE)
            page.object_list = selectors.papers_by_ids(ids=list(page.object_list))
            for paper in page.object_list:
                paper.matched = hits[paper.id].label  # "matched words", "similar meaning" or both
        ctx = {
            "form": form,
            "query": query,
            "mode": mode,
            "modes": [("blend", "Blend"), ("keyword", "Keyword"), ("semantic", "Semantic")],
            "page": page,
            "papers": _with_marks(request, page.object_list) if page else [],
        }
        return (f"{query[:60]} · Search" if query else "Search"), ctx

    params = {
        "q": request.GET.get("q", "").strip(),  # as SearchForm reads it
        "mode": request.GET.get("mode", ""),
        "page": _page_number(request),
    }
    return _public_page(request, "web/_search_body.html", build, params)


def _similar_ids(paper, hidden: set[int]) -> list[int]:
    if hidden:  # a reader with hidden / voted-down papers: their own list (cheap: the pool is cached)
        return _similar_ids_uncached(paper, hidden)
    key = f"web:similar:{paper.id}"
    ids = cache.get(key)
    if ids is None:
        ids = _similar_ids_uncached(paper, set())
        cache.set(key, ids, SIMILAR_CACHE_SECONDS)
    return ids


def _similar_ids_uncached(paper, hidden: set[int]) -> list[int]:
    return similar_papers(paper_id=paper.id, n=5, exclude_ids=hidden)


@require_GET
def paper_versioned(request, versioned: str):
    """A pasted ``2403.02233v2`` (or ``hep-th/9901001v1``): one canonical page per paper, every version on it."""
    arxiv_id, _ = arxiv_ids.parse(versioned)
    return redirect("web:paper", arxiv_id=arxiv_id, permanent=True)


@require_GET
def paper_detail(request, arxiv_id: str):
    def build(request):
        paper = selectors.paper_get(arxiv_id=arxiv_id)
        if paper is None:
            raise Http404("No such paper")  # raised before anything is cached
        similar = selectors.papers_by_ids(ids=_similar_ids(paper, hidden_ids(user=request.user)))
        _with_marks(request, [paper, *similar])
        translation = None
        if request.user.is_authenticated:
            language = profile_ensure(user=request.user).language
            translation = selectors.paper_translation(paper=paper, language=language)
        return paper.title[:80], {"paper": paper, "similar": similar, "translation": translation}

    return _public_page(request, "web/_paper_body.html", build)


@require_POST
def paper_act(request, arxiv_id: str):
    """Toggle one mark (upvote, thumbs, not interested, save) on a paper."""
    paper = selectors.paper_get(arxiv_id=arxiv_id)
    kind = request.POST.get("kind", "")
    if paper is None or kind not in ACTION_KINDS:
        raise Http404("No such paper or action")
    back = safe_next(request, reverse("web:paper", args=[paper.arxiv_id]))
    if not request.user.is_authenticated:
        login = f"{settings.LOGIN_URL}?{urlencode({'next': back})}"
        if request.headers.get("HX-Request"):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = login
            return response
        return redirect(login)
    marks = selectors.interactions_by_paper(user=request.user, paper_ids=[paper.id]).get(paper.id, set())
    # The topic the card was shown under (For you of a topic); anyone else's topic id is ignored.
    topic = topic_of_user(user=request.user, topic_id=request.POST.get("topic"))
    if kind in marks:
        interaction_undo(user=request.user, paper=paper, kind=kind)
    else:
        interaction_record(user=request.user, paper=paper, kind=kind, source=InteractionSource.WEB, topic=topic)
    if request.headers.get("HX-Request"):
        paper.refresh_from_db(fields=["local_upvotes", "hf_upvotes"])
        _with_marks(request, [paper])
        return render(request, "web/_actions.html", {"paper": paper, "next": back, "vote_topic": topic})
    return HttpResponseRedirect(back)


@login_required
@require_GET
def for_you(request, slug: str | None = None):
    """The reader's ranking under one topic (``/for-you/<slug>/``; ``/for-you/``: the default topic)."""
    profile = profile_ensure(user=request.user)
    topic = reader_topic(request, slug)
    topics = topics_of(user=request.user)
    picks = picks_for(user=request.user, n=max(20, profile.papers_per_email), topic=topic)
    _with_marks(request, [pick.paper for pick in picks])
    context = {"picks": picks, "profile": profile, "topic": topic, "topics": topics, "vote_topic": topic}
    return render(request, "web/for_you.html", context)


@require_POST
def subscribe(request):
    form = SubscribeForm(request.POST)
    back = safe_next(request)
    if not form.is_valid():
        messages.error(request, "Please enter a valid email address.")
        return redirect(back)
    email = form.cleaned_data["email"]
    limit, period = SUBSCRIBE_LIMIT_IP
    limited_ip = rate_limit_hit(scope="subscribe-ip", key=client_ip(request), limit=limit, period=period)
    limit, period = SUBSCRIBE_LIMIT_EMAIL
    limited_email = rate_limit_hit(scope="subscribe-email", key=email, limit=limit, period=period)
    if limited_ip or limited_email:
        response = render(request, "web/rate_limited.html", status=429)
        response["Retry-After"] = "3600"
        return response
    subscription_request(request=request, email=email)
    # Same words whatever happened: known or not, nobody learns who subscribes here.
    messages.success(
        request, "Thanks! Check your inbox: we sent a link to confirm your subscription. Nothing else until you do."
    )
    return redirect(back)


# --- Account ------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request):
    """Delivery settings; what to read is on the topics page (listed here, edited there)."""
    profile = profile_ensure(user=request.user)
    topic_default_ensure(user=request.user)
    fields = list(PreferencesForm.base_fields)
    if request.method == "POST":
        form = PreferencesForm(request.POST)
        if form.is_valid():
            profile_update(profile=profile, **form.cleaned_data)
            messages.success(request, "Preferences saved.")
            return redirect("web:preferences")
    else:
        form = PreferencesForm(initial={name: getattr(profile, name) for name in fields})
    feed_url = request.build_absolute_uri(reverse("web:feed", args=[profile.feed_token]))
    return render(
        request,
        "web/preferences.html",
        {
            "form": form,
            "profile": profile,
            "feed_url": feed_url,
            "next_digest": next_digest_label(profile),
            "pause_form": pause_form(profile=profile),
            "topics": topics_of(user=request.user),
        },
    )


@login_required
@require_POST
def feed_token_regenerate(request):
    profile = profile_ensure(user=request.user)
    profile_update(profile=profile, feed_token=secrets.token_urlsafe(24))
    messages.success(request, "New feed address created; the old one no longer works.")
    return redirect("web:preferences")


@login_required
@require_POST
def recommendations_reset(request):
    """Forget the reader's ratings: those cast under one topic (``topic=<slug>``) or, without it, all of them."""
    slug = request.POST.get("topic") or request.GET.get("topic")
    if slug:
        topic = reader_topic(request, slug)
        count = topic_reset(topic=topic)
        messages.success(request, f"Forgot the {count} ratings of “{topic.name}”. Its recommendations start afresh.")
        return redirect("web:topic", slug=topic.slug)
    count = interactions_reset(user=request.user)
    messages.success(request, f"Forgot {count} ratings. Your recommendations start afresh.")
    return redirect("web:preferences")


@login_required
@require_GET
def ratings_export(request, fmt: str):
    """The reader's ratings as CSV or JSON: all of them, or those of one topic (``?topic=<slug>``)."""
    slug = request.GET.get("topic")
    topic = reader_topic(request, slug) if slug else None
    rows = selectors.ratings_export(user=request.user, topic=topic)
    stamp = timezone.now().strftime("%Y%m%d") + (f"-{topic.slug}" if topic else "")
    if fmt == "json":
        response = HttpResponse(
            json.dumps({"ratings": rows}, ensure_ascii=False, indent=2), content_type="application/json"
        )
    else:
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        writer = csv.DictWriter(response, fieldnames=["created_at", "kind", "source", "topic", "arxiv_id", "title"])
        writer.writeheader()
        for row in rows:
            # Cells starting with = + - @ are formulas to a spreadsheet: neutralise them.
            writer.writerow({k: ("'" + v if isinstance(v, str) and v[:1] in "=+-@" else v) for k, v in row.items()})
    response["Content-Disposition"] = f'attachment; filename="paperboy-ratings-{stamp}.{fmt}"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
def account_delete(request):
    form = DeleteAccountForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        user = request.user
        logout(request)
        user.delete()
        messages.success(request, "Your account and all your data were deleted.")
        return redirect("web:daily")
    return render(request, "web/account_delete.html", {"form": form})


# --- Onboarding -------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def onboarding(request):
    """Step 1: pick categories."""
    profile = profile_ensure(user=request.user)
    topic = topic_default_ensure(user=request.user)  # onboarding sets up the default topic
    if request.method == "POST":
        form = OnboardingCategoriesForm(request.POST)
        if form.is_valid():
            changes = form.changes()
            topic_update(topic=topic, categories=changes.pop("categories"))
            profile_update(profile=profile, **changes)  # the time zone, when one was given
            return redirect("web:onboarding_rate")
    else:
        initial = {"categories": topic.categories or [], "time_zone": profile.time_zone}
        form = OnboardingCategoriesForm(initial=initial)
    return render(request, "web/onboarding.html", {"form": form, "step": 1})


ONBOARDING_CHOICES = {"up": InteractionKind.THUMBS_UP, "down": InteractionKind.THUMBS_DOWN}


@login_required
@require_http_methods(["GET", "POST"])
def onboarding_rate(request):
    """Step 2: rate about ten popular, diverse papers; then the user is onboarded."""
    profile = profile_ensure(user=request.user)
    topic = topic_default_ensure(user=request.user)
    suggestions = selectors.onboarding_suggestions(categories=topic.categories or [], n=10)
    if request.method == "POST":
        by_id = {p.id: p for p in suggestions}
        rated = 0
        for p in by_id.values():
            kind = ONBOARDING_CHOICES.get(request.POST.get(f"rating-{p.id}", ""))
            if kind:
                interaction_record(user=request.user, paper=p, kind=kind, source=InteractionSource.ONBOARDING)
                rated += 1
        profile_update(profile=profile, onboarded_at=timezone.now())
        noun = "rating" if rated == 1 else "ratings"
        messages.success(request, f"Thanks — {rated} {noun} recorded. Here is your first personal ranking.")
        return redirect("web:for_you")
    return render(request, "web/onboarding_rate.html", {"papers": suggestions, "step": 2})
