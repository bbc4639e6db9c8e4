from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("annotate", "0014_adaptive_votes"),
    ]

    operations = [
        migrations.AddField(
            model_name="assignment",
            name="wait_ms",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
    ]
