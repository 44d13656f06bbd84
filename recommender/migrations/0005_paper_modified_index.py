"""An index on Paper.modified_at so the semantic search index notices changes cheaply
(see recommender/papers/search.py; kept out of the model so the ORM state is unchanged)."""

from django.db import migrations

MODIFIED_INDEX = "CREATE INDEX IF NOT EXISTS recommender_paper_modified_idx ON recommender_paper (modified_at)"


class Migration(migrations.Migration):
    dependencies = [("recommender", "0004_profile_verbose_name")]

    operations = [
        migrations.RunSQL(MODIFIED_INDEX, "DROP INDEX IF EXISTS recommender_paper_modified_idx", elidable=False),
    ]
