"""Keyword search through the ORM: ``Paper.search_vector`` becomes a ``GeneratedField``.

Until now PostgreSQL's tsvector column was made by raw SQL outside the
migration state (0003); it is dropped here where it exists and made again by
Django from the model's expression, with its GIN index (PostgreSQL only, so
not in the model's Meta, where SQLite would get it too). On SQLite the field
is NULL (``recommender.models.PostgresOnly``).

The ``modified_at`` index that 0005 made by hand joins the state, so a table
rebuild keeps it. On SQLite, adding a stored generated column rebuilds the
table, which drops the FTS5 triggers: they are made again after the rebuild
(and, going back, after the reverse rebuild). No raw SQL here.
"""

import django.contrib.postgres.search
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import migrations, models

import recommender.models
from recommender.papers.search import search_index_ensure

COLUMN = "search_vector"
GIN = GinIndex(fields=[COLUMN], name="recommender_paper_search_gin")


def legacy_column_drop(apps, schema_editor):
    """Drop the tsvector column that 0003 made by hand, where it exists (it was never in the state)."""
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    Paper = apps.get_model("recommender", "Paper")
    with connection.cursor() as cursor:
        columns = {c.name for c in connection.introspection.get_table_description(cursor, Paper._meta.db_table)}
    if COLUMN in columns:
        legacy = SearchVectorField(null=True)
        legacy.set_attributes_from_name(COLUMN)
        schema_editor.remove_field(Paper, legacy)  # its GIN index goes with it


def gin_index_add(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.add_index(apps.get_model("recommender", "Paper"), GIN)


def gin_index_remove(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.remove_index(apps.get_model("recommender", "Paper"), GIN)


def fts_triggers_ensure(apps, schema_editor):
    """SQLite: make the FTS5 triggers the table rebuild dropped (a no-op on other databases)."""
    search_index_ensure(using=schema_editor.connection)


def after_the_rebuild(apps, schema_editor):
    fts_triggers_ensure(apps, schema_editor)
    gin_index_add(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [("recommender", "0014_translated_abstracts")]

    operations = [
        # Backwards, this runs last: after the reverse rebuild of RemoveField.
        migrations.RunPython(legacy_column_drop, fts_triggers_ensure, elidable=False),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddIndex(
                    model_name="paper",
                    index=models.Index(fields=["modified_at"], name="recommender_paper_modified_idx"),
                )
            ],
        ),
        migrations.AddField(
            model_name="paper",
            name=COLUMN,
            field=models.GeneratedField(
                db_persist=True,
                expression=recommender.models.PostgresOnly(
                    django.contrib.postgres.search.CombinedSearchVector(
                        django.contrib.postgres.search.SearchVector("title", config="english", weight="A"),
                        "||",
                        django.contrib.postgres.search.SearchVector("abstract", config="english", weight="B"),
                        django.contrib.postgres.search.SearchConfig("english"),
                    )
                ),
                output_field=django.contrib.postgres.search.SearchVectorField(null=True),
            ),
        ),
        migrations.RunPython(after_the_rebuild, gin_index_remove, elidable=False),
    ]
