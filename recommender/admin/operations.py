"""Shared plumbing for operator actions: confirmation pages, the admin log, task enqueueing.

Anything that sends email, retrains or forgets data is a POST that first
shows a confirmation page (like Django's "delete selected"), and every
action that changed something is written to ``django_admin_log`` so the
history page of the object (or the log on the admin index) says who did it.
"""

from __future__ import annotations

from django.contrib.admin import helpers
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import get_permission_codename
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.http import HttpRequest
from django.template.response import TemplateResponse

CONFIRM_TEMPLATE = "admin/paperboy/action_confirmation.html"


class OperatorActionsMixin:
    """``permissions=["operate"]`` on an action (and the operator buttons) needs the model's change permission.

    Several lists are read-only logs (``has_change_permission`` is False for
    everyone), yet retrying, training or activating must stay possible for
    operators and impossible for staff who may only look.
    """

    def has_operate_permission(self, request: HttpRequest) -> bool:
        opts = self.opts
        return request.user.is_active and request.user.has_perm(
            f"{opts.app_label}.{get_permission_codename('change', opts)}"
        )


def action_confirmed(request: HttpRequest) -> bool:
    """Whether the operator already answered the confirmation page of an action."""
    return request.method == "POST" and request.POST.get("post") == "yes"


def action_confirmation(
    modeladmin,
    request: HttpRequest,
    queryset,
    *,
    action: str,
    title: str,
    question: str,
    details: list[str] | None = None,
    button: str = "Yes, do it",
) -> TemplateResponse:
    """Render the intermediate page that re-posts the selection with ``post=yes``."""
    opts = modeladmin.model._meta
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "subtitle": None,
        "question": question,
        "details": details or [],
        "objects": list(queryset[:200]),
        "count": queryset.count(),
        "action": action,
        "button": button,
        "opts": opts,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "selected": [str(pk) for pk in queryset.values_list("pk", flat=True)],
        "media": modeladmin.media,
    }
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(request, CONFIRM_TEMPLATE, context)


def log_operation(*, request: HttpRequest, message: str, obj=None, model=None) -> LogEntry:
    """Write ``message`` to the admin log about ``model`` when no object exists yet (``Ingest now``, ``Train now``).

    About an object, an admin calls ``ModelAdmin.log_change(request, obj, message)`` instead; ``obj`` is still
    accepted here for code outside a ModelAdmin method.
    """
    model = model or type(obj)
    return LogEntry.objects.create(
        user_id=request.user.pk,
        content_type=ContentType.objects.get_for_model(model, for_concrete_model=False),
        object_id=str(obj.pk) if obj is not None else None,
        object_repr=(str(obj) if obj is not None else model._meta.verbose_name_plural)[:200],
        action_flag=CHANGE,
        change_message=message,
    )


def task_enqueue(task, /, **kwargs) -> None:
    """Send Celery ``task`` with ``kwargs`` once the current transaction commits (the worker must see our rows).

    Celery's ``task.delay_on_commit(**kwargs)``, registered with ``robust=True``.
    """

    def publish():
        task.delay(**kwargs)

    # robust: with the broker unreachable the error is logged (and /healthz says "broker: down"), not a 500.
    # A function, not functools.partial: Django's robust on_commit logs ``func.__qualname__``, which a partial
    # lacks (AttributeError, hence the 500 again).
    transaction.on_commit(publish, robust=True)
