from django.db import migrations, models

# The seats' answers to checks so far, counted from their judgments.
_BACKFILL = """
UPDATE annotate_trackseat AS s SET checks_given = (
    SELECT count(*) FROM annotate_judgment AS j
    WHERE j.track_id = s.track_id AND j.rater_id = s.rater_id AND (j.is_gold OR j.is_repeat)
)
WHERE s.rater_id IS NOT NULL
"""


class Migration(migrations.Migration):
    dependencies = [
        ("annotate", "0012_quality_page"),
    ]

    operations = [
        migrations.AddField(
            model_name="trackseat",
            name="checks_given",
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
        migrations.RunSQL(_BACKFILL, migrations.RunSQL.noop),
    ]
