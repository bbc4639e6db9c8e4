"""Writes of annotation: building comparisons and tracks, handing out work, recording votes."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

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
from generation.models import Identity, Method, Prompt, Video

# The player offers speeds up to 2×: no honest report can have seen more than this per second.
MAX_PLAYBACK_SPEED = 2.0
# Browsers stop a hair before the last frame; "played through" means this close to the end.
WATCH_TOLERANCE = 0.97


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
    )
    TrackItem.objects.bulk_create([TrackItem(track=track, comparison=c) for c in comparisons])
    track_annotators_set(track=track, users=annotators)
    return track


def track_annotators_set(*, track: Track, users: Iterable[AbstractBaseUser]) -> None:
    wanted = {user.pk for user in users}
    TrackSeat.objects.filter(track=track).exclude(user_id__in=wanted).delete()
    TrackSeat.objects.bulk_create(
        [TrackSeat(track=track, user_id=pk) for pk in wanted], ignore_conflicts=True
    )


def track_pause_set(*, track: Track, paused: bool) -> Track:
    Track.objects.filter(pk=track.pk).update(is_paused=paused)
    track.is_paused = paused
    return track


def rater_for_user(user: AbstractBaseUser) -> Rater:
    rater, _ = Rater.objects.get_or_create(user=user, defaults={"kind": Rater.Kind.ANNOTATOR})
    return rater


# --- assignment ---------------------------------------------------------------------------------

_RELEASE_EXPIRED_SQL = """
WITH expired AS (
    UPDATE annotate_assignment AS a SET status = 'expired'
    FROM annotate_trackitem AS i
    WHERE a.item_id = i.id AND i.track_id = %(track)s AND a.status = 'open' AND a.expires_at < %(now)s
    RETURNING a.item_id
), released AS (
    SELECT item_id, count(*) AS n FROM expired GROUP BY item_id
)
UPDATE annotate_trackitem AS t SET claimed = t.claimed - released.n
FROM released WHERE t.id = released.item_id
"""

# Fewest claimed first, walking track_item_pick_idx; SKIP LOCKED lets a concurrent picker take the
# next row instead of waiting for (and then over-claiming) the one being handed out right now.
_PICK_SQL = """
SELECT i.id FROM annotate_trackitem AS i
WHERE i.track_id = %(track)s AND i.claimed < %(needed)s
  AND NOT EXISTS (
      SELECT 1 FROM annotate_assignment AS a
      WHERE a.item_id = i.id AND a.rater_id = %(rater)s AND a.status <> 'expired'
  )
ORDER BY i.claimed, i.id
LIMIT 1
FOR UPDATE OF i SKIP LOCKED
"""


def _side_for(*, track_id: int, rater_id: int, position: int) -> str:
    """Left side for the rater's n-th assignment: random within each pair, so balanced within one."""
    pair_order = random.Random(f"{track_id}:{rater_id}:{position // 2}").choice(
        [(Side.A, Side.B), (Side.B, Side.A)]
    )
    return str(pair_order[position % 2])


def _seat_locked(*, track: Track, user: AbstractBaseUser) -> TrackSeat:
    seat = TrackSeat.objects.select_for_update().filter(track=track, user=user).first()
    if seat is None:
        raise NotYours("You are not an annotator on this track.")
    return seat


@transaction.atomic
def assignment_next_for(
    *, track: Track, user: AbstractBaseUser, now: datetime | None = None
) -> Assignment | None:
    """The annotator's current comparison, or a new one; None when nothing is left for them."""
    now = now or timezone.now()
    seat = _seat_locked(track=track, user=user)
    if track.is_paused:
        raise TrackPaused("This track is paused; please come back later.")
    rater = rater_for_user(user)
    current = (
        Assignment.objects.filter(
            item__track=track, rater=rater, status=Assignment.Status.OPEN, expires_at__gt=now
        )
        .select_related("item__comparison")
        .first()
    )
    if current is not None:
        return current
    with connection.cursor() as cursor:
        cursor.execute(_RELEASE_EXPIRED_SQL, {"track": track.pk, "now": now})
        cursor.execute(_PICK_SQL, {"track": track.pk, "needed": track.votes_needed, "rater": rater.pk})
        row = cursor.fetchone()
    if row is None:
        return None
    item_id = row[0]
    TrackItem.objects.filter(pk=item_id).update(claimed=F("claimed") + 1)
    side = _side_for(track_id=track.pk, rater_id=rater.pk, position=seat.assigned)
    assignment, _ = Assignment.objects.update_or_create(
        item_id=item_id,
        rater=rater,
        # An own lease that expired earlier is reopened rather than duplicated.
        defaults={
            "shown_left": side,
            "status": Assignment.Status.OPEN,
            "issued_at": now,
            "expires_at": now + timedelta(seconds=track.lease_seconds),
            "watched_a": 0.0,
            "watched_b": 0.0,
            "watch_reported_at": None,
            "answered_at": None,
        },
    )
    TrackSeat.objects.filter(pk=seat.pk).update(assigned=F("assigned") + 1)
    return Assignment.objects.select_related("item__comparison").get(pk=assignment.pk)


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

    The vote checks these recorded fractions, not what the vote request claims.
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


_SIDE_CHOICES = {"left", "right", "tie", "both_bad"}


def canonical_choice(*, side_choice: str, shown_left: str) -> str:
    """Turn what the annotator clicked (left / right / tie / both_bad) into the comparison's A/B terms."""
    if side_choice == "left":
        return shown_left
    if side_choice == "right":
        return Side.B if shown_left == Side.A else Side.A
    return {"tie": Choice.TIE, "both_bad": Choice.BOTH_BAD}[side_choice]


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
    now = now or timezone.now()
    assignment = _assignment_locked(assignment_id=assignment_id, user=user)
    if assignment.status == Assignment.Status.ANSWERED:
        # A double click, a resent form or a network retry: the first vote stands, nothing is added.
        return VoteResult(judgment=Judgment.objects.get(assignment=assignment), created=False)
    track = assignment.item.track
    if track.is_paused:
        raise TrackPaused("This track is paused; your vote was not stored.")
    if assignment.status == Assignment.Status.EXPIRED or assignment.expires_at <= now:
        raise AssignmentExpired(
            "This comparison waited too long and went back to the pool; your vote was not stored."
        )
    if side_choice not in _SIDE_CHOICES:
        raise InvalidChoice(f"Unknown choice {side_choice!r}: expected left, right, tie or both_bad.")
    choice = canonical_choice(side_choice=side_choice, shown_left=assignment.shown_left)
    if choice not in track.allowed_choices:
        raise InvalidChoice(f"{Choice(choice).label!r} is not an allowed answer on this track.")
    needed = track.min_watch_fraction * WATCH_TOLERANCE
    if min(assignment.watched_a, assignment.watched_b) < needed:
        raise WatchRuleNotMet(
            f"Please watch both videos first: {track.min_watch_fraction:.0%} of each is needed, "
            f"seen {assignment.watched_a:.0%} and {assignment.watched_b:.0%}."
        )
    judgment = Judgment.objects.create(
        comparison=assignment.item.comparison,
        criterion=track.criterion,
        choice=choice,
        shown_left=assignment.shown_left,
        rater=assignment.rater,
        track=track,
        assignment=assignment,
        response_ms=response_ms if response_ms is None else max(0, min(response_ms, 24 * 3600 * 1000)),
        watched_a=assignment.watched_a,
        watched_b=assignment.watched_b,
    )
    Assignment.objects.filter(pk=assignment.pk).update(status=Assignment.Status.ANSWERED, answered_at=now)
    TrackItem.objects.filter(pk=assignment.item_id).update(votes=F("votes") + 1)
    TrackSeat.objects.filter(track=track, user=user).update(undoable=judgment)
    return VoteResult(judgment=judgment, created=True)


@transaction.atomic
def judgment_undo_last(*, track: Track, user: AbstractBaseUser, now: datetime | None = None) -> Assignment:
    """Take back the annotator's last vote on the track and hand that comparison back to them."""
    now = now or timezone.now()
    seat = _seat_locked(track=track, user=user)
    if track.is_paused:
        raise TrackPaused("This track is paused.")
    judgment = Judgment.objects.filter(pk=seat.undoable_id).select_related("assignment").first()
    if judgment is None or judgment.assignment is None:
        raise NothingToUndo("There is no vote to undo: only the last vote can be taken back, once.")
    redo = judgment.assignment
    # The comparison handed out after the vote goes back to the pool; the undone one comes first.
    for other in (
        Assignment.objects.select_for_update()
        .filter(item__track=track, rater=redo.rater, status=Assignment.Status.OPEN)
        .exclude(pk=redo.pk)
    ):
        Assignment.objects.filter(pk=other.pk).update(status=Assignment.Status.EXPIRED)
        TrackItem.objects.filter(pk=other.item_id).update(claimed=F("claimed") - 1)
    judgment.delete()
    TrackItem.objects.filter(pk=redo.item_id).update(votes=F("votes") - 1)
    Assignment.objects.filter(pk=redo.pk).update(
        status=Assignment.Status.OPEN,
        answered_at=None,
        expires_at=now + timedelta(seconds=track.lease_seconds),
    )
    TrackSeat.objects.filter(pk=seat.pk).update(undoable=None)
    redo.refresh_from_db()
    return redo
