# Issue 15 part 2: every existing profile becomes one default topic, "General", holding its five filters;
# the reverse copies the default topic's filters back onto the profile (0013's reverse re-adds the columns).
# Votes stay account-wide (Interaction.topic NULL): they count for every topic, as they did for the profile.

from django.db import migrations

FILTERS = ("categories", "include_keywords", "exclude_keywords", "include_authors", "exclude_authors")
DEFAULT_NAME = "General"
DEFAULT_SLUG = "general"
DEFAULT_TRENDING_WEIGHT = 0.5  # models.TOPIC_TRENDING_WEIGHT_DEFAULT when this was written
CHUNK = 2000


def topics_from_profiles(apps, schema_editor):
    """One default topic per profile whose user has none, with the profile's filters."""
    Profile = apps.get_model("recommender", "Profile")
    Topic = apps.get_model("recommender", "Topic")
    db = schema_editor.connection.alias
    have = set(Topic.objects.using(db).values_list("user_id", flat=True))
    batch = []
    for row in Profile.objects.using(db).order_by("pk").values("user_id", *FILTERS).iterator(chunk_size=CHUNK):
        if row["user_id"] in have:
            continue
        filters = {name: list(row[name] or []) for name in FILTERS}
        batch.append(
            Topic(
                user_id=row["user_id"],
                name=DEFAULT_NAME,
                slug=DEFAULT_SLUG,
                position=0,
                trending_weight=DEFAULT_TRENDING_WEIGHT,
                **filters,
            )
        )
        if len(batch) >= CHUNK:
            Topic.objects.using(db).bulk_create(batch)
            batch = []
    Topic.objects.using(db).bulk_create(batch)


def filters_to_profiles(apps, schema_editor):
    """Copy each user's default topic's filters (lowest position, then oldest) back onto the profile."""
    Profile = apps.get_model("recommender", "Profile")
    Topic = apps.get_model("recommender", "Topic")
    db = schema_editor.connection.alias
    default = {}
    for topic in Topic.objects.using(db).order_by("user_id", "position", "id").iterator(chunk_size=CHUNK):
        default.setdefault(topic.user_id, topic)
    batch = []
    for profile in Profile.objects.using(db).filter(user_id__in=list(default)).iterator(chunk_size=CHUNK):
        topic = default[profile.user_id]
        for name in FILTERS:
            setattr(profile, name, list(getattr(topic, name) or []))
        batch.append(profile)
        if len(batch) >= CHUNK:
            Profile.objects.using(db).bulk_update(batch, list(FILTERS))
            batch = []
    Profile.objects.using(db).bulk_update(batch, list(FILTERS))


class Migration(migrations.Migration):
    dependencies = [
        ("recommender", "0011_topics"),
    ]

    operations = [
        migrations.RunPython(topics_from_profiles, filters_to_profiles),
    ]
