from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("studies", "0004_quality_checks"),
    ]

    operations = [
        migrations.AddField(
            model_name="matchup",
            name="wait_ms",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
    ]
