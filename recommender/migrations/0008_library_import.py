# Library import (issue 15): interactions recorded by an import carry the source "import".

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("recommender", "0007_accounts_hardening"),
    ]

    operations = [
        migrations.AlterField(
            model_name="interaction",
            name="source",
            field=models.CharField(
                choices=[
                    ("web", "Web"),
                    ("email", "Email"),
                    ("onboarding", "Onboarding"),
                    ("import", "Library import"),
                ],
                default="web",
                max_length=16,
            ),
        ),
    ]
