# Issue 15 part 2: a profile's filters now live on its topics (0012 copied them into the default topic).

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("recommender", "0012_topics_from_profiles"),
    ]

    operations = [
        migrations.RemoveField(
            model_name="profile",
            name="categories",
        ),
        migrations.RemoveField(
            model_name="profile",
            name="exclude_authors",
        ),
        migrations.RemoveField(
            model_name="profile",
            name="exclude_keywords",
        ),
        migrations.RemoveField(
            model_name="profile",
            name="include_authors",
        ),
        migrations.RemoveField(
            model_name="profile",
            name="include_keywords",
        ),
    ]
