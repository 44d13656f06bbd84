"""Submit a paper (``/account/submit/``): paste an arXiv id or link; thin over ``library.submit``.

Rate-limited per user (``SUBMIT_LIMIT``): every submission counts, whether it upvotes a known paper or
queues a fetch from arXiv.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from ..library.submit import paper_submit, submission_states
from ..models import Paper
from .ratelimit import rate_limit_hit

SUBMIT_LIMIT = (10, 86400)  # submissions per user per day
STATE_WORDS = {
    "fetching": "being fetched from arXiv",
    "added": "added to the listing of its announcement day, submitted by you, with your upvote",
    "upvoted": "already here: you upvoted it",
    "not_found": "arXiv has no paper with this id: check it and paste it again",
    "failed": "arXiv could not be reached for it; please try again later",
}


def _recent(user_id: int) -> list[dict]:
    entries = submission_states(user_id=user_id)
    known = set(Paper.objects.filter(arxiv_id__in=[e["arxiv_id"] for e in entries]).values_list("arxiv_id", flat=True))
    return [{**e, "words": STATE_WORDS.get(e["state"], e["state"]), "known": e["arxiv_id"] in known} for e in entries]


@login_required
@require_http_methods(["GET", "POST"])
def submit(request):
    if request.method == "POST":
        count, period = SUBMIT_LIMIT
        if rate_limit_hit(scope="paper-submit", key=str(request.user.pk), limit=count, period=period):
            response = render(request, "web/rate_limited.html", status=429)
            response["Retry-After"] = str(period)
            return response
        result = paper_submit(user=request.user, text=request.POST.get("paper", ""))
        if result.state == "invalid":
            messages.error(
                request, "That is not an arXiv id or link (e.g. 2403.02233 or https://arxiv.org/abs/2403.02233)."
            )
        elif result.state == "upvoted":
            url = reverse("web:paper", args=[result.arxiv_id])
            messages.success(request, f"arXiv:{result.arxiv_id} is already here: you upvoted it ({url}).")
        else:
            messages.info(request, f"arXiv:{result.arxiv_id} is being fetched from arXiv; its state shows below.")
        return redirect("web:submit")
    return render(request, "web/submit.html", {"recent": _recent(request.user.pk), "limit": SUBMIT_LIMIT[0]})
