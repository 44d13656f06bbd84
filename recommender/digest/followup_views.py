"""The digest's "stop updates on this paper" link: GET shows a page whose form POSTs, the POST acts.

Like the feedback links (``views.py``): link scanners fetch every GET, so only the POST stops anything.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from ..models import Paper
from .followups import stop_updates_token, updates_stop


@never_cache
@require_http_methods(["GET", "POST"])
def stop_updates(request, token: str):
    data = stop_updates_token.check_token(token)
    if data is None:
        return render(request, "digest/link_invalid.html", status=400)
    paper = get_object_or_404(Paper, pk=data["p"])
    if request.method == "POST":
        updates_stop(user_id=data["u"], paper_id=paper.pk)
        return render(request, "digest/stop_updates.html", {"paper": paper, "done": True})
    return render(request, "digest/stop_updates.html", {"paper": paper, "done": False})
