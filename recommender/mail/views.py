"""DEBUG-only pages to read captured mail (the ``outbox://`` backend)."""

from __future__ import annotations

import email
import re
from email import policy

from django.http import Http404, HttpResponse
from django.shortcuts import render

from .outbox import outbox_dir

_NAME = re.compile(r"^[0-9]+-[0-9]+-[0-9]+\.eml$")


def _messages(limit: int = 200):
    directory = outbox_dir()
    if not directory.exists():
        return []
    files = sorted(directory.glob("*.eml"), reverse=True)[:limit]
    items = []
    for f in files:
        with f.open("rb") as fh:
            msg = email.message_from_binary_file(fh, policy=policy.default)
        items.append({"name": f.name, "subject": msg["Subject"], "to": msg["To"], "date": msg["Date"]})
    return items


def _load(name: str):
    if not _NAME.match(name):
        raise Http404
    path = outbox_dir() / name
    if not path.exists():
        raise Http404
    with path.open("rb") as fh:
        return email.message_from_binary_file(fh, policy=policy.default)


def outbox_list(request):
    return render(request, "outbox/list.html", {"messages_": _messages()})


def outbox_detail(request, name: str):
    msg = _load(name)
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    return render(
        request,
        "outbox/detail.html",
        {
            "name": name,
            "headers": list(msg.items()),
            "text": text.get_content() if text else "",
            "has_html": html is not None,
        },
    )


def outbox_html(request, name: str):
    html = _load(name).get_body(preferencelist=("html",))
    if html is None:
        raise Http404
    response = HttpResponse(html.get_content(), content_type="text/html; charset=utf-8")
    # Shown inside an iframe of our own page; the email's HTML runs no script.
    response["Content-Security-Policy"] = "script-src 'none'"
    response["X-Frame-Options"] = "SAMEORIGIN"
    return response
