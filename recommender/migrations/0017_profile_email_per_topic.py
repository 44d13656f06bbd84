# Issue 15 part 2: a reader with several topics may choose one email per topic (default: one email, a section each).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("recommender", "0016_delivery_lists_removed"),
    ]

    operations = [
        migrations.AddField(
            model_name="profile",
            name="email_per_topic",
            field=models.BooleanField(
                default=False,
                help_text="With several topics: one email per topic instead of one email with a section each",
            ),
        ),
    ]
