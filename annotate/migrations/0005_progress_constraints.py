# The constraints that go with the counters, after the backfill (see 0004).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("annotate", "0004_progress_backfill"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="track",
            constraint=models.CheckConstraint(
                condition=models.Q(("min_watch_fraction__gte", 0), ("min_watch_fraction__lte", 1)),
                name="track_watch_fraction_0_to_1",
            ),
        ),
        migrations.AddConstraint(
            model_name="trackseat",
            constraint=models.UniqueConstraint(fields=("track", "rater"), name="track_seat_rater_once"),
        ),
    ]
