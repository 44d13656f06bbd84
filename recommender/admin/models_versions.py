"""Recommender versions in the admin: metrics, training time, data size, which one is served.

"Train now" enqueues ``recommender.training.tasks.train_model`` (the nightly
task); "Activate" makes an older version the served one (rollback) through
``model_activate``. Both ask for confirmation and are written to the admin
log. The artifact itself (model bytes) is never loaded or shown: only its size.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from ..models import ModelStatus, ModelVersion
from ..training.services import TrainingError, model_activate
from ..training.tasks import train_model
from .operations import OperatorActionsMixin, action_confirmation, action_confirmed, log_operation, task_enqueue

ACTIVATION_POLICIES = [
    ("if_not_worse", "Train, activate if not worse than the active version"),
    ("always", "Train and activate whatever the metrics"),
    ("never", "Train only (activate by hand later)"),
]
SHOWN_METRICS = ("ndcg@10", "recall@10", "recall@50", "users")


def metric(obj: ModelVersion, key: str):
    value = (obj.metrics or {}).get(key)
    if isinstance(value, float):
        return f"{value:.3f}"
    return "-" if value is None else value


@admin.register(ModelVersion)
class ModelVersionAdmin(OperatorActionsMixin, admin.ModelAdmin):
    list_display = (
        "version",
        "created_at",
        "status",
        "ndcg10",
        "recall10",
        "holdout_users",
        "data_size",
        "train_time",
        "artifact_kb",
        "activate_button",
    )
    list_filter = ("status", "is_active")
    exclude = ("artifact",)
    readonly_fields = (
        "status",
        "is_active",
        "activated_at",
        "params",
        "metrics_table",
        "n_users",
        "n_items",
        "n_interactions",
        "train_time",
        "artifact_kb",
        "error",
        "created_at",
    )
    fields = readonly_fields
    actions = ["activate_selected"]
    change_list_template = "admin/paperboy/modelversion_change_list.html"

    def get_queryset(self, request):
        # Never read the artifact bytes (megabytes per row) to draw a page.
        return super().get_queryset(request).defer("artifact")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="version", ordering="pk")
    def version(self, obj):
        if obj.is_active:
            return format_html('v{} <strong style="color:#2e7d32">active</strong>', obj.pk)
        return f"v{obj.pk}"

    @admin.display(description="data (users · papers · interactions)")
    def data_size(self, obj) -> str:
        return f"{obj.n_users:,} · {obj.n_items:,} · {obj.n_interactions:,}"

    @admin.display(description="nDCG@10")
    def ndcg10(self, obj):
        return metric(obj, "ndcg@10")

    @admin.display(description="recall@10")
    def recall10(self, obj):
        return metric(obj, "recall@10")

    @admin.display(description="hold-out users")
    def holdout_users(self, obj):
        return metric(obj, "users")

    @admin.display(description="training time", ordering="train_seconds")
    def train_time(self, obj) -> str:
        return "-" if obj.train_seconds is None else f"{obj.train_seconds:.1f} s"

    @admin.display(description="artifact size", ordering="artifact_size")
    def artifact_kb(self, obj) -> str:
        return filesizeformat(obj.artifact_size)

    @admin.display(description="metrics")
    def metrics_table(self, obj):
        active = (obj.metrics or {}).get("active_on_same_holdout") or {}

        def shown(value):
            return f"{value:.4f}" if isinstance(value, float) else ("" if value is None else value)

        rows = [
            (key, shown(value), shown(active.get(key)))
            for key, value in sorted((obj.metrics or {}).items())
            if not isinstance(value, dict)
        ]
        if not rows:
            return "-"
        return format_html(
            "<table><tr><th>metric</th><th>this version</th><th>active then, same hold-out</th></tr>{}</table>",
            format_html_join("", "<tr><th>{}</th><td>{}</td><td>{}</td></tr>", rows),
        )

    @admin.display(description="")
    def activate_button(self, obj):
        if obj.is_active or obj.status not in (ModelStatus.READY, ModelStatus.REJECTED) or not obj.artifact_size:
            return ""
        url = reverse("admin:recommender_modelversion_activate", args=[obj.pk])
        return format_html('<a class="button" href="{}">Activate…</a>', url)

    # --- actions ------------------------------------------------------------------------

    @admin.action(description="Activate the selected version (roll back / forward)", permissions=["operate"])
    def activate_selected(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to activate.", messages.WARNING)
            return None
        version = queryset.get()
        if not action_confirmed(request):
            return action_confirmation(
                self,
                request,
                queryset,
                action="activate_selected",
                title="Activate a model version",
                question=f"Serve {version} to every subscriber from now on?",
                details=[f"nDCG@10 {metric(version, 'ndcg@10')}, recall@10 {metric(version, 'recall@10')}"],
                button="Yes, activate it",
            )
        self._activate(request, version)
        return None

    def _activate(self, request, version: ModelVersion) -> bool:
        try:
            model_activate(version=version)
        except TrainingError as exc:
            self.message_user(request, f"Cannot activate: {exc}", messages.ERROR)
            return False
        self.log_change(request, version, "Activated (now served)")
        self.message_user(request, f"{version} is now served.", messages.SUCCESS)
        return True

    # --- buttons ------------------------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("train-now/", view(self.train_now_view), name="recommender_modelversion_train_now"),
            path("<int:pk>/activate/", view(self.activate_view), name="recommender_modelversion_activate"),
        ] + super().get_urls()

    def _confirm_page(self, request, **context):
        request.current_app = self.admin_site.name
        return TemplateResponse(
            request,
            "admin/paperboy/confirm.html",
            {**self.admin_site.each_context(request), "opts": self.model._meta, "subtitle": None, **context},
        )

    def train_now_view(self, request):
        if not self.has_operate_permission(request):
            raise PermissionDenied
        policies = dict(ACTIVATION_POLICIES)
        if request.method == "POST":
            policy = request.POST.get("activate", "")
            if policy not in policies:
                messages.error(request, "Unknown activation policy.")
            else:
                task_enqueue(train_model, activate=policy)
                log_operation(request=request, model=ModelVersion, message=f"Train now: enqueued ({policy})")
                messages.success(request, "Training is queued; the new version appears here when a worker starts it.")
            return HttpResponseRedirect(reverse("admin:recommender_modelversion_changelist"))
        return self._confirm_page(
            request,
            title="Train now",
            question="Train a new recommender version from all interactions now.",
            details=["It runs on the train queue and can take minutes; the active version keeps serving meanwhile."],
            choices=ACTIVATION_POLICIES,
            choice_name="activate",
        )

    def activate_view(self, request, pk: int):
        if not self.has_operate_permission(request):
            raise PermissionDenied
        version = get_object_or_404(ModelVersion.objects.defer("artifact"), pk=pk)
        if request.method == "POST":
            self._activate(request, version)
            return HttpResponseRedirect(reverse("admin:recommender_modelversion_changelist"))
        active = ModelVersion.objects.defer("artifact").filter(is_active=True).first()
        return self._confirm_page(
            request,
            title=f"Activate {version}",
            question=f"Serve {version} to every subscriber from now on?",
            details=[
                f"This version: nDCG@10 {metric(version, 'ndcg@10')}, recall@10 {metric(version, 'recall@10')}.",
                f"Active now: {active} (nDCG@10 {metric(active, 'ndcg@10')})." if active else "No version is active.",
            ],
            hidden=[],
            button="Yes, activate it",
        )
