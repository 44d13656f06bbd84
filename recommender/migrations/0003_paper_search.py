"""Keyword-search structures: an FTS5 table kept in step by triggers on SQLite (see
recommender/papers/search.py). It also made PostgreSQL's tsvector column by hand until the migration
paper_search_vector made it a model field; ``backwards`` still drops that column where it exists."""

from django.db import migrations


def forwards(apps, schema_editor):
    from recommender.papers.search import search_index_ensure

    search_index_ensure(using=schema_editor.connection)


def backwards(apps, schema_editor):
    conn = schema_editor.connection
    with conn.cursor() as cur:
        if conn.vendor == "postgresql":
            cur.execute("DROP INDEX IF EXISTS recommender_paper_search_gin")
            cur.execute("ALTER TABLE recommender_paper DROP COLUMN IF EXISTS search_vector")
        elif conn.vendor == "sqlite":
            for suffix in ("ai", "ad", "au"):
                cur.execute(f"DROP TRIGGER IF EXISTS recommender_paper_fts_{suffix}")
            cur.execute("DROP TABLE IF EXISTS recommender_paper_fts")


class Migration(migrations.Migration):
    dependencies = [("recommender", "0002_paper_trending_score")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
