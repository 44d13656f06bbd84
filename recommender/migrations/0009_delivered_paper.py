# Digest plan rows (issue 14): each digest's selection as one row per paper instead of JSON lists on the
# delivery, with (user, paper) indexed so that "already sent" is an index probe. The JSON columns stay (read by
# nothing new); the data migration carries every existing list over.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

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
    DigestDelivery = apps.get_model("recommender", "DigestDelivery")
    DeliveredPaper = apps.get_model("recommender", "DeliveredPaper")
    Paper = apps.get_model("recommender", "Paper")
    known = set(Paper.objects.values_list("id", flat=True))
    batch = []
    deliveries = DigestDelivery.objects.exclude(papers=[], trending=[]).only(
        "id", "user_id", "papers", "trending", "reasons"
    )
    for delivery in deliveries.order_by("id").iterator(chunk_size=CHUNK):
        for row in _rows_of(delivery, known):
            batch.append(DeliveredPaper(delivery_id=delivery.id, user_id=delivery.user_id, **row))
        if len(batch) >= CHUNK:
            DeliveredPaper.objects.bulk_create(batch)
            batch = []
    DeliveredPaper.objects.bulk_create(batch)
    # A delivery is planned when its selection is stored: everything that is no longer pending was, and a
    # pending one with lists (none are written before the hand-over today) too. The rest is planned by the
    # next tick.
    DigestDelivery.objects.exclude(status__in=["pending", "sending"]).update(planned_at=models.F("created_at"))
    DigestDelivery.objects.filter(status__in=["pending", "sending"]).exclude(papers=[]).update(
        planned_at=models.F("created_at")
    )


def rows_to_lists(apps, schema_editor):
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
        ("recommender", "0008_library_import"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="digestdelivery",
            name="planned_at",
            field=models.DateTimeField(
                blank=True, null=True, help_text="When the plan phase stored this digest's selection"
            ),
        ),
        migrations.CreateModel(
            name="DeliveredPaper",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "section",
                    models.CharField(
                        choices=[("papers", "For you"), ("trending", "Trending")], default="papers", max_length=16
                    ),
                ),
                ("rank", models.PositiveSmallIntegerField(help_text="Position within the section, 1 first")),
                ("reason", models.TextField(blank=True)),
                (
                    "delivery",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="delivered",
                        to="recommender.digestdelivery",
                    ),
                ),
                (
                    "paper",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="recommender.paper"
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["user", "paper"], name="delivered_user_paper_idx")],
                "constraints": [
                    models.UniqueConstraint(fields=("delivery", "section", "rank"), name="uniq_delivered_section_rank"),
                    models.UniqueConstraint(fields=("delivery", "paper"), name="uniq_delivered_paper"),
                ],
            },
        ),
        migrations.RunPython(lists_to_rows, rows_to_lists),
    ]
