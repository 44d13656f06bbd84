from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("recommender", "0006_summaries_provenance"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="profile",
            options={
                "permissions": [("preview_digest", "Can preview a subscriber's digest (links inert)")],
                "verbose_name": "subscriber",
                "verbose_name_plural": "subscribers",
            },
        ),
    ]
