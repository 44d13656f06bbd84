"""Account pages for library import: upload or paste a library, and find "my own papers" on arXiv.

Thin views over ``recommender.library.services``. An import is one POST
(CSRF-protected, rate-limited per user, size-capped before reading); its report
is kept in the session and shown after a redirect, so reloading the result
page never imports twice. "My own papers" is two POSTs: the first shows what
arXiv lists under a name, or the arXiv papers on an ORCID record's public
works, and only the ids ticked in the second POST are saved.
"""

from __future__ import annotations

import logging

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods

from .. import arxiv_ids
from ..ingest.entries import IngestError
from ..library import services
from ..library.author import MAX_RESULTS, AuthorQueryError, author_search, orcid_search
from ..library.orcid import MAX_WORKS, OrcidError
from ..library.parsers import FORMATS, LibraryError
from ..models import Paper
from ..subscriptions.topics import topics_of
from .ratelimit import rate_limit_hit
from .views import safe_next

logger = logging.getLogger(__name__)

IMPORT_LIMIT = (20, 3600)  # imports per user per hour
AUTHOR_LIMIT = (10, 3600)  # author searches per user per hour (each is one arXiv API call)
ORCID_LIMIT = (10, 3600)  # ORCID look-ups per user per hour (each is one ORCID API call, retries aside)
CONFIRM_MAX = max(MAX_RESULTS, MAX_WORKS)  # ids one confirmation saves: all an author search or a record lists
MAX_PASTE_CHARS = 1_000_000
SESSION_KEY = "library_report"


class ImportForm(forms.Form):
    file = forms.FileField(required=False, label="Library file (.bib, .ris, .csv or .txt)")
    text = forms.CharField(
        required=False,
        max_length=MAX_PASTE_CHARS,
        label="Or paste arXiv ids, abs/pdf links or BibTeX",
        widget=forms.Textarea(attrs={"rows": 6, "placeholder": "2403.02233\nhttps://arxiv.org/abs/hep-th/9901001v2"}),
    )
    format = forms.ChoiceField(
        required=False, choices=[("", "Detect")] + [(f, f.upper() if f != "text" else "Text") for f in FORMATS]
    )
    topic = forms.ChoiceField(
        required=False,
        label="Save under",
        help_text="A topic: the papers shape that topic only. All topics: they count for every one.",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.topics = {str(t.pk): t for t in topics_of(user=user)}
        self.fields["topic"].choices = [("", "All my topics")] + [(pk, t.name) for pk, t in self.topics.items()]
        if len(self.topics) < 2:  # one topic: "all" and "that one" are the same; nothing to choose
            self.fields["topic"].widget = forms.HiddenInput()

    def clean_topic(self):
        return self.topics.get(self.cleaned_data.get("topic") or "")

    def clean(self):
        data = super().clean()
        if not data.get("file") and not (data.get("text") or "").strip():
            raise forms.ValidationError("Choose a file or paste something to import.")
        return data


def _next(request) -> str:
    return safe_next(request, fallback="")


def _limited(request, scope: str, limit: tuple[int, int]):
    count, period = limit
    if rate_limit_hit(scope=scope, key=str(request.user.pk), limit=count, period=period):
        response = render(request, "web/rate_limited.html", status=429)
        response["Retry-After"] = str(period)
        return response
    return None


def _upload_bytes(upload, max_bytes: int) -> bytes:
    """The upload's bytes, refusing an oversize file from its declared size before reading it."""
    if upload.size is not None and upload.size > max_bytes:
        raise LibraryError(
            f"The file is {upload.size / 1e6:.1f} MB; one import takes at most {max_bytes / 1e6:.1f} MB. Split it."
        )
    return upload.read(max_bytes + 1)


@login_required
@require_http_methods(["GET", "POST"])
def library_import_view(request):
    next_url = _next(request)
    if request.method == "GET":
        report = request.session.pop(SESSION_KEY, None) if request.GET.get("done") else None
        return render(
            request,
            "web/library_import.html",
            {"form": ImportForm(user=request.user), "report": report, "next": next_url, "limits": services.limits()},
        )
    limited = _limited(request, "library-import", IMPORT_LIMIT)
    if limited:
        return limited
    form = ImportForm(request.POST, request.FILES, user=request.user)
    error = ""
    if form.is_valid():
        upload = form.cleaned_data.get("file")
        try:
            if upload:
                data, name = _upload_bytes(upload, services.limits()["max_bytes"]), upload.name or ""
            else:
                data, name = form.cleaned_data["text"].encode(), ""
            report = services.library_import(
                user=request.user,
                data=data,
                filename=name,
                kind=form.cleaned_data.get("format") or "",
                topic=form.cleaned_data.get("topic"),
            )
        except LibraryError as exc:
            error = str(exc)
        else:
            request.session[SESSION_KEY] = report.as_dict()
            target = reverse("web:library_import") + "?done=1"
            return redirect(target + (f"&{urlencode({'next': next_url})}" if next_url else ""))
    context = {"form": form, "error": error, "next": next_url, "limits": services.limits()}
    return render(request, "web/library_import.html", context, status=400)


def _confirm(request):
    chosen = [i for i in request.POST.getlist("arxiv_id") if arxiv_ids.is_arxiv_id(i)][:CONFIRM_MAX]
    if not chosen:
        messages.error(request, "Tick at least one paper to add it to your library.")
        return redirect("web:library_mine")
    report = services.ids_import(user=request.user, arxiv_ids=chosen)
    request.session[SESSION_KEY] = report.as_dict()
    return redirect(reverse("web:library_import") + "?done=1")


def _known(ids: list[str]) -> set[str]:
    return set(Paper.objects.filter(arxiv_id__in=ids).values_list("arxiv_id", flat=True))


def _author_found(context: dict, name: str) -> None:
    """Fill ``context`` with what arXiv lists under ``name``, or the one-line reason it cannot."""
    try:
        entries = author_search(name=name)
    except AuthorQueryError as exc:
        context["error"] = str(exc)
        return
    except IngestError as exc:
        logger.info("author search failed: %s", exc)
        context["error"] = "arXiv did not answer just now; please try again in a minute."
        return
    known = _known([e.arxiv_id for e in entries])
    context["found"] = [
        {"arxiv_id": e.arxiv_id, "title": e.title, "authors": ", ".join(e.authors[:8]), "known": e.arxiv_id in known}
        for e in entries
    ]


def _orcid_found(context: dict, text: str) -> None:
    """Fill ``context`` with the arXiv papers of the record's public works, or the one-line reason there are none."""
    try:
        context["orcid"], result = orcid_search(orcid=text)
    except OrcidError as exc:
        context["error"] = str(exc)
        return
    if not result.works:
        context["error"] = (
            f"ORCID lists {result.groups} public work{'s' if result.groups != 1 else ''} for {context['orcid']}, "
            "none with an arXiv id or arXiv DOI: search by your name instead."
        )
        return
    known = _known([w.arxiv_id for w in result.works])
    context["truncated"] = result.truncated
    context["found"] = [
        {"arxiv_id": w.arxiv_id, "title": w.title, "year": w.year, "known": w.arxiv_id in known} for w in result.works
    ]


# The first POST of "my own papers": the field it carries -> (rate-limit scope, limit, what fills the context).
_SEARCHES = {
    "orcid": ("library-orcid", ORCID_LIMIT, _orcid_found),
    "name": ("library-author", AUTHOR_LIMIT, _author_found),
}


@login_required
@require_http_methods(["GET", "POST"])
def library_mine_view(request):
    """GET: the forms. POST ``orcid`` or ``name``: what was found (nothing saved). POST ``confirm``: save ticked."""
    if request.method == "POST" and request.POST.get("confirm"):
        return _confirm(request)
    context = {"name": "", "orcid": "", "source": "", "found": None, "error": ""}
    if request.method == "POST":
        source = "orcid" if "orcid" in request.POST else "name"
        scope, limit, search = _SEARCHES[source]
        limited = _limited(request, scope, limit)
        if limited:
            return limited
        context["source"] = source
        context[source] = text = (request.POST.get(source) or "").strip()[:100]
        search(context, text)
    return render(request, "web/library_mine.html", context, status=400 if context["error"] else 200)
