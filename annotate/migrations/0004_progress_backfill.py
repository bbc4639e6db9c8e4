# The counters of 0003 filled from the rows as they are. A migration of its own: PostgreSQL refuses to
# alter a table (index, constraint) in the same transaction as an update with a pending foreign-key check.

from django.db import migrations

# Counters from the rows as they are: the same definitions the services keep up from here on.
BACKFILL = """
-- The server records at most one full play of each video, so a rule above 1 could never be met.
UPDATE annotate_track SET min_watch_fraction = 1 WHERE min_watch_fraction > 1;
UPDATE annotate_track SET min_watch_fraction = 0 WHERE min_watch_fraction < 0;

INSERT INTO annotate_rater (kind, user_id, excluded, created_at)
SELECT DISTINCT 'annotator', s.user_id, false, now() FROM annotate_trackseat AS s
WHERE NOT EXISTS (SELECT 1 FROM annotate_rater AS r WHERE r.user_id = s.user_id);

UPDATE annotate_trackseat AS s SET rater_id = r.id FROM annotate_rater AS r WHERE r.user_id = s.user_id;

UPDATE annotate_track AS t SET
    items_total = (SELECT count(*) FROM annotate_trackitem AS i WHERE i.track_id = t.id),
    items_complete = (
        SELECT count(*) FROM annotate_trackitem AS i WHERE i.track_id = t.id AND i.votes >= t.votes_needed
    ),
    votes_stored = (SELECT coalesce(sum(i.votes), 0) FROM annotate_trackitem AS i WHERE i.track_id = t.id);

UPDATE annotate_trackseat AS s SET
    votes_given = (
        SELECT count(*) FROM annotate_judgment AS j WHERE j.track_id = s.track_id AND j.rater_id = s.rater_id
    ),
    votes_on_open = (
        SELECT count(*) FROM annotate_assignment AS a
        JOIN annotate_trackitem AS i ON i.id = a.item_id
        JOIN annotate_track AS t ON t.id = i.track_id
        WHERE i.track_id = s.track_id AND a.rater_id = s.rater_id AND a.status = 'answered'
          AND i.votes < t.votes_needed
    );
"""


class Migration(migrations.Migration):
    dependencies = [
        ("annotate", "0003_progress_counters"),
    ]

    operations = [
        migrations.RunSQL(BACKFILL, reverse_sql=migrations.RunSQL.noop),
    ]
