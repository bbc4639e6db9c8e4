"""Problem reports ("can't judge") as a study admin sees and resolves them.

An annotator's report is written by the vote path (``vote_path.problem_report_create``), which ends
their lease and hands them the next comparison. Here a study admin reads a track's open reports, one
row per comparison, and resolves all of a comparison's open reports at once:

- fixed: the problem was fixed; the comparison goes back in the pool, its reporters may get it again;
- dismissed: nothing wrong; back in the pool, though not to those who reported it;
- removed: the comparison leaves the pool for good. It closes like a comparison that has its votes
  (status ``removed``), so that the track's progress can complete; its votes stay stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import Prefetch
from django.utils import timezone

from annotate.adaptive import ItemStatus
from annotate.errors import NotYours, ProblemReportError, ProblemResolveError
from annotate.models import ProblemReport, Track, TrackItem


@dataclass(frozen=True)
class ReportedComparison:
    """A comparison of the track with open problem reports, as the track's reports page lists it."""

    item: TrackItem
    reports: Sequence[ProblemReport]

    @property
    def reporters(self) -> int:
        return len({report.rater_id for report in self.reports})


def problem_reports_open(*, track: Track) -> list[ReportedComparison]:
    """The track's comparisons with open problem reports, the oldest report first: two queries."""
    open_reports = ProblemReport.objects.filter(resolution=ProblemReport.Resolution.OPEN).select_related(
        "rater__user"
    )
    items = (
        TrackItem.objects.filter(track=track, problem_reports__resolution=ProblemReport.Resolution.OPEN)
        .distinct()
        .select_related(
            "comparison__identity", "comparison__prompt", "comparison__video_a", "comparison__video_b"
        )
        .prefetch_related(Prefetch("problem_reports", queryset=open_reports, to_attr="open_reports"))
    )
    reported = [ReportedComparison(item=item, reports=item.open_reports) for item in items]
    return sorted(reported, key=lambda row: row.reports[0].created_at)


# The item's leases that a resolution may change, then the item: the lock order of a vote.
_RESOLVE_LOCK_SQL = """
SELECT a.id FROM annotate_assignment AS a
WHERE a.item_id = %(item)s AND a.status IN ('open', 'reported')
ORDER BY a.id
FOR UPDATE
"""

_ITEM_LOCK_SQL = """
SELECT i.status FROM annotate_trackitem AS i WHERE i.id = %(item)s AND i.track_id = %(track)s
FOR NO KEY UPDATE
"""

# Removal: the leases still open on it go back (they claim nothing any more), the comparison closes,
# and, if it was open, it leaves the "still open" count of each seat that voted on it as a completing
# vote does. Undo can no longer take a vote on it back (the seats' undoable vote is cleared). Seats
# in id order, the track last: its update reads ``seated`` (always true), so it runs after them.
_REMOVE_SQL = """
WITH released AS (
    UPDATE annotate_assignment SET status = 'expired'
    WHERE item_id = %(item)s AND status = 'open'
    RETURNING purpose
), removed AS (
    UPDATE annotate_trackitem SET
        held = true, status = 'removed',
        claimed = claimed - (SELECT count(*) FROM released WHERE purpose = 'vote')
    WHERE id = %(item)s
), seats AS (
    SELECT s.id FROM annotate_trackseat AS s
    WHERE s.track_id = %(track)s AND s.rater_id IN (
        SELECT a.rater_id FROM annotate_assignment AS a
        WHERE a.item_id = %(item)s AND a.status = 'answered' AND a.purpose = 'vote'
    )
    ORDER BY s.id
    FOR NO KEY UPDATE
), seated AS (
    UPDATE annotate_trackseat AS s SET
        votes_on_open = s.votes_on_open - CASE WHEN %(was_open)s THEN 1 ELSE 0 END,
        undoable_id = CASE
            WHEN s.undoable_id IN (SELECT j.id FROM annotate_judgment AS j
                                   JOIN annotate_assignment AS a ON a.id = j.assignment_id
                                   WHERE a.item_id = %(item)s) THEN NULL
            ELSE s.undoable_id END
    FROM seats WHERE s.id = seats.id
    RETURNING s.id
)
UPDATE annotate_track SET items_complete = items_complete + CASE WHEN %(was_open)s THEN 1 ELSE 0 END
WHERE id = %(track)s AND (SELECT count(*) FROM seated) >= 0
"""

_FIXED_SQL = "UPDATE annotate_assignment SET status = 'expired' WHERE id = ANY(%s) AND status = 'reported'"

RESOLUTIONS = {
    ProblemReport.Resolution.FIXED.value,
    ProblemReport.Resolution.REMOVED.value,
    ProblemReport.Resolution.DISMISSED.value,
}


@transaction.atomic
def problem_reports_resolve(
    *, track: Track, item_id: int, resolution: str, by: User, now: datetime | None = None
) -> int:
    """Resolve every open problem report of the track's comparison ``item_id`` as ``resolution``
    (fixed, removed or dismissed; see the module's docstring). Returns how many reports it closed."""
    if resolution not in RESOLUTIONS:
        known = ", ".join(sorted(RESOLUTIONS))
        raise ProblemReportError(f"Unknown resolution {resolution!r}: expected one of {known}.")
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(_RESOLVE_LOCK_SQL, {"item": item_id})
        cursor.execute(_ITEM_LOCK_SQL, {"item": item_id, "track": track.pk})
        row = cursor.fetchone()
        if row is None:
            raise NotYours("No such comparison in this track.")
        (status,) = row
        reports = list(
            ProblemReport.objects.filter(
                item_id=item_id, resolution=ProblemReport.Resolution.OPEN
            ).values_list("id", "assignment_id")
        )
        if not reports:
            raise ProblemResolveError("This comparison has no open problem reports: nothing to resolve.")
        if resolution == ProblemReport.Resolution.REMOVED:
            cursor.execute(
                _REMOVE_SQL, {"item": item_id, "track": track.pk, "was_open": status == ItemStatus.OPEN}
            )
        else:
            TrackItem.objects.filter(pk=item_id).update(held=False)
        if resolution == ProblemReport.Resolution.FIXED:
            # Its reporters' leases end as if they had expired: the pick may hand it to them again.
            cursor.execute(
                _FIXED_SQL,
                [[assignment_id for _, assignment_id in reports if assignment_id is not None]],
            )
    return ProblemReport.objects.filter(pk__in=[pk for pk, _ in reports]).update(
        resolution=resolution, resolved_at=now, resolved_by=by
    )
