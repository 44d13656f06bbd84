"""My digests (``/account/digests/``): every period's digest, sent or not, and why, in plain words.

The reasons come from ``digest.outcomes.delivery_outcome``, the function the admin's delivery log uses
too; a sent digest opens exactly as it was sent (``outcomes.delivery_as_sent``: its stored selection).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from ..digest.outcomes import delivery_as_sent, delivery_outcome, stopped_reason
from ..digest.render import render_digest
from ..digest.sections import period_of, topic_id_of
from ..models import DeliveryStatus, DigestDelivery, Topic
from ..subscriptions.pause import SKIP_PAUSED
from ..subscriptions.schedule import period_key
from ..subscriptions.services import profile_ensure

ROWS_SHOWN = 120


def openable(delivery: DigestDelivery) -> bool:
    """A digest that went out (or may have: in doubt), not a note: it opens as it was sent."""
    if delivery.skip_reason:
        return False
    return delivery.status == DeliveryStatus.SENT or (
        delivery.status == DeliveryStatus.FAILED and delivery.error.startswith("in-doubt")
    )


def period_label(key: str, topic_names: dict[int, str]) -> str:
    """What a reader sees for a delivery's period: "2026-12-01", or "2026-12-01 · RL theory" for one topic's own
    email (the key's "~t42" is the exactly-once key's, not words for a person; a deleted topic says so)."""
    topic_id = topic_id_of(key)
    if topic_id is None:
        return period_of(key)
    return f"{period_of(key)} · {topic_names.get(topic_id, 'a deleted topic')}"


@login_required
@require_GET
def my_digests(request):
    profile = profile_ensure(user=request.user)
    current = period_key(profile, at=timezone.now())
    deliveries = (
        DigestDelivery.objects.filter(user=request.user)
        # Periods still to come: only a pause writes those, ahead of time.
        .exclude(status=DeliveryStatus.SKIPPED, skip_reason__startswith=SKIP_PAUSED, period_key__gt=current)
        .order_by("-period_key", "-pk")[:ROWS_SHOWN]
    )
    names = dict(Topic.objects.filter(user=request.user).values_list("pk", "name"))
    rows = [
        {
            "delivery": d,
            "period": period_label(d.period_key, names),
            "outcome": delivery_outcome(delivery=d, profile=profile),
            "can_open": openable(d),
        }
        for d in deliveries
    ]
    return render(
        request, "web/my_digests.html", {"rows": rows, "profile": profile, "stopped": stopped_reason(profile)}
    )


@login_required
@require_GET
def my_digest(request, delivery_id: int):
    delivery = get_object_or_404(DigestDelivery, pk=delivery_id, user=request.user)
    if not openable(delivery):
        raise Http404("only a sent digest can be opened")
    content = delivery_as_sent(delivery=delivery)
    rendered = render_digest(content.context) if not content.skip_reason else None
    names = dict(Topic.objects.filter(user=request.user).values_list("pk", "name"))
    return render(
        request,
        "web/my_digest.html",
        {
            "delivery": delivery,
            "period": period_label(delivery.period_key, names),
            "rendered": rendered,
            "skip_reason": content.skip_reason,
        },
    )
