"""Ingest runs in the admin: what each ingestion asked for, what it changed, how long it took, why it failed.

"Ingest now" enqueues the same Celery task the beat schedule runs
(``recommender.ingest.tasks.ingest_source``) for one source, after a
confirmation page, and records who asked in the admin log.
"""

from __future__ import annotations

from pathlib import Path

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from ..ingest.services import SOURCES
from ..ingest.tasks import ingest_source
from ..models import IngestRun
from .links import short_datetime
from .operations import OperatorActionsMixin, log_operation, task_enqueue


def ingest_sources() -> tuple[str, ...]:
    """The sources an operator can ingest now (ingestion's own list)."""
    return tuple(SOURCES)


@admin.register(IngestRun)
class IngestRunAdmin(OperatorActionsMixin, admin.ModelAdmin):
    list_display = (
        "started",
        "source_name",
        "short_params",
        "status",
        "entries",
        "created",
        "updated",
        "unchanged",
        "duration",
        "short_error",
    )
    list_filter = ("source", "status", "started_at")
    search_fields = ("error",)
    ordering = ("-started_at",)
    show_full_result_count = False
    change_list_template = "admin/paperboy/ingestrun_change_list.html"
    readonly_fields = (
        "source",
        "params",
        "status",
        "entries",
        "created",
        "updated",
        "unchanged",
        "error",
        "started_at",
        "finished_at",
        "duration",
    )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # runs are a log; viewing stays allowed

    @admin.display(description="duration", ordering="finished_at")
    def duration(self, obj: IngestRun) -> str:
        seconds = obj.duration_s
        return "-" if seconds is None else f"{seconds:.1f} s"

    @admin.display(description="started", ordering="started_at")
    def started(self, obj: IngestRun):
        return short_datetime(obj.started_at)

    @admin.display(description="source", ordering="source")
    def source_name(self, obj: IngestRun):
        return format_html('<span style="white-space:nowrap">{}</span>', obj.source)

    @admin.display(description="parameters")
    def short_params(self, obj: IngestRun):
        # A file path shows by its name (the full value is the tooltip): it kept the list wider than 1280 px.
        params = obj.params or {}
        text = ", ".join(f"{k}={Path(v).name if k in ('file', 'path') else v}" for k, v in params.items())
        full = ", ".join(f"{k}={v}" for k, v in params.items())
        text = text if len(text) <= 40 else text[:39] + "…"
        return format_html('<span style="display:block;max-width:16em" title="{}">{}</span>', full, text or "-")

    @admin.display(description="error")
    def short_error(self, obj: IngestRun):
        if not obj.error:
            return ""
        text = obj.error if len(obj.error) <= 120 else obj.error[:119] + "…"
        return format_html('<span style="color:#ba2121;display:block;max-width:20em">{}</span>', text)

    def get_urls(self):
        urls = [
            path(
                "ingest-now/", self.admin_site.admin_view(self.ingest_now_view), name="recommender_ingestrun_ingest_now"
            )
        ]
        return urls + super().get_urls()

    def ingest_now_view(self, request):
        """Confirmation page with one button per source; the POST enqueues the task."""
        if not self.has_operate_permission(request):
            raise PermissionDenied
        sources = ingest_sources()
        if request.method == "POST":
            source = request.POST.get("source", "")
            if source not in sources:
                messages.error(request, f"Unknown source {source!r}.")
            else:
                task_enqueue(ingest_source, source=source)
                log_operation(request=request, model=IngestRun, message=f"Ingest now: enqueued {source}")
                messages.success(
                    request, f"Ingestion of {source} is queued; its run appears here when a worker starts it."
                )
            return HttpResponseRedirect(reverse("admin:recommender_ingestrun_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Ingest now",
            "subtitle": None,
            "opts": self.model._meta,
            "question": "Fetch new papers from one source right away (the schedule keeps running as usual).",
            "details": ["The task runs on the ingest queue; a worker must be running."],
            "choices": [(s, f"Ingest {s}") for s in sources],
            "choice_name": "source",
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/paperboy/confirm.html", context)
