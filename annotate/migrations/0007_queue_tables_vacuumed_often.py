from django.db import migrations

# Track items and assignments are worked like a queue. Each pick moves an item within
# track_item_pick_idx and each vote moves an assignment out of the open ones, leaving dead index entries
# that every later pick steps over until a vacuum removes them: by default that waits for a fifth of
# the table to have changed. These thresholds ask for it after about a thousand changes (plus 1 % of
# a large table, whose vacuum costs more). How often autovacuum looks at all is the server's
# autovacuum_naptime (config/embedded.py).
QUEUE_TABLES = {"annotate_trackitem": 1000, "annotate_assignment": 2000}


class Migration(migrations.Migration):
    dependencies = [("annotate", "0006_fewer_index_writes_per_vote")]

    operations = [
        migrations.RunSQL(
            "".join(
                f"ALTER TABLE {table} SET (autovacuum_vacuum_threshold = {threshold}, "
                "autovacuum_vacuum_scale_factor = 0.01);"
                for table, threshold in QUEUE_TABLES.items()
            ),
            "".join(
                f"ALTER TABLE {table} RESET (autovacuum_vacuum_threshold, autovacuum_vacuum_scale_factor);"
                for table in QUEUE_TABLES
            ),
        )
    ]
