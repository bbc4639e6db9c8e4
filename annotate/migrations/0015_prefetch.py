from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("annotate", "0014_adaptive_votes"),
    ]

    operations = [
        migrations.AddField(
            model_name="assignment",
            name="wait_ms",
            field=models.PositiveIntegerField(
                null=True,
                blank=True,
                help_text="Milliseconds from the vote before this one until both videos of this pair could play through, as the player reported it (clipped).",
            ),
        ),
    ]
