"""Views behind the links in digest emails: unsubscribe, one-click feedback, tracked clicks, previews.

Thin: they check a token, call a service and render a page. Link scanners
fetch every GET, so a GET never changes anything except recording a click
(which is only a weak signal); votes and unsubscribes happen on POST.
"""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from ..interactions.services import interaction_record
from ..models import DeliveredPaper, InteractionSource, Paper, Suppression
from ..subscriptions.services import profile_ensure, profile_suppress
from .services import digest_preview
from .tokens import (
    FEEDBACK_KINDS,
    LINK_NAMES,
    click_token,
    delivery_click_token,
    delivery_feedback_token,
    feedback_token,
    unsubscribe_token,
)

User = get_user_model()

FEEDBACK_LABELS = {
    "thumbs_up": "More like this",
    "thumbs_down": "Less like this",
    "not_interested": "Not interested",
}


def _user_or_404(user_id) -> object:
    return get_object_or_404(User, pk=user_id, is_active=True)


def paper_link(paper: Paper, name: str) -> str:
    """The stored URL named ``name`` for ``paper`` (never a URL from the request)."""
    # ``code_url`` is the page's rule too (recommender/paper_links.py): only https://github.com/ links.
    url = {"abs": paper.abs_url, "pdf": paper.pdf_url, "hf": paper.hf_url, "code": paper.code_url}.get(name, "")
    # Only web URLs leave the site; a stored value that is not one falls back to arXiv.
    if not url.startswith(("https://", "http://")):
        url = paper.abs_url
    return url


def _delivery_link(generator, token: str, paper_id: int) -> dict | None:
    """The per-email token's payload with ``p`` set, if ``paper_id`` was in that user's delivery; else None."""
    data = generator.check_token(token)
    if data is None or not isinstance(data.get("u"), int) or not isinstance(data.get("d"), int):
        return None
    # One probe of the plan rows' unique (delivery, paper) index; the user must be the delivery's too.
    if not DeliveredPaper.objects.filter(delivery_id=data["d"], user_id=data["u"], paper_id=paper_id).exists():
        return None
    return {**data, "p": paper_id}


@never_cache
@require_http_methods(["GET", "HEAD"])
def click(request, token: str):
    """Record a click as implicit feedback, then redirect to the paper's stored link."""
    data = click_token.check_token(token)
    if data is None or data["l"] not in LINK_NAMES:
        raise Http404("This link is invalid or has expired.")
    return _click(request, data)


@never_cache
@require_http_methods(["GET", "HEAD"])
def click_in_delivery(request, token: str, paper_id: int, link: str):
    """``click`` for the per-email token: the paper must be one the delivery listed."""
    data = _delivery_link(delivery_click_token, token, paper_id) if link in LINK_NAMES else None
    if data is None:
        raise Http404("This link is invalid or has expired.")
    return _click(request, {**data, "l": link})


def _click(request, data: dict):
    paper = get_object_or_404(Paper, pk=data["p"])
    if request.method == "GET":
        user = User.objects.filter(pk=data["u"], is_active=True).first()
        if user is not None:
            interaction_record(user=user, paper=paper, kind="click", source=InteractionSource.EMAIL)
    return HttpResponseRedirect(paper_link(paper, data["l"]))


@never_cache
@require_http_methods(["GET", "POST"])
def feedback(request, token: str):
    """GET: a page whose form submits itself (humans) or waits for a button (no JS); POST: record the vote."""
    data = feedback_token.check_token(token)
    if data is None or data["k"] not in FEEDBACK_KINDS:
        return render(request, "digest/link_invalid.html", status=400)
    return _feedback(request, data, token)


@never_cache
@require_http_methods(["GET", "POST"])
def feedback_in_delivery(request, token: str, paper_id: int, kind: str):
    """``feedback`` for the per-email token: the paper must be one the delivery listed."""
    data = _delivery_link(delivery_feedback_token, token, paper_id) if kind in FEEDBACK_KINDS else None
    if data is None:
        return render(request, "digest/link_invalid.html", status=400)
    return _feedback(request, {**data, "k": kind}, token)


def _feedback(request, data: dict, token: str):
    user = _user_or_404(data["u"])
    paper = get_object_or_404(Paper, pk=data["p"])
    context = {"paper": paper, "kind": data["k"], "label": FEEDBACK_LABELS[data["k"]], "token": token}
    if request.method == "POST":
        interaction_record(user=user, paper=paper, kind=data["k"], source=InteractionSource.EMAIL)
        return render(request, "digest/feedback_done.html", context)
    return render(request, "digest/feedback_confirm.html", context)


@csrf_exempt  # RFC 8058 one-click: mail providers POST without cookies or a CSRF token
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    """GET: a confirmation page (changes nothing); POST: unsubscribe at once and answer 200."""
    data = unsubscribe_token.check_token(token)
    if data is None:
        return render(request, "digest/link_invalid.html", status=400)
    user = _user_or_404(data["u"])
    if request.method == "POST":
        # The body (List-Unsubscribe=One-Click, urlencoded or multipart) is
        # not read: the token alone says who, and parsing cannot fail.
        profile = profile_ensure(user=user)
        if profile.suppression == Suppression.NONE:
            profile_suppress(user=user, reason=Suppression.UNSUBSCRIBED, detail="one-click unsubscribe from a digest")
        return render(request, "digest/unsubscribe_done.html", {"email": user.email})
    return render(request, "digest/unsubscribe_confirm.html", {"email": user.email, "token": token})


PREVIEW_PERMISSION = "recommender.preview_digest"
PREVIEW_LINK_LABELS = {
    "abs": "the paper on arXiv",
    "pdf": "the PDF",
    "hf": "the Hugging Face page",
    "code": "the code",
    "unsubscribe": "unsubscribe",
    **{kind: f"the “{label}” vote" for kind, label in FEEDBACK_LABELS.items()},
}


def may_preview(viewer, user) -> bool:
    """Whether ``viewer`` may read ``user``'s digest: their own, or with the explicit preview permission."""
    return viewer.pk == user.pk or viewer.has_perm(PREVIEW_PERMISSION)


def _preview(request, user):
    as_text = request.GET.get("format") == "text"
    # Anyone but the subscriber gets inert links: a preview must never hand over their unsubscribe or votes.
    inert = request.user.pk != user.pk
    content, rendered = digest_preview(user=user, now=timezone.now(), inert_links=inert)
    if rendered is None:
        return render(request, "digest/preview_empty.html", {"reason": content.skip_reason, "email": user.email})
    if as_text:
        return HttpResponse(rendered.text, content_type="text/plain; charset=utf-8")
    response = HttpResponse(rendered.html)
    # The preview shows an email: it may frame nothing and run no script.
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:"
    return response


@login_required
def preview_mine(request):
    return _preview(request, request.user)


@staff_member_required
def preview_user(request, user_id: int):
    user = get_object_or_404(User, pk=user_id)
    if not may_preview(request.user, user):
        raise PermissionDenied
    return _preview(request, user)


@never_cache
@require_http_methods(["GET", "HEAD"])
def preview_link(request):
    """Where every link of someone else's preview points: a page that says so and does nothing."""
    label = PREVIEW_LINK_LABELS.get(request.GET.get("link", ""), "a link")
    return render(request, "digest/preview_link.html", {"label": label})
