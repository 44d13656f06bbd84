"""Public pages (thin views over selectors)."""

from django.shortcuts import render

from ..models import Paper


def daily(request):
    papers = Paper.objects.all()[:50]
    return render(request, "web/daily.html", {"papers": papers})
