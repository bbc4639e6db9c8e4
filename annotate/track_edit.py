"""Editing a track after it was made: its name, instructions, votes per comparison, choices, watch rule
and team.

A new vote plan is applied to every comparison the track has, as if its votes had come under it
(``adaptive.status``, ``adaptive.votes_wanted``): raising the votes per comparison opens complete
comparisons again (they go back in the pool), lowering it completes open ones that now have enough.
No vote is ever deleted: a comparison with more votes than the new number keeps them, complete.

The change and a vote must never cross: a vote computes its comparison's needed votes from the plan it
read, so one reading the old plan after the change would undo it. ``track_edit`` therefore first waits
for the requests of every annotator seated on the track and holds theirs back until it commits
(``vote_path.track_annotators_lock``: their own advisory locks, taken before any row lock as their
requests take them), then locks the comparisons in id order, the seats in id order and the track last,
the vote path's order. The team cannot change meanwhile: setup writes share ``track_setup_lock``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import connection, transaction

from annotate import adaptive
from annotate.adaptive import ItemStatus, Tally, VotePlan
from annotate.errors import TrackSetupError
from annotate.models import Track, TrackItem
from annotate.services import track_annotators_set, track_setup_lock
from annotate.vote_path import track_annotators_lock


@dataclass(frozen=True)
class PlanChange:
    """What a new vote plan does to the track's comparisons: ``reopened``, complete ones that need votes
    again; ``completed``, open ones that have enough; ``above``, complete ones keeping more votes than
    the plan now asks (none is deleted)."""

    reopened: int = 0
    completed: int = 0
    above: int = 0

    @property
    def changes_anything(self) -> bool:
        return bool(self.reopened or self.completed or self.above)


@dataclass(frozen=True)
class _ItemNow:
    id: int
    needed: int
    status: str
    tally: Tally


@dataclass(frozen=True)
class _ItemAfter:
    id: int
    needed: int
    status: str
    opens: bool
    closes: bool
    above: bool
    changed: bool


def _after(plan: VotePlan, item: _ItemNow) -> _ItemAfter:
    status = adaptive.status(plan, item.tally)
    was_open, is_open = item.status == ItemStatus.OPEN, status == ItemStatus.OPEN
    most = plan.fixed_votes if plan.mode == adaptive.VoteMode.FIXED else plan.max_votes
    return _ItemAfter(
        id=item.id,
        needed=adaptive.votes_wanted(plan, item.tally),
        status=str(status),
        opens=is_open and not was_open,
        closes=was_open and not is_open,
        above=item.tally.votes > most,
        changed=(adaptive.votes_wanted(plan, item.tally), str(status)) != (item.needed, item.status),
    )


def _summary(afters: Iterable[_ItemAfter]) -> PlanChange:
    afters = list(afters)
    return PlanChange(
        reopened=sum(after.opens for after in afters),
        completed=sum(after.closes for after in afters),
        above=sum(after.above for after in afters),
    )


_ITEM_FIELDS = ("id", "needed", "status", "tally_a", "tally_b", "tally_tie", "votes")


def _item_now(row: tuple) -> _ItemNow:
    pk, needed, status, a, b, tie, votes = row
    return _ItemNow(id=pk, needed=needed, status=status, tally=Tally(a, b, tie, votes))


def track_plan_change_preview(*, track: Track, plan: VotePlan) -> PlanChange:
    """What ``track_edit`` would do to the comparisons with ``plan``, as they stand now (nothing
    written, nothing locked): the edit page states it before saving."""
    if plan == track.vote_plan:
        return PlanChange()
    rows = TrackItem.objects.filter(track=track, is_check=False).values_list(*_ITEM_FIELDS)
    return _summary(_after(plan, _item_now(row)) for row in rows)


# The comparisons that change, the "still open" count of every seat that answered one that crosses
# (opens: +1, completes: -1), and the track's complete count. Seats in id order, the track last.
_PLAN_WRITE_SQL = """
WITH counted AS (
    UPDATE annotate_trackitem AS i SET needed = c.needed, status = c.status
    FROM unnest(%(items)s::bigint[], %(needed)s::int[], %(statuses)s::text[]) AS c(id, needed, status)
    WHERE i.id = c.id
), crossing AS (
    SELECT s.id, sum(CASE WHEN a.item_id = ANY(%(opened)s::bigint[]) THEN 1 ELSE -1 END) AS n
    FROM annotate_assignment AS a
    JOIN annotate_trackseat AS s ON s.track_id = %(track)s AND s.rater_id = a.rater_id
    WHERE a.item_id = ANY(%(opened)s::bigint[] || %(completed)s::bigint[])
      AND a.status = 'answered' AND a.purpose = 'vote'
    GROUP BY s.id
), seats AS (
    SELECT s.id FROM annotate_trackseat AS s WHERE s.id IN (SELECT id FROM crossing)
    ORDER BY s.id
    FOR NO KEY UPDATE
), seated AS (
    UPDATE annotate_trackseat AS s SET votes_on_open = s.votes_on_open + crossing.n
    FROM seats JOIN crossing ON crossing.id = seats.id
    WHERE s.id = seats.id
    RETURNING s.id
)
UPDATE annotate_track SET
    items_complete = items_complete + cardinality(%(completed)s::bigint[])
        - cardinality(%(opened)s::bigint[])
WHERE id = %(track)s AND (SELECT count(*) FROM seated) >= 0  -- read: the seats are updated first
"""


def _plan_apply(*, track: Track, plan: VotePlan) -> PlanChange:
    with connection.cursor() as cursor:
        track_annotators_lock(cursor, track_id=track.pk)
        cursor.execute(
            f"SELECT {', '.join(_ITEM_FIELDS)} FROM annotate_trackitem"
            " WHERE track_id = %s AND NOT is_check ORDER BY id FOR NO KEY UPDATE",
            [track.pk],
        )
        afters = [_after(plan, _item_now(row)) for row in cursor.fetchall()]
        changed = [after for after in afters if after.changed]
        cursor.execute(
            _PLAN_WRITE_SQL,
            {
                "items": [after.id for after in changed],
                "needed": [after.needed for after in changed],
                "statuses": [after.status for after in changed],
                "opened": [after.id for after in changed if after.opens],
                "completed": [after.id for after in changed if after.closes],
                "track": track.pk,
            },
        )
    return _summary(afters)


def _checked(*, track: Track, name: str, plan: VotePlan, min_watch_fraction: float) -> str:
    name = name.strip()
    if not name:
        raise TrackSetupError("The track needs a name.")
    if len(name) > Track._meta.get_field("name").max_length:  # type: ignore[operator]
        raise TrackSetupError("The name is too long: 120 characters at most.")
    if Track.objects.filter(name__iexact=name).exclude(pk=track.pk).exists():
        raise TrackSetupError(f"A track named “{name}” already exists.")
    problems = plan.problems()
    if problems:
        raise TrackSetupError(" ".join(problems))
    if not 0.0 <= min_watch_fraction <= 1.0:
        raise TrackSetupError(
            "The watch rule is a fraction of each video, from 0 (no rule) to 1 (all of it)."
        )
    return name


@transaction.atomic
def track_edit(
    *,
    track: Track,
    name: str,
    instructions: str,
    plan: VotePlan,
    allow_tie: bool,
    allow_both_bad: bool,
    min_watch_fraction: float,
    annotators: Iterable[User],
) -> PlanChange:
    """Change the track's settings and team in one transaction; return what the new vote plan did to
    its comparisons. Bad settings raise ``TrackSetupError`` naming them, and nothing is written."""
    name = _checked(track=track, name=name, plan=plan, min_watch_fraction=min_watch_fraction)
    track_setup_lock(track_id=track.pk)
    track.refresh_from_db()
    change = _plan_apply(track=track, plan=plan) if plan != track.vote_plan else PlanChange()
    fields = {
        "name": name,
        "instructions": instructions,
        "allow_tie": allow_tie,
        "allow_both_bad": allow_both_bad,
        "min_watch_fraction": min_watch_fraction,
        **Track.plan_fields(plan),
    }
    Track.objects.filter(pk=track.pk).update(**fields)
    track_annotators_set(track=track, users=annotators)
    track.refresh_from_db()
    return change
