"""Writes of annotation: building comparisons and tracks, handing out work, recording votes."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from psycopg import pq

from annotate.errors import (
    AssignmentExpired,
    InvalidChoice,
    NothingToUndo,
    NotYours,
    TrackPaused,
    TrackSetupError,
    WatchRuleNotMet,
)
from annotate.models import Assignment, Choice, Comparison, Judgment, Rater, Side, Track, TrackItem, TrackSeat
from annotate.selectors import PANEL_COLUMNS, PANEL_JOINS
from generation.models import Identity, Method, Prompt, Video

# The player offers speeds up to 2×: no honest report can have seen more than this per second.
MAX_PLAYBACK_SPEED = 2.0


# --- comparisons and tracks ---------------------------------------------------------------------


def comparisons_build(*, videos: Iterable[Video]) -> list[Comparison]:
    """Every unordered pair of videos that share identity and prompt, each pair once (idempotent)."""
    by_case: dict[tuple[int, int], list[Video]] = {}
    for video in videos:
        by_case.setdefault((video.identity_id, video.prompt_id), []).append(video)
    wanted = [
        (first, second)
        for case_videos in by_case.values()
        for first, second in itertools.combinations(sorted(case_videos, key=lambda v: v.pk), 2)
    ]
    Comparison.objects.bulk_create(
        [
            Comparison(video_a=a, video_b=b, identity_id=a.identity_id, prompt_id=a.prompt_id)
            for a, b in wanted
        ],
        ignore_conflicts=True,  # pairs that already exist are reused, not duplicated
    )
    pairs = {(a.pk, b.pk) for a, b in wanted}
    existing = Comparison.objects.filter(video_a__in={a for a, _ in pairs}, video_b__in={b for _, b in pairs})
    return [c for c in existing if (c.video_a_id, c.video_b_id) in pairs]


@transaction.atomic
def track_create(
    *,
    name: str,
    kind: str,
    identities: Iterable[Identity],
    prompts: Iterable[Prompt],
    methods: Iterable[Method],
    annotators: Iterable[AbstractBaseUser] = (),
    votes_needed: int = 3,
    allow_tie: bool = False,
    allow_both_bad: bool = False,
    min_watch_fraction: float = 1.0,
    lease_seconds: int = 600,
    instructions: str = "",
) -> Track:
    """Create a track over the catalog slice and build its comparisons."""
    if not 0.0 <= min_watch_fraction <= 1.0:
        # The server records at most one full play of each video: a larger rule could never be met.
        raise TrackSetupError(
            "The watch rule is a fraction of each video, from 0 (no rule) to 1 (all of it)."
        )
    videos = list(
        Video.objects.filter(
            identity__in=list(identities), prompt__in=list(prompts), method__in=list(methods)
        )
    )
    comparisons = comparisons_build(videos=videos)
    if not comparisons:
        raise TrackSetupError(
            "These identities, prompts and methods give no comparison: a comparison needs two videos "
            "of the same identity and prompt."
        )
    track = Track.objects.create(
        name=name,
        kind=kind,
        votes_needed=votes_needed,
        allow_tie=allow_tie,
        allow_both_bad=allow_both_bad,
        min_watch_fraction=min_watch_fraction,
        lease_seconds=lease_seconds,
        instructions=instructions,
        items_total=len(comparisons),
    )
    TrackItem.objects.bulk_create([TrackItem(track=track, comparison=c) for c in comparisons])
    track_annotators_set(track=track, users=annotators)
    return track


# A seat's counters from the rows, for seats created for people who may have voted on the track before
# (unseated, then seated again). The migration that added the counters backfilled them the same way.
_SEAT_COUNTERS_SQL = """
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
    )
WHERE s.track_id = %(track)s AND s.user_id = ANY(%(users)s)
"""


@transaction.atomic
def track_annotators_set(*, track: Track, users: Iterable[AbstractBaseUser]) -> None:
    wanted = {user.pk for user in users}
    # Seat rows locked in id order, as votes take them: an unseating never deadlocks with a vote.
    leaving = list(
        TrackSeat.objects.select_for_update()
        .filter(track=track)
        .exclude(user_id__in=wanted)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    TrackSeat.objects.filter(pk__in=leaving).delete()
    arriving = wanted - set(TrackSeat.objects.filter(track=track).values_list("user_id", flat=True))
    if not arriving:
        return
    raters = raters_for_users(user_ids=arriving)
    TrackSeat.objects.bulk_create(
        [TrackSeat(track=track, user_id=pk, rater_id=raters[pk]) for pk in arriving], ignore_conflicts=True
    )
    with connection.cursor() as cursor:
        cursor.execute(_SEAT_COUNTERS_SQL, {"track": track.pk, "users": sorted(arriving)})


def track_pause_set(*, track: Track, paused: bool) -> Track:
    Track.objects.filter(pk=track.pk).update(is_paused=paused)
    track.is_paused = paused
    return track


def track_items_added(*, track: Track, count: int) -> None:
    """Count comparisons added to a track after its creation: they all still need their votes."""
    if count:
        Track.objects.filter(pk=track.pk).update(items_total=F("items_total") + count)


@transaction.atomic
def track_extend(*, track: Track, videos: Iterable[Video]) -> int:
    """Add comparisons of ``videos`` with each other and with the track's videos of the same identity and
    prompt; return how many comparisons the track gained. Running it again adds nothing."""
    new = list(videos)
    cases = {(video.identity_id, video.prompt_id) for video in new}
    if not cases:
        return 0
    pairs = TrackItem.objects.filter(track=track).values_list(
        "comparison__video_a_id", "comparison__video_b_id"
    )
    in_track = {video_id for pair in pairs for video_id in pair}
    same_cases = [v for v in Video.objects.filter(pk__in=in_track) if (v.identity_id, v.prompt_id) in cases]
    comparisons = comparisons_build(videos=[*same_cases, *new])
    before = TrackItem.objects.filter(track=track).count()
    TrackItem.objects.bulk_create(
        [TrackItem(track=track, comparison=comparison) for comparison in comparisons], ignore_conflicts=True
    )
    added = TrackItem.objects.filter(track=track).count() - before
    track_items_added(track=track, count=added)
    return added


def rater_for_user(user: AbstractBaseUser) -> Rater:
    rater, _ = Rater.objects.get_or_create(user=user, defaults={"kind": Rater.Kind.ANNOTATOR})
    return rater


def raters_for_users(*, user_ids: Iterable[int]) -> dict[int, int]:
    """Rater ids by user id, creating the annotators' raters that do not exist yet."""
    wanted = set(user_ids)
    Rater.objects.bulk_create(
        [Rater(kind=Rater.Kind.ANNOTATOR, user_id=pk) for pk in wanted], ignore_conflicts=True
    )
    return dict(Rater.objects.filter(user_id__in=wanted).values_list("user_id", "pk"))


# --- the annotator's work -----------------------------------------------------------------------
#
# Each request is one transaction of a few raw statements. Locks are always taken in this order, so
# that concurrent votes, undos and lease releases never wait on each other in a circle:
#   1. the annotator's advisory lock (one request of theirs at a time);
#   2. the voted assignment and its item (FOR UPDATE); a new item is claimed with SKIP LOCKED, and
#      expired leases are released with SKIP LOCKED, so neither ever waits;
#   3. seat rows, in id order (a vote that completes a comparison updates its other raters' seats);
#   4. the track row last, since every vote on the track takes it: it is held only until the commit.


def _compact(sql: str) -> str:
    """One line of SQL (statements here hold no comments and no literal runs of spaces)."""
    return " ".join(sql.split())


# How _PICK_SQL chooses, recorded with each judgment.
SELECTION_POLICY = "fewest_votes_first"

# Two-key advisory locks have a key space of their own; this class marks "one annotator's requests".
_ANNOTATOR_LOCK_CLASS = 0x5EA7

_TRACK_FIELDS = [field.attname for field in Track._meta.concrete_fields]
_TRACK_COLUMNS = ", ".join(f"t.{field.column}" for field in Track._meta.concrete_fields)
_SEAT_COLUMNS = "s.id, s.rater_id, s.assigned, s.votes_given, s.votes_on_open, s.undoable_id"

_SEAT_SQL = f"""
SELECT {_SEAT_COLUMNS}, {_TRACK_COLUMNS}
FROM annotate_trackseat AS s JOIN annotate_track AS t ON t.id = s.track_id
WHERE s.track_id = %(track)s AND s.user_id = %(user)s
"""

# The voted assignment with the annotator's seat and the track; its item is locked too, so that the
# vote knows whether it completes the comparison, and before any item is claimed (see the order above).
_VOTE_SQL = f"""
SELECT {_SEAT_COLUMNS}, a.status, a.shown_left, a.expires_at, a.watched_a, a.watched_b, a.item_id,
       i.comparison_id, i.votes, {_TRACK_COLUMNS}
FROM annotate_assignment AS a
JOIN annotate_trackitem AS i ON i.id = a.item_id
JOIN annotate_trackseat AS s ON s.track_id = i.track_id AND s.rater_id = a.rater_id
JOIN annotate_track AS t ON t.id = i.track_id
WHERE a.id = %(assignment)s AND s.user_id = %(user)s AND (%(track)s::bigint IS NULL OR i.track_id = %(track)s)
FOR UPDATE OF a, i
"""

_ASSIGNMENT_COLUMNS = (
    "h.id, h.item_id, h.shown_left, h.status, h.issued_at, h.expires_at, h.watched_a, h.watched_b, "
    "c.id, c.video_a_id, c.video_b_id, c.identity_id, c.prompt_id"
)

_CURRENT_SQL = f"""
SELECT {_ASSIGNMENT_COLUMNS}
FROM annotate_assignment AS h
JOIN annotate_trackitem AS i ON i.id = h.item_id
JOIN annotate_comparison AS c ON c.id = i.comparison_id
WHERE i.track_id = %(track)s AND h.rater_id = %(rater)s AND h.status = 'open' AND h.expires_at > %(now)s
LIMIT 1
"""

# Fewest claimed first, walking track_item_pick_idx; SKIP LOCKED lets a concurrent picker take the
# next row instead of waiting for (and then over-claiming) the one being handed out right now. The free
# item is locked in a CTE of its own and joined: written as `WHERE id = (SELECT ... SKIP LOCKED)`, a
# pick racing others sometimes updated no row although many were free. An own lease that expired
# earlier is reopened rather than duplicated. The OFFSET 0 keeps NOT EXISTS a probe of
# assignment_once_per_rater for each candidate (usually one): turned into an anti-join, the planner may
# read all of the annotator's assignments on every pick instead, a cost that grows with their history.
_PICK_CTES = """
free AS (
    SELECT i.id FROM annotate_trackitem AS i
    WHERE i.track_id = %(track)s AND i.claimed < %(needed)s
      AND NOT EXISTS (
          SELECT 1 FROM annotate_assignment AS a
          WHERE a.item_id = i.id AND a.rater_id = %(rater)s AND a.status <> 'expired'
          OFFSET 0
      )
    ORDER BY i.claimed, i.id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
), picked AS (
    UPDATE annotate_trackitem AS t SET claimed = t.claimed + 1 FROM free WHERE t.id = free.id
    RETURNING t.id, t.comparison_id
), handed AS (
    INSERT INTO annotate_assignment AS h (
        item_id, rater_id, shown_left, status, issued_at, expires_at, answered_at, watched_a, watched_b,
        watch_reported_at
    )
    SELECT picked.id, %(rater)s, %(side)s, 'open', %(now)s, %(expires)s, NULL, 0, 0, NULL FROM picked
    ON CONFLICT (item_id, rater_id) DO UPDATE SET
        shown_left = EXCLUDED.shown_left, status = 'open', issued_at = EXCLUDED.issued_at,
        expires_at = EXCLUDED.expires_at, answered_at = NULL, watched_a = 0, watched_b = 0,
        watch_reported_at = NULL
    RETURNING h.id, h.item_id, h.shown_left, h.status, h.issued_at, h.expires_at, h.watched_a, h.watched_b
)"""

_PICK_SQL = f"""
WITH {_PICK_CTES}
SELECT {_ASSIGNMENT_COLUMNS}
FROM handed AS h
JOIN picked ON picked.id = h.item_id
JOIN annotate_comparison AS c ON c.id = picked.comparison_id
"""

# Only when a pick finds nothing: leases past their time go back to the pool. SKIP LOCKED: a row that
# someone holds right now is theirs to finish, and the release never waits for anyone.
_RELEASE_EXPIRED_SQL = """
WITH stale AS (
    SELECT a.id FROM annotate_assignment AS a
    JOIN annotate_trackitem AS i ON i.id = a.item_id
    WHERE i.track_id = %(track)s AND a.status = 'open' AND a.expires_at < %(now)s
    FOR UPDATE OF a, i SKIP LOCKED
), expired AS (
    UPDATE annotate_assignment AS a SET status = 'expired' FROM stale WHERE a.id = stale.id
    RETURNING a.item_id
), released AS (
    SELECT item_id, count(*) AS n FROM expired GROUP BY item_id
)
UPDATE annotate_trackitem AS t SET claimed = t.claimed - released.n
FROM released WHERE t.id = released.item_id
"""


def _vote_ctes(handed: str) -> str:
    """The vote: the judgment, the answered assignment, the item's votes, the seats' counters and the
    track's. A vote that completes its comparison takes it off the "still open" count of the
    comparison's other raters. ``handed``: how many comparisons the same statement handed out.

    The track's update is gated on the seats' (``count(*) FROM seated``) so that it runs after them:
    the track row, which every vote takes, is the last lock and is held the shortest."""
    return f"""
judgment AS (
    INSERT INTO annotate_judgment (
        comparison_id, criterion, choice, shown_left, rater_id, track_id, assignment_id, response_ms,
        watched_a, watched_b, selection_policy, selection_probability, created_at
    )
    VALUES (
        %(comparison)s, %(criterion)s, %(choice)s, %(shown_left)s, %(rater)s, %(track)s, %(assignment)s,
        %(response_ms)s, %(watched_a)s, %(watched_b)s, %(policy)s, NULL, %(created_at)s
    )
    RETURNING id
), answered AS (
    UPDATE annotate_assignment SET status = 'answered', answered_at = %(now)s WHERE id = %(assignment)s
), counted AS (
    UPDATE annotate_trackitem SET votes = votes + 1 WHERE id = %(item)s
), seats AS (
    SELECT s.id FROM annotate_trackseat AS s
    WHERE s.id = %(seat)s OR (
        %(completes)s AND s.track_id = %(track)s AND s.rater_id IN (
            SELECT a.rater_id FROM annotate_assignment AS a
            WHERE a.item_id = %(item)s AND a.status = 'answered' AND a.id <> %(assignment)s
        )
    )
    ORDER BY s.id
    FOR NO KEY UPDATE
), seated AS (
    UPDATE annotate_trackseat AS s SET
        votes_given = s.votes_given + CASE WHEN s.id = %(seat)s THEN 1 ELSE 0 END,
        votes_on_open = s.votes_on_open
            + CASE WHEN s.id <> %(seat)s THEN -1 WHEN %(completes)s THEN 0 ELSE 1 END,
        undoable_id = CASE WHEN s.id = %(seat)s THEN (SELECT id FROM judgment) ELSE s.undoable_id END,
        assigned = s.assigned + CASE WHEN s.id = %(seat)s THEN {handed} ELSE 0 END
    FROM seats WHERE s.id = seats.id
    RETURNING s.id, s.votes_given, s.votes_on_open
), tracked AS (
    UPDATE annotate_track SET
        votes_stored = votes_stored + 1,
        items_complete = items_complete + CASE WHEN %(completes)s THEN 1 ELSE 0 END
    WHERE id = %(track)s AND (SELECT count(*) FROM seated) > 0
    RETURNING items_total, items_complete
)"""


_VOTED_COLUMNS = (
    "(SELECT id FROM judgment), seated.votes_given, seated.votes_on_open, tracked.items_total, "
    "tracked.items_complete"
)

_VOTE_WRITE_SQL = f"""
WITH {_vote_ctes("0")}
SELECT {_VOTED_COLUMNS} FROM seated JOIN tracked ON seated.id = %(seat)s
"""

# The vote, the next comparison (claimed before the seat counts it) and what its panel shows, in one
# statement: the vote button's answer needs nothing more from the database. Claiming first is safe: the
# voted item is already locked, and the claim never waits (SKIP LOCKED). Whitespace is collapsed: under
# 4096 characters psycopg caches how it splits a statement into parameters, above it parses it again
# on every call (a test keeps it under).
_VOTE_AND_NEXT_SQL = _compact(f"""
WITH {_PICK_CTES}, {_vote_ctes("(SELECT count(*) FROM handed)")}
SELECT {_VOTED_COLUMNS}, {_ASSIGNMENT_COLUMNS}, {PANEL_COLUMNS}
FROM seated JOIN tracked ON seated.id = %(seat)s
LEFT JOIN picked ON true
LEFT JOIN handed AS h ON h.item_id = picked.id
LEFT JOIN annotate_comparison AS c ON c.id = picked.comparison_id
{PANEL_JOINS}
""")


@dataclass
class _Seat:
    """The annotator's seat as read under their lock, with the track it belongs to."""

    id: int
    rater_id: int | None
    assigned: int
    votes_given: int
    votes_on_open: int
    undoable_id: int | None
    track: Track

    def progress(self) -> Track:
        """The track, annotated like ``selectors.annotator_tracks`` with this seat's progress."""
        track = self.track
        track.done_by_me = self.votes_given
        track.left_for_me = track.items_total - track.items_complete - self.votes_on_open
        track.can_undo = self.undoable_id is not None
        return track


def _seat_from(row: Sequence[Any], track_offset: int) -> _Seat:
    track = Track.from_db(
        connection.alias, _TRACK_FIELDS, row[track_offset : track_offset + len(_TRACK_FIELDS)]
    )
    return _Seat(*row[:6], track=track)


def _lock_annotator(cursor: Any, user: AbstractBaseUser) -> None:
    """Serialise the annotator's requests until the transaction ends: a double click, a resent vote
    and a page load arriving together must not hand out two comparisons."""
    cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_ANNOTATOR_LOCK_CLASS, user.pk & 0x7FFFFFFF])


def _seat_locked(cursor: Any, *, track_id: int, user: AbstractBaseUser) -> _Seat:
    _lock_annotator(cursor, user)
    cursor.execute(_SEAT_SQL, {"track": track_id, "user": user.pk})
    row = cursor.fetchone()
    if row is None:
        raise NotYours("You are not an annotator on this track.")
    seat = _seat_from(row, 6)
    if seat.rater_id is None:  # a seat made without track_annotators_set
        seat.rater_id = rater_for_user(user).pk
        TrackSeat.objects.filter(pk=seat.id).update(rater_id=seat.rater_id)
    return seat


def _side_for(*, track_id: int, rater_id: int, position: int) -> str:
    """Left side for the rater's n-th assignment: random within each pair, so balanced within one."""
    pair_order = random.Random(f"{track_id}:{rater_id}:{position // 2}").choice(
        [(Side.A, Side.B), (Side.B, Side.A)]
    )
    return str(pair_order[position % 2])


def _loaded(model: type[Any], values: dict[str, Any]) -> Any:
    """A model instance as if loaded from the database, from what a raw statement returned; fields
    not given stay deferred (loaded on first use)."""
    names = [field.attname for field in model._meta.concrete_fields if field.attname in values]
    return model.from_db(connection.alias, names, [values[name] for name in names])


def _assignment_from(row: Sequence[Any], *, track_id: int, rater_id: int) -> Assignment:
    """An assignment with its item and comparison attached, from a row of ``_ASSIGNMENT_COLUMNS``."""
    id_, item_id, shown_left, status, issued_at, expires_at, watched_a, watched_b = row[:8]
    comparison_id, video_a_id, video_b_id, identity_id, prompt_id = row[8:13]
    assignment = _loaded(
        Assignment,
        {
            "id": id_,
            "item_id": item_id,
            "rater_id": rater_id,
            "shown_left": shown_left,
            "status": status,
            "issued_at": issued_at,
            "expires_at": expires_at,
            "watched_a": watched_a,
            "watched_b": watched_b,
        },
    )
    assignment.item = _loaded(
        TrackItem, {"id": item_id, "track_id": track_id, "comparison_id": comparison_id}
    )
    assignment.item.comparison = _loaded(
        Comparison,
        {
            "id": comparison_id,
            "video_a_id": video_a_id,
            "video_b_id": video_b_id,
            "identity_id": identity_id,
            "prompt_id": prompt_id,
        },
    )
    return assignment


def _pick_params(seat: _Seat, now: datetime) -> dict[str, Any]:
    track = seat.track
    assert seat.rater_id is not None
    return {
        "track": track.pk,
        "needed": track.votes_needed,
        "rater": seat.rater_id,
        "side": _side_for(track_id=track.pk, rater_id=seat.rater_id, position=seat.assigned),
        "now": now,
        "expires": now + timedelta(seconds=track.lease_seconds),
    }


def _hand_out(cursor: Any, *, seat: _Seat, now: datetime, tried: bool = False) -> Assignment | None:
    """Claim the next comparison for the seat (its counter is the caller's to update). ``tried``: a
    pick in this transaction already found nothing free."""
    params = _pick_params(seat, now)
    row = None
    if not tried:
        cursor.execute(_PICK_SQL, params)
        row = cursor.fetchone()
    if row is None:
        # Expired leases are released only when they are in the way: most picks never look at them.
        cursor.execute(_RELEASE_EXPIRED_SQL, {"track": seat.track.pk, "now": now})
        if cursor.rowcount:
            cursor.execute(_PICK_SQL, params)
            row = cursor.fetchone()
    if row is None:
        return None
    assert seat.rater_id is not None
    return _assignment_from(row, track_id=seat.track.pk, rater_id=seat.rater_id)


def _current_or_next(cursor: Any, *, seat: _Seat, now: datetime) -> Assignment | None:
    cursor.execute(_CURRENT_SQL, {"track": seat.track.pk, "rater": seat.rater_id, "now": now})
    row = cursor.fetchone()
    if row is not None:
        assert seat.rater_id is not None
        return _assignment_from(row, track_id=seat.track.pk, rater_id=seat.rater_id)
    assignment = _hand_out(cursor, seat=seat, now=now)
    if assignment is not None:
        cursor.execute("UPDATE annotate_trackseat SET assigned = assigned + 1 WHERE id = %s", [seat.id])
        seat.assigned += 1
    return assignment


@transaction.atomic
def assignment_next_for(
    *, track: Track, user: AbstractBaseUser, now: datetime | None = None
) -> Assignment | None:
    """The annotator's current comparison, or a new one; None when nothing is left for them."""
    now = now or timezone.now()
    with connection.cursor() as cursor:
        seat = _seat_locked(cursor, track_id=track.pk, user=user)
        if seat.track.is_paused:
            raise TrackPaused("This track is paused; please come back later.")
        return _current_or_next(cursor, seat=seat, now=now)


def _assignment_locked(*, assignment_id: int, user: AbstractBaseUser) -> Assignment:
    assignment = (
        Assignment.objects.select_for_update(of=("self",))
        .select_related("item__track", "item__comparison__video_a", "item__comparison__video_b", "rater")
        .filter(pk=assignment_id, rater__user=user)
        .first()
    )
    if assignment is None:
        raise NotYours("No such assignment of yours.")
    return assignment


@transaction.atomic
def assignment_watch_record(
    *,
    assignment_id: int,
    user: AbstractBaseUser,
    watched_a: float,
    watched_b: float,
    now: datetime | None = None,
) -> Assignment:
    """Record how much of each video the player says it has shown, never more than time allows.

    The vote checks these recorded fractions, not what the vote request claims. One full play of each
    is the most there is to record, which is why a track's watch rule is at most 1.
    """
    now = now or timezone.now()
    assignment = _assignment_locked(assignment_id=assignment_id, user=user)
    if assignment.status != Assignment.Status.OPEN:
        return assignment
    elapsed = max((now - assignment.issued_at).total_seconds(), 0.0)
    comparison = assignment.item.comparison

    def plausible(reported: float, duration: float) -> float:
        ceiling = (elapsed * MAX_PLAYBACK_SPEED + 0.5) / max(duration, 0.01)
        return min(max(reported, 0.0), ceiling, 1.0)

    assignment.watched_a = max(assignment.watched_a, plausible(watched_a, comparison.video_a.duration))
    assignment.watched_b = max(assignment.watched_b, plausible(watched_b, comparison.video_b.duration))
    assignment.watch_reported_at = now
    assignment.save(update_fields=["watched_a", "watched_b", "watch_reported_at"])
    return assignment


@dataclass(frozen=True)
class VoteResult:
    judgment: Judgment
    created: bool


@dataclass(frozen=True)
class Work:
    """Where the annotator stands after a request: the track annotated with their progress
    (``done_by_me``, ``left_for_me``, ``can_undo``) and their comparison, None when there is none.
    ``panel_columns``: what the comparison's panel shows, when the same statement fetched it."""

    track: Track
    assignment: Assignment | None
    panel_columns: Sequence[Any] | None = None


_SIDE_CHOICES = {"left", "right", "tie", "both_bad"}


def canonical_choice(*, side_choice: str, shown_left: str) -> str:
    """Turn what the annotator clicked (left / right / tie / both_bad) into the comparison's A/B terms."""
    if side_choice == "left":
        return shown_left
    if side_choice == "right":
        return Side.B if shown_left == Side.A else Side.A
    return {"tie": Choice.TIE, "both_bad": Choice.BOTH_BAD}[side_choice]


def _vote_checked(
    cursor: Any,
    *,
    assignment_id: int,
    track_id: int | None,
    user: AbstractBaseUser,
    side_choice: str,
    response_ms: int | None,
    now: datetime,
) -> tuple[_Seat, dict[str, Any] | None]:
    """Lock the annotator's requests, read the vote's assignment and check the vote. Returns the seat
    and the parameters of the vote's statement, or None for them when the vote is already stored."""
    _lock_annotator(cursor, user)
    cursor.execute(_VOTE_SQL, {"assignment": assignment_id, "user": user.pk, "track": track_id})
    row = cursor.fetchone()
    if row is None:
        raise NotYours("No such assignment of yours.")
    seat = _seat_from(row, 14)
    status, shown_left, expires_at, watched_a, watched_b, item_id, comparison_id, item_votes = row[6:14]
    track = seat.track
    if status == Assignment.Status.ANSWERED:
        # A double click, a resent form or a network retry: the first vote stands, nothing is added.
        return seat, None
    if track.is_paused:
        raise TrackPaused("This track is paused; your vote was not stored.")
    if status == Assignment.Status.EXPIRED or expires_at <= now:
        raise AssignmentExpired(
            "This comparison waited too long and went back to the pool; your vote was not stored."
        )
    if side_choice not in _SIDE_CHOICES:
        raise InvalidChoice(f"Unknown choice {side_choice!r}: expected left, right, tie or both_bad.")
    choice = canonical_choice(side_choice=side_choice, shown_left=shown_left)
    if choice not in track.allowed_choices:
        raise InvalidChoice(f"{Choice(choice).label!r} is not an allowed answer on this track.")
    if min(watched_a, watched_b) < track.watch_needed:
        raise WatchRuleNotMet(
            f"Please watch both videos first: {track.min_watch_fraction:.0%} of each is needed, "
            f"seen {watched_a:.0%} and {watched_b:.0%}."
        )
    if response_ms is not None:
        response_ms = max(0, min(response_ms, 24 * 3600 * 1000))
    return seat, {
        "comparison": comparison_id,
        "criterion": track.criterion,
        "choice": choice,
        "shown_left": shown_left,
        "rater": seat.rater_id,
        "track": track.pk,
        "assignment": assignment_id,
        "response_ms": response_ms,
        "watched_a": watched_a,
        "watched_b": watched_b,
        "created_at": timezone.now(),
        "policy": SELECTION_POLICY,
        "now": now,
        "item": item_id,
        "seat": seat.id,
        "completes": item_votes + 1 == track.votes_needed,
    }


def _voted(seat: _Seat, row: Sequence[Any]) -> int:
    """Take the counters a vote's statement returned into the seat and its track; the judgment's id."""
    judgment_id, seat.votes_given, seat.votes_on_open, seat.track.items_total, seat.track.items_complete = (
        row[:5]
    )
    seat.undoable_id = judgment_id
    return judgment_id


@contextmanager
def _pipelined_transaction() -> Iterator[None]:
    """A transaction in psycopg's pipeline mode: statements, COMMIT included, go out without waiting
    for the previous answers, and an answer is waited for only when it is read.

    BEGIN and COMMIT are sent as statements rather than through ``transaction.atomic()``: atomic turns
    Django's autocommit off and on again, and psycopg answers each switch in pipeline mode with a
    round trip to the server that carries nothing. Inside a caller's transaction (a test's, say) the
    block is a savepoint of it, as ``atomic()`` would make it."""
    connection.ensure_connection()
    raw = connection.connection
    try:
        # The answers, errors among them, arrive as the pipeline ends: raised as Django's errors.
        with connection.wrap_database_errors, raw.pipeline():
            if connection.in_atomic_block:
                with transaction.atomic():
                    yield
                return
            # A cursor of their own: the caller's keeps the answer of its last statement to read.
            control = raw.cursor()
            control.execute("BEGIN", prepare=False)
            yield
            control.execute("COMMIT", prepare=False)
    finally:
        # A refused vote or a failed statement never reached the COMMIT: roll back, so that the
        # connection goes back to Django as it came, in autocommit with no transaction open.
        if not connection.in_atomic_block and raw.info.transaction_status != pq.TransactionStatus.IDLE:
            raw.rollback()


@transaction.atomic
def judgment_submit(
    *,
    assignment_id: int,
    user: AbstractBaseUser,
    side_choice: str,
    response_ms: int | None = None,
    now: datetime | None = None,
) -> VoteResult:
    """Store the vote for an assignment. A repeated submission returns the stored judgment."""
    with connection.cursor() as cursor:
        seat, params = _vote_checked(
            cursor,
            assignment_id=assignment_id,
            track_id=None,
            user=user,
            side_choice=side_choice,
            response_ms=response_ms,
            now=now or timezone.now(),
        )
        if params is None:
            return VoteResult(judgment=Judgment.objects.get(assignment_id=assignment_id), created=False)
        cursor.execute(_VOTE_WRITE_SQL, params)
        judgment_id = _voted(seat, cursor.fetchone())
    judgment = _loaded(
        Judgment,
        {
            "id": judgment_id,
            "comparison_id": params["comparison"],
            "criterion": params["criterion"],
            "choice": params["choice"],
            "shown_left": params["shown_left"],
            "rater_id": params["rater"],
            "track_id": params["track"],
            "assignment_id": assignment_id,
            "response_ms": params["response_ms"],
            "watched_a": params["watched_a"],
            "watched_b": params["watched_b"],
            "selection_policy": SELECTION_POLICY,
            "selection_probability": None,
            "created_at": params["created_at"],
        },
    )
    return VoteResult(judgment=judgment, created=True)


def judgment_submit_and_next(
    *,
    track_id: int,
    assignment_id: int,
    user: AbstractBaseUser,
    side_choice: str,
    response_ms: int | None = None,
    now: datetime | None = None,
) -> Work:
    """Store the vote (as ``judgment_submit``) and hand out the annotator's next comparison, in one
    transaction: what the vote button does. The assignment must belong to the track.

    The transaction runs in pipeline mode, and the vote's statement is read only after the commit: the
    statement and COMMIT reach the server together, so the track's row, which every vote on the track
    locks, is never held while this process waits for its turn to run Python.
    """
    now = now or timezone.now()
    with connection.cursor() as cursor:
        with _pipelined_transaction():
            seat, params = _vote_checked(
                cursor,
                assignment_id=assignment_id,
                track_id=track_id,
                user=user,
                side_choice=side_choice,
                response_ms=response_ms,
                now=now,
            )
            if params is None:  # already stored: the current comparison, or a next one
                return Work(track=seat.progress(), assignment=_current_or_next(cursor, seat=seat, now=now))
            cursor.execute(_VOTE_AND_NEXT_SQL, {**params, **_pick_params(seat, now)})
        row = cursor.fetchone()
    _voted(seat, row)
    if row[5] is None:
        # Nothing was free: the rare path, which releases expired leases, in a transaction of its own.
        following = assignment_next_for(track=seat.track, user=user, now=now)
        return Work(track=seat.progress(), assignment=following)
    seat.assigned += 1
    following = _assignment_from(row[5:18], track_id=track_id, rater_id=seat.rater_id)
    return Work(track=seat.progress(), assignment=following, panel_columns=row[18:])


# Undo, in the lock order above: the annotator's assignments on the track (the one voted and any
# handed out since), then their items in id order, then seats in id order, then the track.
_UNDO_READ_SQL = """
SELECT a.id, a.item_id, a.status FROM annotate_assignment AS a
JOIN annotate_trackitem AS i ON i.id = a.item_id
WHERE a.id = (SELECT assignment_id FROM annotate_judgment WHERE id = %(judgment)s)
   OR (i.track_id = %(track)s AND a.rater_id = %(rater)s AND a.status = 'open')
ORDER BY a.id
FOR UPDATE OF a
"""

_UNDO_ITEMS_SQL = """
SELECT id, votes FROM annotate_trackitem WHERE id = ANY(%(items)s) ORDER BY id FOR NO KEY UPDATE
"""

_UNDO_WRITE_SQL = """
WITH dropped AS (
    DELETE FROM annotate_judgment WHERE id = %(judgment)s
), handed_back AS (
    UPDATE annotate_assignment SET status = 'expired' WHERE id = ANY(%(others)s)
), unclaimed AS (
    UPDATE annotate_trackitem SET claimed = claimed - 1 WHERE id = ANY(%(other_items)s)
), reopened AS (
    UPDATE annotate_assignment SET status = 'open', answered_at = NULL, expires_at = %(expires)s
    WHERE id = %(redo)s
), uncounted AS (
    UPDATE annotate_trackitem SET votes = votes - 1 WHERE id = %(item)s
), seats AS (
    SELECT s.id FROM annotate_trackseat AS s
    WHERE s.id = %(seat)s OR (
        %(was_complete)s AND s.track_id = %(track)s AND s.rater_id IN (
            SELECT a.rater_id FROM annotate_assignment AS a
            WHERE a.item_id = %(item)s AND a.status = 'answered' AND a.id <> %(redo)s
        )
    )
    ORDER BY s.id
    FOR NO KEY UPDATE
), seated AS (
    UPDATE annotate_trackseat AS s SET
        votes_given = s.votes_given - CASE WHEN s.id = %(seat)s THEN 1 ELSE 0 END,
        votes_on_open = s.votes_on_open
            + CASE WHEN s.id <> %(seat)s THEN 1 WHEN %(was_complete)s THEN 0 ELSE -1 END,
        undoable_id = CASE WHEN s.id = %(seat)s THEN NULL ELSE s.undoable_id END
    FROM seats WHERE s.id = seats.id
    RETURNING s.id
)
UPDATE annotate_track SET
    votes_stored = votes_stored - 1,
    items_complete = items_complete - CASE WHEN %(was_complete)s THEN 1 ELSE 0 END
WHERE id = %(track)s AND (SELECT count(*) FROM seated) > 0
"""


@transaction.atomic
def judgment_undo_last(*, track: Track, user: AbstractBaseUser, now: datetime | None = None) -> Assignment:
    """Take back the annotator's last vote on the track and hand that comparison back to them.

    The comparison handed out after the vote goes back to the pool; the undone one comes first.
    """
    now = now or timezone.now()
    with connection.cursor() as cursor:
        seat = _seat_locked(cursor, track_id=track.pk, user=user)
        if seat.track.is_paused:
            raise TrackPaused("This track is paused.")
        nothing = NothingToUndo("There is no vote to undo: only the last vote can be taken back, once.")
        if seat.undoable_id is None:
            raise nothing
        cursor.execute(
            _UNDO_READ_SQL, {"judgment": seat.undoable_id, "track": track.pk, "rater": seat.rater_id}
        )
        rows = cursor.fetchall()
        redo = next((row for row in rows if row[2] == Assignment.Status.ANSWERED), None)
        if redo is None:
            raise nothing  # the judgment lost its assignment
        others = [row for row in rows if row[2] == Assignment.Status.OPEN]
        cursor.execute(_UNDO_ITEMS_SQL, {"items": sorted({row[1] for row in rows})})
        votes = dict(cursor.fetchall())
        cursor.execute(
            _UNDO_WRITE_SQL,
            {
                "judgment": seat.undoable_id,
                "others": [row[0] for row in others],
                "other_items": [row[1] for row in others],
                "redo": redo[0],
                "item": redo[1],
                "expires": now + timedelta(seconds=seat.track.lease_seconds),
                "seat": seat.id,
                "track": track.pk,
                "was_complete": votes[redo[1]] >= seat.track.votes_needed,
            },
        )
    return Assignment.objects.select_related("item__comparison").get(pk=redo[0])
