"""The topics migrations: every existing profile becomes one default topic holding its five filters, and back."""

from __future__ import annotations

import importlib

import pytest
from django.db import connection

from tests.migrations import executor as migration_executor
from tests.migrations import latest, migrate_to

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("back_to_the_latest_schema")]

FILTERS = ("categories", "include_keywords", "exclude_keywords", "include_authors", "exclude_authors")
PROFILES = [
    {"categories": ["cs.LG", "stat.ML"], "include_keywords": ["bandit"], "exclude_authors": ["Someone Else"]},
    {"categories": [], "exclude_keywords": ["crypto", "blockchain"], "include_authors": ["Ada Lovelace"]},
    {},  # every filter empty: still a topic
]


def _names() -> dict[str, str]:
    """The recommender migrations by what they do (their numbers move when others land first)."""
    executor = migration_executor()
    names = [name for app, name in executor.loader.graph.nodes if app == "recommender"]
    by_suffix = {suffix: next(n for n in names if n[5:] == suffix) for suffix in ("topics", "topics_from_profiles")}
    parent = executor.loader.graph.node_map[("recommender", by_suffix["topics"])].parents
    by_suffix["before"] = next(name for app, name in parent if app == "recommender")
    return by_suffix


def _profiles(apps) -> list[int]:
    User = apps.get_model("auth", "User")
    Profile = apps.get_model("recommender", "Profile")
    ids = []
    for i, filters in enumerate(PROFILES):
        user = User.objects.create(username=f"migrated{i}", email=f"m{i}@example.org")
        Profile.objects.create(user=user, feed_token=f"token-{i}", **filters)
        ids.append(user.pk)
    return ids


def _expected(filters: dict) -> dict:
    return {name: filters.get(name, []) for name in FILTERS}


def test_the_data_migration_function_makes_one_default_topic_per_profile():
    names = _names()
    apps = migrate_to([("recommender", names["topics"])])  # Topic exists, the profile still has its filters
    ids = _profiles(apps)
    Topic = apps.get_model("recommender", "Topic")
    module = importlib.import_module(f"recommender.migrations.{names['topics_from_profiles']}")
    with connection.schema_editor() as editor:
        module.topics_from_profiles(apps, editor)
        module.topics_from_profiles(apps, editor)  # again: users who have a topic get no second one
    for uid, filters in zip(ids, PROFILES, strict=True):
        (topic,) = Topic.objects.filter(user_id=uid)
        assert (topic.name, topic.slug, topic.position, topic.trending_weight) == ("General", "general", 0, 0.5)
        assert {name: getattr(topic, name) for name in FILTERS} == _expected(filters)

    Profile = apps.get_model("recommender", "Profile")
    Profile.objects.filter(user_id__in=ids).update(**{name: [] for name in FILTERS})
    with connection.schema_editor() as editor:
        module.filters_to_profiles(apps, editor)
    for uid, filters in zip(ids, PROFILES, strict=True):
        profile = Profile.objects.get(user_id=uid)
        assert {name: getattr(profile, name) for name in FILTERS} == _expected(filters)


@pytest.mark.slow
def test_migrating_forward_and_back_keeps_every_filter():
    names = _names()
    apps = migrate_to([("recommender", names["before"])])
    ids = _profiles(apps)
    apps = migrate_to([node for node in latest() if node[0] == "recommender"])
    Topic = apps.get_model("recommender", "Topic")
    Interaction = apps.get_model("recommender", "Interaction")
    assert sorted(Topic.objects.values_list("user_id", flat=True)) == sorted(ids)
    for uid, filters in zip(ids, PROFILES, strict=True):
        topic = Topic.objects.get(user_id=uid)
        assert {name: getattr(topic, name) for name in FILTERS} == _expected(filters)
    assert not Interaction.objects.exclude(topic=None).exists()  # votes from before topics: account-wide

    apps = migrate_to([("recommender", names["before"])])
    Profile = apps.get_model("recommender", "Profile")
    for uid, filters in zip(ids, PROFILES, strict=True):
        profile = Profile.objects.get(user_id=uid)
        assert {name: getattr(profile, name) for name in FILTERS} == _expected(filters)
