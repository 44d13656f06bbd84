# Issue 14 item 1: a digest's papers are its plan rows (DeliveredPaper) only; the JSON lists on DigestDelivery
# (papers, trending, reasons) go. 0009 carried every list over when the rows came; a message handed over after
# it by a worker of the release before (which wrote the lists at the hand-over, never rows) has lists and no
# rows: those are carried over first, as 0009 did, then the three columns are removed. Backwards, the columns
# come back filled from the rows.

from django.db import migrations
from django.db.models import F, Q

CHUNK = 2000


def _rows_of(delivery, known: set[int]) -> list[dict]:
    """The plan rows of one delivery's JSON lists: papers first, then trending; a paper listed twice once."""
    reasons = {str(k): str(v) for k, v in (delivery.reasons or {}).items()}
    seen: set[int] = set()
    rows = []
    for section, ids in (("papers", delivery.papers or []), ("trending", delivery.trending or [])):
        rank = 0
        for raw in ids:
            try:
                pid = int(raw)
            except (TypeError, ValueError):
                continue
            if pid in seen or pid not in known:
                continue
            seen.add(pid)
            rank += 1
            reason = reasons.get(str(pid), "") if section == "papers" else ""
            rows.append({"section": section, "rank": rank, "paper_id": pid, "reason": reason})
    return rows


def lists_to_rows(apps, schema_editor):
    """Plan rows for every delivery whose lists describe a message and which has no rows yet.

    The hand-over wrote the lists together with the Message-ID; reopening a delivery (the admin's retry and
    resend) clears the Message-ID and the rows but left the lists, which then describe nothing: a delivery
    counts when it was sent or still has its Message-ID (in doubt, or failed at the server). A reopened one
    is left to the planner, which ranks it again: rows written for it here would collide with the planner's.
    """
    DigestDelivery = apps.get_model("recommender", "DigestDelivery")
    DeliveredPaper = apps.get_model("recommender", "DeliveredPaper")
    Paper = apps.get_model("recommender", "Paper")
    legacy = (
        DigestDelivery.objects.exclude(papers=[], trending=[])
        .filter(Q(status="sent") | ~Q(message_id=""))
        .exclude(pk__in=DeliveredPaper.objects.values("delivery_id"))
    )
    ids = list(legacy.values_list("pk", flat=True))
    if not ids:
        return
    known = set(Paper.objects.values_list("id", flat=True))
    for start in range(0, len(ids), CHUNK):
        chunk = DigestDelivery.objects.filter(pk__in=ids[start : start + CHUNK])
        DeliveredPaper.objects.bulk_create(
            DeliveredPaper(delivery_id=delivery.id, user_id=delivery.user_id, **row)
            for delivery in chunk.only("id", "user_id", "papers", "trending", "reasons").order_by("id")
            for row in _rows_of(delivery, known)
        )
        # A delivery is planned when its selection is stored (0009's rule).
        chunk.filter(planned_at__isnull=True).update(planned_at=F("created_at"))


def rows_to_lists(apps, schema_editor):
    """The JSON lists again, from the rows (every delivery with rows; the rest keep the empty defaults)."""
    DigestDelivery = apps.get_model("recommender", "DigestDelivery")
    DeliveredPaper = apps.get_model("recommender", "DeliveredPaper")
    lists: dict[int, dict] = {}
    for row in DeliveredPaper.objects.order_by("delivery_id", "section", "rank").iterator(chunk_size=CHUNK):
        entry = lists.setdefault(row.delivery_id, {"papers": [], "trending": [], "reasons": {}})
        entry[row.section].append(row.paper_id)
        if row.reason:
            entry["reasons"][str(row.paper_id)] = row.reason
    for delivery_id, entry in lists.items():
        DigestDelivery.objects.filter(id=delivery_id).update(**entry)


class Migration(migrations.Migration):
    dependencies = [
        ("recommender", "0015_paper_search_vector"),
    ]

    operations = [
        migrations.RunPython(lists_to_rows, rows_to_lists),
        migrations.RemoveField(model_name="digestdelivery", name="papers"),
        migrations.RemoveField(model_name="digestdelivery", name="trending"),
        migrations.RemoveField(model_name="digestdelivery", name="reasons"),
    ]
