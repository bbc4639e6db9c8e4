"""The annotator's vote path: handing out comparisons, votes, undo, watch and problem reports, the panel.

This module owns everything a vote does in the database: the statements, the order in which they take
their locks, the pipelined transaction that sends them, the typed rows they return, and the panel the
answer shows (with the one definition of an annotator's progress). Other writes of annotation (building
comparisons and tracks, seating annotators, pausing) are in ``annotate.services``.

Each request is one transaction of a few raw statements. Locks are always taken in this order, so that
concurrent votes, undos and lease releases never wait on each other in a circle:

1. the annotator's advisory lock (one request of theirs at a time);
2. the voted assignment and its item (FOR UPDATE); a new item is claimed with SKIP LOCKED, and expired
   leases are released with SKIP LOCKED, so neither ever waits;
3. seat rows, in id order (a vote that completes a comparison updates its other raters' seats);
4. the track row last, since every vote on the track takes it: it is held only until the commit.

Excluding an annotator from a track (and including them again) takes the same locks in the same order as
undo: their advisory lock, their assignments, those items in id order, the seats, the track.

With prefetching (``settings.PREFETCH_NEXT``, on by default) the page's requests keep two open leases
per annotator on a track: the current comparison (the lowest in position) and the next one, reserved
for them so that the browser can fetch its videos meanwhile. A vote promotes the reserved lease to
current (its lease starts again, as if handed out now) and its single statement picks the next one
reserved: still one pick per vote. A reserved lease claims its item and expires like any other.

Every SELECT list is declared once, as a row class whose fields carry their SQL expressions
(``id: Annotated[int, "h.id"]``); ``columns()`` makes from it both the list and the decoder of its rows,
so that a row is read by field name, never cut by position.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Annotated, Generic, NamedTuple, TypeVar, get_type_hints

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import Model, Value
from django.db.models.expressions import Combinable
from django.db.models.functions import Greatest
from django.utils import timezone
from psycopg import pq

from annotate import adaptive
from annotate.adaptive import ItemStatus, Tally, VotePlan
from annotate.errors import (
    AlreadyReported,
    AssignmentExpired,
    InvalidChoice,
    NothingToUndo,
    NotTakingPart,
    NotYours,
    ProblemReportError,
    RaterDecisionError,
    TrackPaused,
    WatchRuleNotMet,
)
from annotate.models import (
    PROBLEM_REPORTS_TO_HOLD,
    Assignment,
    Choice,
    Comparison,
    Judgment,
    ProblemReport,
    Rater,
    Side,
    Track,
    TrackItem,
    TrackRaterDecision,
    TrackSeat,
)
from annotate.services import rater_for_user
from annotate.watch import wait_plausible, watched_plausible
from generation.models import Prompt, Reference
from lib.routing import routes

# How _PICK_SQL chooses, recorded with each judgment: among the open comparisons (below the votes they
# want), the fewest votes and open leases first, then the lowest id. Deterministic given the pool, so each
# judgment records the probability 1 of its comparison having been chosen: a reweighting by inverse
# selection probability (LMArena's) then weighs every vote alike, as it should for this policy.
SELECTION_POLICY = "fewest_votes_first"
SELECTION_PROBABILITY = 1.0

# What an excluded annotator's work page says: that they are not taking part, never why.
NOT_TAKING_PART = "You are not taking part in this track now."

# Two-key advisory locks have a key space of their own; this class marks "one annotator's requests".
_ANNOTATOR_LOCK_CLASS = 0x5EA7


# --- SELECT lists and their rows ------------------------------------------------------------------

# A statement's parameters: what psycopg adapts here (ids, counts, text, times, lists of ids).
SqlValue = bool | int | float | str | datetime | list[int] | None
Params = dict[str, SqlValue]

R = TypeVar("R")
M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Columns(Generic[R]):
    """A SELECT list and the decoder of the rows it selects, made from one declaration: ``columns()`` or
    ``model_columns()``. ``sql``: the list, to paste into a statement; ``decode``: a row (or a slice of
    one, for a group inside a larger row) to its typed value."""

    expressions: tuple[str, ...]
    decode: Callable[[Sequence[object]], R]

    @property
    def sql(self) -> str:
        return ", ".join(self.expressions)

    def __len__(self) -> int:
        return len(self.expressions)

    def or_none(self) -> Columns[R | None]:
        """The same columns from an outer join: decoded as None when the first one, a key, is NULL."""
        decode = self.decode

        def decoded(values: Sequence[object]) -> R | None:
            return None if values[0] is None else decode(values)

        return Columns(self.expressions, decoded)


def columns(row: Callable[..., R]) -> Columns[R]:
    """The SELECT list that the row class ``row`` (a NamedTuple or a dataclass) declares, and its decoder.

    Each field is declared ``Annotated[type, "expression"]``, one column; or ``Annotated[type, group]``
    with ``group`` the ``Columns`` of another row class (or of a model), whose columns take the field's
    place in the list and are decoded into it. The list follows the fields' order."""
    parts: list[str | Columns[object]] = []
    for name, hint in get_type_hints(row, include_extras=True).items():
        declared: tuple[object, ...] = getattr(hint, "__metadata__", ())
        if len(declared) != 1 or not isinstance(declared[0], str | Columns):
            raise TypeError(f"{row!r}.{name} must be Annotated[type, its SQL expression or Columns]")
        parts.append(declared[0])
    expressions = tuple(
        expression
        for part in parts
        for expression in (part.expressions if isinstance(part, Columns) else (part,))
    )
    if all(isinstance(part, str) for part in parts):

        def decode_plain(values: Sequence[object]) -> R:
            return row(*values)

        return Columns(expressions, decode_plain)
    # Where each field's columns are in the row, worked out once: (start, end, the group's decoder).
    cuts: list[tuple[int, int, Callable[[Sequence[object]], object] | None]] = []
    start = 0
    for part in parts:
        if isinstance(part, Columns):
            cuts.append((start, start + len(part), part.decode))
            start += len(part)
        else:
            cuts.append((start, start + 1, None))
            start += 1

    def decode_grouped(values: Sequence[object]) -> R:
        return row(
            *[values[begin] if group is None else group(values[begin:end]) for begin, end, group in cuts]
        )

    return Columns(expressions, decode_grouped)


def model_columns(model: type[M], alias: str) -> Columns[M]:
    """Every concrete column of ``model``'s table, aliased ``alias``, decoded into an instance as the ORM
    would have loaded it."""
    fields = model._meta.concrete_fields
    names = [field.attname for field in fields]

    def decode(values: Sequence[object]) -> M:
        return model.from_db(connection.alias, names, values)

    return Columns(tuple(f"{alias}.{field.column}" for field in fields), decode)


def _compact(sql: str) -> str:
    """One line of SQL (statements here hold no comments and no literal runs of spaces)."""
    return " ".join(sql.split())


# --- progress -------------------------------------------------------------------------------------

Count = TypeVar("Count", int, Combinable)
Flag = TypeVar("Flag", bool, Combinable)


def _at_least_zero(value: Count) -> Count:
    return max(0, value) if isinstance(value, int) else Greatest(value, Value(0))


def seat_progress(
    *,
    items_total: Count,
    items_complete: Count,
    votes_given: Count,
    votes_on_open: Count,
    checks_given: Count,
    can_undo: Flag,
) -> dict[str, Count | Flag]:
    """An annotator's progress on a track, from the counters of the track and of their seat: the one
    definition of it. ``done_by_me``: their answers, votes and checks alike; ``left_for_me``: the
    comparisons that still need votes, less those of them they answered (the seat's ``votes_on_open``):
    whether there is work left for them, never shown as a number; ``left_shown``: what their progress
    line says is left; ``can_undo``: their last answer may be taken back (the seat holds an undoable
    judgment: the caller says so in its own terms).

    What the annotator sees must move the same after a check (gold or repeat) as after a vote. "Done"
    counts both. ``left_for_me`` would not do as "left": a vote takes one off it (on a comparison that
    stays open through ``votes_on_open``, on one it completes through ``items_complete``) while a check's
    answer leaves it as it was, so the number would tell a check. ``left_shown`` takes the checks
    answered off it too: an estimate, low by about the share of checks, that goes down by one for each
    answer of either kind (and up by one for each undo), other annotators' votes apart. It stays at zero
    once there, whichever kind of answer follows.

    Written once for both of its forms: with numbers for the seat a vote has just updated
    (``_Seat.progress``), and with ORM expressions for many tracks in one query
    (``selectors.annotator_tracks``), so that the two cannot drift apart."""
    return {
        "done_by_me": votes_given + checks_given,
        "left_for_me": items_total - items_complete - votes_on_open,
        "left_shown": _at_least_zero(items_total - items_complete - votes_on_open - checks_given),
        "can_undo": can_undo,
    }


# --- rows -----------------------------------------------------------------------------------------


@dataclass
class _Seat:
    """The annotator's seat (``s``) as read under their lock, with the track (``t``) it belongs to."""

    id: Annotated[int, "s.id"]
    rater_id: Annotated[int | None, "s.rater_id"]
    assigned: Annotated[int, "s.assigned"]
    votes_given: Annotated[int, "s.votes_given"]
    votes_on_open: Annotated[int, "s.votes_on_open"]
    checks_given: Annotated[int, "s.checks_given"]
    vote_weight: Annotated[float, "s.vote_weight"]
    undoable_id: Annotated[int | None, "s.undoable_id"]
    excluded: Annotated[bool, "s.excluded"]
    # django-stubs reads Annotated[<a model>, X] as its WithAnnotations form, X a type: here X is columns.
    track: Annotated[Track, model_columns(Track, "t")]  # type: ignore[valid-type]

    def progress(self) -> Track:
        """The track, annotated like ``selectors.annotator_tracks`` with this seat's progress."""
        track = self.track
        # Set as the ORM sets annotations: plain attributes of the instance.
        track.__dict__.update(
            seat_progress(
                items_total=track.items_total,
                items_complete=track.items_complete,
                votes_given=self.votes_given,
                votes_on_open=self.votes_on_open,
                checks_given=self.checks_given,
                can_undo=self.undoable_id is not None,
            )
        )
        return track


_SEAT = columns(_Seat)


class _ItemCount(NamedTuple):
    """A comparison's place in the track (``i``): its votes, what it wants, and where it stands."""

    id: Annotated[int, "i.id"]
    comparison_id: Annotated[int, "i.comparison_id"]
    votes: Annotated[int, "i.votes"]
    needed: Annotated[int, "i.needed"]
    status: Annotated[str, "i.status"]
    tally_a: Annotated[float, "i.tally_a"]
    tally_b: Annotated[float, "i.tally_b"]
    tally_tie: Annotated[float, "i.tally_tie"]

    @property
    def tally(self) -> Tally:
        return Tally(self.tally_a, self.tally_b, self.tally_tie, self.votes)


_ITEM_COUNT = columns(_ItemCount)


@dataclass(frozen=True)
class _ItemChange:
    """What a vote added or taken away does to its comparison: its needed votes and status after, and
    whether it closes (stops taking votes) or opens again; ``add_*``: the tally's change."""

    needed: int
    status: str
    closes: bool
    opens: bool
    add_a: float
    add_b: float
    add_tie: float

    def params(self) -> Params:
        return {
            "item_needed": self.needed,
            "item_status": self.status,
            "add_a": self.add_a,
            "add_b": self.add_b,
            "add_tie": self.add_tie,
        }


def _item_change(
    plan: VotePlan, item: _ItemCount, choice: str, *, adding: bool, weight: float = 1.0
) -> _ItemChange:
    """A vote on ``item`` added (a vote, an annotator included again) or taken away (an undo, an
    exclusion), through the track's stopping rule (``adaptive.votes_wanted``, ``adaptive.status``).

    Closed is closed while votes come: a late vote on a lease still open when the comparison was
    decided is stored and counted, and changes nothing else. A vote taken away looks again: a
    comparison that its votes no longer decide opens again. ``weight``: what the vote weighs in the
    tally (its annotator's, on a track that weights by reliability; else 1)."""
    before = item.tally
    after = before.add(choice, weight) if adding else before.remove(choice, weight)
    sign = weight if adding else -weight
    deltas = {"add_a": 0.0, "add_b": 0.0, "add_tie": 0.0}
    deltas[{"A": "add_a", "B": "add_b"}.get(choice, "add_tie")] = sign
    was_closed = item.status != ItemStatus.OPEN
    if adding and was_closed:
        return _ItemChange(item.needed, item.status, closes=False, opens=False, **deltas)
    status = adaptive.status(plan, after)
    is_open = status == ItemStatus.OPEN
    return _ItemChange(
        needed=adaptive.votes_wanted(plan, after),
        status=str(status),
        closes=not was_closed and not is_open,
        opens=was_closed and is_open,
        **deltas,
    )


def _weight(seat: _Seat) -> float:
    """What the seat's votes weigh in its track's tallies: its reliability weight where the track asks
    for it (the weight known now: a vote taken back later weighs what its annotator weighs then)."""
    return seat.vote_weight if seat.track.weight_by_reliability else 1.0


class _Vote(NamedTuple):
    """The voted assignment (``a``) and its item (``i``), with the annotator's seat and the track."""

    seat: Annotated[_Seat, _SEAT]
    status: Annotated[str, "a.status"]
    shown_left: Annotated[str, "a.shown_left"]
    expires_at: Annotated[datetime, "a.expires_at"]
    watched_a: Annotated[float, "a.watched_a"]
    watched_b: Annotated[float, "a.watched_b"]
    purpose: Annotated[str, "a.purpose"]
    item: Annotated[_ItemCount, _ITEM_COUNT]


_VOTE = columns(_Vote)


class _Lease(NamedTuple):
    """An assignment (``h``) as the work page needs it."""

    id: Annotated[int, "h.id"]
    item_id: Annotated[int, "h.item_id"]
    shown_left: Annotated[str, "h.shown_left"]
    status: Annotated[str, "h.status"]
    issued_at: Annotated[datetime, "h.issued_at"]
    expires_at: Annotated[datetime, "h.expires_at"]
    watched_a: Annotated[float, "h.watched_a"]
    watched_b: Annotated[float, "h.watched_b"]
    purpose: Annotated[str, "h.purpose"]


_LEASE = columns(_Lease)


class _Pair(NamedTuple):
    """The assignment's comparison (``c``)."""

    id: Annotated[int, "c.id"]
    video_a_id: Annotated[int, "c.video_a_id"]
    video_b_id: Annotated[int, "c.video_b_id"]
    identity_id: Annotated[int, "c.identity_id"]
    prompt_id: Annotated[int, "c.prompt_id"]


class _Handed(NamedTuple):
    """An assignment handed out (or still open), with its comparison."""

    lease: Annotated[_Lease, _LEASE]
    pair: Annotated[_Pair, columns(_Pair)]


_HANDED = columns(_Handed)

# Every reference of the identity, primary first (as the gallery orders them), as
# [kind, file, poster, viewpoint].
_REFERENCES = """(
        SELECT json_agg(json_build_array(r.kind, r.file, r.poster, r.viewpoint)
                        ORDER BY r.is_primary DESC, r.position, r.id)
        FROM generation_reference AS r WHERE r.identity_id = c.identity_id
    )"""


class _PanelRow(NamedTuple):
    """What a comparison's panel shows, for a comparison aliased ``c`` joined as in ``_PANEL_JOINS``: the
    two videos (``va``, ``vb``), the prompt (``p``) and the identity's references."""

    a_file: Annotated[str, "va.file"]
    a_poster: Annotated[str, "va.poster"]
    a_width: Annotated[int, "va.width"]
    a_height: Annotated[int, "va.height"]
    a_fps: Annotated[float, "va.fps"]
    b_file: Annotated[str, "vb.file"]
    b_poster: Annotated[str, "vb.poster"]
    b_width: Annotated[int, "vb.width"]
    b_height: Annotated[int, "vb.height"]
    b_fps: Annotated[float, "vb.fps"]
    task: Annotated[str, "p.task"]
    full_text: Annotated[str, "p.full_text"]
    differential_text: Annotated[str, "p.differential_text"]
    references: Annotated[list[list[str]] | None, _REFERENCES]


_PANEL = columns(_PanelRow)

# Outer joins: in the vote's statement the comparison is missing when nothing was free.
_PANEL_JOINS = """
LEFT JOIN generation_video AS va ON va.id = c.video_a_id
LEFT JOIN generation_video AS vb ON vb.id = c.video_b_id
LEFT JOIN generation_prompt AS p ON p.id = c.prompt_id"""


class _Voted(NamedTuple):
    """What a vote's statement returns: the judgment's id and the counters the vote changed."""

    judgment_id: Annotated[int, "(SELECT id FROM judgment)"]
    votes_given: Annotated[int, "seated.votes_given"]
    votes_on_open: Annotated[int, "seated.votes_on_open"]
    checks_given: Annotated[int, "seated.checks_given"]
    items_total: Annotated[int, "tracked.items_total"]
    items_complete: Annotated[int, "tracked.items_complete"]


_VOTED = columns(_Voted)


class _Next(NamedTuple):
    """The comparison a vote's statement handed out next, with what its panel shows."""

    handed: Annotated[_Handed, _HANDED]
    panel: Annotated[_PanelRow, _PANEL]


_NEXT = columns(_Next)


class _VotedAndNext(NamedTuple):
    """The vote button's row: the vote's counters, and the next comparison, None when nothing was free."""

    voted: Annotated[_Voted, _VOTED]
    next: Annotated[_Next | None, _NEXT.or_none()]


_VOTED_AND_NEXT = columns(_VotedAndNext)


class _UndoAssignment(NamedTuple):
    id: Annotated[int, "a.id"]
    item_id: Annotated[int, "a.item_id"]
    status: Annotated[str, "a.status"]
    purpose: Annotated[str, "a.purpose"]


_UNDO_ASSIGNMENT = columns(_UndoAssignment)


# --- statements -----------------------------------------------------------------------------------

_SEAT_SQL = f"""
SELECT {_SEAT.sql}
FROM annotate_trackseat AS s JOIN annotate_track AS t ON t.id = s.track_id
WHERE s.track_id = %(track)s AND s.user_id = %(user)s
"""

# The voted assignment with the annotator's seat and the track; its item is locked too, so that the
# vote knows whether it completes the comparison, and before any item is claimed (see the order above).
_VOTE_SQL = f"""
SELECT {_VOTE.sql}
FROM annotate_assignment AS a
JOIN annotate_trackitem AS i ON i.id = a.item_id
JOIN annotate_trackseat AS s ON s.track_id = i.track_id AND s.rater_id = a.rater_id
JOIN annotate_track AS t ON t.id = i.track_id
WHERE a.id = %(assignment)s AND s.user_id = %(user)s AND (%(track)s::bigint IS NULL OR i.track_id = %(track)s)
FOR UPDATE OF a, i
"""

_CURRENT_SQL = f"""
SELECT {_HANDED.sql}
FROM annotate_assignment AS h
JOIN annotate_trackitem AS i ON i.id = h.item_id
JOIN annotate_comparison AS c ON c.id = i.comparison_id
WHERE i.track_id = %(track)s AND h.rater_id = %(rater)s AND h.status = 'open' AND h.expires_at > %(now)s
ORDER BY h.position, h.id
LIMIT 2
"""

# Fewest claimed first among the open, walking track_item_open_pick_idx; SKIP LOCKED lets a concurrent
# picker take the next row instead of waiting for (and then over-claiming) the one being handed out right
# now. The free
# item is locked in a CTE of its own and joined: written as `WHERE id = (SELECT ... SKIP LOCKED)`, a
# pick racing others sometimes updated no row although many were free. An own lease that expired
# earlier is reopened rather than duplicated. The OFFSET 0 keeps NOT EXISTS a probe of
# assignment_once_per_rater for each candidate (usually one): turned into an anti-join, the planner may
# read all of the annotator's assignments on every pick instead, a cost that grows with their history.
# Check items (gold) and held ones (reported by two annotators) are never picked, as the partial index
# leaves them out; a repeat never exists without its original, so the probe leaves repeats out to match
# assignment_once_per_rater's condition.
_PICK_CTES = f"""
free AS (
    SELECT i.id FROM annotate_trackitem AS i
    WHERE i.track_id = %(track)s AND i.claimed < i.needed AND NOT i.is_check AND NOT i.held
      AND NOT EXISTS (
          SELECT 1 FROM annotate_assignment AS a
          WHERE a.item_id = i.id AND a.rater_id = %(rater)s AND a.status <> 'expired'
            AND NOT a.purpose = 'repeat'
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
        watch_reported_at, position
    )
    SELECT picked.id, %(rater)s, %(side)s, 'open', %(now)s, %(expires)s, NULL, 0, 0, NULL, %(position)s
    FROM picked
    ON CONFLICT (item_id, rater_id) WHERE NOT purpose = 'repeat' DO UPDATE SET
        shown_left = EXCLUDED.shown_left, status = 'open', issued_at = EXCLUDED.issued_at,
        expires_at = EXCLUDED.expires_at, answered_at = NULL, watched_a = 0, watched_b = 0,
        watch_reported_at = NULL, position = EXCLUDED.position, purpose = 'vote'
    RETURNING {_LEASE.sql}
)"""

_PICK_SQL = f"""
WITH {_PICK_CTES}
SELECT {_HANDED.sql}
FROM handed AS h
JOIN picked ON picked.id = h.item_id
JOIN annotate_comparison AS c ON c.id = picked.comparison_id
"""

# Only when a pick finds nothing: leases past their time go back to the pool. SKIP LOCKED: a row that
# someone holds right now is theirs to finish, and the release never waits for anyone. Checks (gold,
# repeats) expire too, but they never claimed their item.
_RELEASE_EXPIRED_SQL = """
WITH stale AS (
    SELECT a.id FROM annotate_assignment AS a
    JOIN annotate_trackitem AS i ON i.id = a.item_id
    WHERE i.track_id = %(track)s AND a.status = 'open' AND a.expires_at < %(now)s
    FOR UPDATE OF a, i SKIP LOCKED
), expired AS (
    UPDATE annotate_assignment AS a SET status = 'expired' FROM stale WHERE a.id = stale.id
    RETURNING a.item_id, a.purpose
), released AS (
    SELECT item_id, count(*) AS n FROM expired WHERE purpose = 'vote' GROUP BY item_id
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
        %(response_ms)s, %(watched_a)s, %(watched_b)s, %(policy)s, %(probability)s, %(created_at)s
    )
    RETURNING id
), answered AS (
    UPDATE annotate_assignment SET status = 'answered', answered_at = %(now)s WHERE id = %(assignment)s
), counted AS (
    UPDATE annotate_trackitem SET
        votes = votes + 1, needed = %(item_needed)s, status = %(item_status)s,
        tally_a = tally_a + %(add_a)s, tally_b = tally_b + %(add_b)s, tally_tie = tally_tie + %(add_tie)s
    WHERE id = %(item)s
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
            + CASE WHEN s.id <> %(seat)s THEN -1 WHEN %(stays_open)s THEN 1 ELSE 0 END,
        undoable_id = CASE WHEN s.id = %(seat)s THEN (SELECT id FROM judgment) ELSE s.undoable_id END,
        assigned = s.assigned + CASE WHEN s.id = %(seat)s THEN {handed} ELSE 0 END
    FROM seats WHERE s.id = seats.id
    RETURNING s.id, s.votes_given, s.votes_on_open, s.checks_given
), tracked AS (
    UPDATE annotate_track SET
        votes_stored = votes_stored + 1,
        items_complete = items_complete + CASE WHEN %(completes)s THEN 1 ELSE 0 END
    WHERE id = %(track)s AND (SELECT count(*) FROM seated) > 0
    RETURNING items_total, items_complete
)"""


_VOTE_WRITE_SQL = f"""
WITH {_vote_ctes("0")}
SELECT {_VOTED.sql} FROM seated JOIN tracked ON seated.id = %(seat)s
"""

# The vote after the same transaction handed out a check as the next comparison: the seat counts it.
_VOTE_WRITE_AFTER_CHECK_SQL = f"""
WITH {_vote_ctes("1")}
SELECT {_VOTED.sql} FROM seated JOIN tracked ON seated.id = %(seat)s
"""

# The vote, the next comparison (claimed before the seat counts it) and what its panel shows, in one
# statement: the vote button's answer needs nothing more from the database. Claiming first is safe: the
# voted item is already locked, and the claim never waits (SKIP LOCKED). Whitespace is collapsed: under
# 4096 characters psycopg caches how it splits a statement into parameters, above it parses it again
# on every call (a test keeps it under).
_VOTE_AND_NEXT_SQL = _compact(f"""
WITH {_PICK_CTES}, {_vote_ctes("(SELECT count(*) FROM handed)")}
SELECT {_VOTED_AND_NEXT.sql}
FROM seated JOIN tracked ON seated.id = %(seat)s
LEFT JOIN picked ON true
LEFT JOIN handed AS h ON h.item_id = picked.id
LEFT JOIN annotate_comparison AS c ON c.id = picked.comparison_id
{_PANEL_JOINS}
""")

# With prefetching, a vote makes the comparison reserved for the annotator (their other open lease,
# the lowest in position) the current one: its lease and watch record start now, as if handed out
# now, since it was never shown. Sent before the vote's own statement, in the same pipeline.
_PROMOTE_SQL = f"""
WITH promoted AS (
    UPDATE annotate_assignment AS h SET
        issued_at = %(now)s, expires_at = %(expires)s, watched_a = 0, watched_b = 0, watch_reported_at = NULL
    WHERE h.id = (
        SELECT r.id FROM annotate_assignment AS r JOIN annotate_trackitem AS i ON i.id = r.item_id
        WHERE i.track_id = %(track)s AND r.rater_id = %(rater)s AND r.status = 'open'
          AND r.id <> %(assignment)s AND r.expires_at > %(now)s
        ORDER BY r.position, r.id
        LIMIT 1
    )
    RETURNING {_LEASE.sql}
)
SELECT {_NEXT.sql}
FROM promoted AS h
JOIN annotate_trackitem AS i ON i.id = h.item_id
JOIN annotate_comparison AS c ON c.id = i.comparison_id
{_PANEL_JOINS}
"""

_PANEL_SQL = f"SELECT {_PANEL.sql} FROM annotate_comparison AS c {_PANEL_JOINS} WHERE c.id = %s"

# --- checks: gold comparisons and repeats -----------------------------------------------------------
#
# A share of handouts (the track's gold_rate and repeat_rate) is a check of the rater rather than work:
# a gold comparison (known answer, ``GoldAnswer``) they have never been given, or a comparison they
# answered at least ten handouts earlier, shown again with the sides swapped. A check's assignment
# claims nothing and its judgment (is_gold / is_repeat) changes no counter: the dataset's progress
# never sees it. Checks take their own statements, on the few handouts that draw one; the vote
# button's single statement stays as it is for all the others.

# Handouts between an original and its repeat, at least.
REPEAT_AFTER = 10

# The rows of the track's work with the identity and prompt of the gold comparison aliased {gold}: one
# is enough. A LATERAL subquery with LIMIT, which the planner cannot turn into a join over the whole
# track (an EXISTS here became a hash join over every item of the track: 10 ms a gold handout on 10
# thousand comparisons). The gold statement below uses LATERAL ... LIMIT 1 for every lookup for the
# same reason: each candidate is tested by index, one at a time, until one fits.
_IN_POOL = """CROSS JOIN LATERAL (
    SELECT 1 FROM annotate_comparison AS tc
    JOIN annotate_trackitem AS ti ON ti.comparison_id = tc.id AND ti.track_id = %(track)s AND NOT ti.is_check
    WHERE tc.identity_id = {gold}.identity_id AND tc.prompt_id = {gold}.prompt_id
    LIMIT 1
) AS in_pool"""

# Gold comparisons of the track's criterion, in comparison-id order from a pivot drawn between the
# lowest and the highest (``%(draw)s``, from the track, the rater and the handout's number as
# _check_drawn draws: the same handout draws the same way) and then from the lowest up to it. Read in
# that order through the index and stopped at the first fit, a handout looks at a few candidates
# rather than sorting all of them. A gold comparison after a wide gap in the ids is started from more
# often than one in a run; every rater still goes through them all, as none is handed twice.
_GOLD_CANDIDATES = """(
    WITH bounds AS (
        SELECT min(comparison_id) AS low, max(comparison_id) AS high
        FROM annotate_goldanswer WHERE criterion = %(criterion)s
    ), pivot AS (SELECT low + floor(%(draw)s * (high - low + 1))::bigint AS id FROM bounds)
    (SELECT g.comparison_id FROM annotate_goldanswer AS g, pivot
     WHERE g.criterion = %(criterion)s AND g.comparison_id >= pivot.id ORDER BY g.comparison_id)
    UNION ALL
    (SELECT g.comparison_id FROM annotate_goldanswer AS g, pivot
     WHERE g.criterion = %(criterion)s AND g.comparison_id < pivot.id ORDER BY g.comparison_id)
)"""

# A gold comparison of the track's criterion this rater was never handed in this track, from the
# track's own identities and prompts when it has any there (else from all of the criterion's). Its
# item in the track is made on first use (a check item); a comparison already in the track is handed
# as gold through its own item, and is then never handed to this rater as work. The second branch (any
# gold of the criterion, when the track's identities and prompts have none at all) runs only when the
# first found nothing. Nothing here waits: an item that a concurrent handout is inserting right now
# makes this one find nothing.
_GOLD_SQL = f"""
WITH candidate AS (
    SELECT k.comparison_id, c.identity_id, c.prompt_id
    FROM {_GOLD_CANDIDATES} AS k
    CROSS JOIN LATERAL (
        SELECT identity_id, prompt_id FROM annotate_comparison WHERE id = k.comparison_id LIMIT 1
    ) AS c
    LEFT JOIN LATERAL (
        SELECT 1 AS had FROM annotate_trackitem AS i JOIN annotate_assignment AS a ON a.item_id = i.id
        WHERE i.track_id = %(track)s AND i.comparison_id = k.comparison_id AND a.rater_id = %(rater)s
        LIMIT 1
    ) AS handed_before ON true
    WHERE handed_before.had IS NULL
), gold AS (
    (SELECT s.comparison_id FROM candidate AS s {_IN_POOL.format(gold="s")} LIMIT 1)
    UNION ALL
    (SELECT comparison_id FROM candidate WHERE NOT EXISTS (
        SELECT 1 FROM annotate_goldanswer AS g JOIN annotate_comparison AS s ON s.id = g.comparison_id
        {_IN_POOL.format(gold="s")}
        WHERE g.criterion = %(criterion)s
    ) LIMIT 1)
    LIMIT 1
), existing AS (
    SELECT i.id, i.comparison_id FROM annotate_trackitem AS i JOIN gold USING (comparison_id)
    WHERE i.track_id = %(track)s
), added AS (
    INSERT INTO annotate_trackitem (track_id, comparison_id, claimed, votes, is_check)
    SELECT %(track)s, comparison_id, 0, 0, true FROM gold WHERE NOT EXISTS (SELECT 1 FROM existing)
    ON CONFLICT (track_id, comparison_id) DO NOTHING
    RETURNING id, comparison_id
), item AS (
    SELECT id, comparison_id FROM existing UNION ALL SELECT id, comparison_id FROM added
), handed AS (
    INSERT INTO annotate_assignment AS h (
        item_id, rater_id, shown_left, status, issued_at, expires_at, watched_a, watched_b, purpose, position
    )
    SELECT item.id, %(rater)s, %(side)s, 'open', %(now)s, %(expires)s, 0, 0, 'gold', %(position)s FROM item
    ON CONFLICT DO NOTHING
    RETURNING {_LEASE.sql}
)
SELECT {_HANDED.sql}
FROM handed AS h JOIN item ON item.id = h.item_id JOIN annotate_comparison AS c ON c.id = item.comparison_id
"""

# A comparison the rater answered as work at least REPEAT_AFTER handouts before this one and never had
# repeated, handed again with the other side on the left.
_REPEAT_SQL = f"""
WITH original AS (
    SELECT a.item_id, a.shown_left FROM annotate_assignment AS a
    JOIN annotate_trackitem AS i ON i.id = a.item_id
    WHERE a.rater_id = %(rater)s AND a.status = 'answered' AND a.purpose = 'vote'
      AND i.track_id = %(track)s AND a.position < %(position)s - {REPEAT_AFTER}
      AND NOT EXISTS (
          SELECT 1 FROM annotate_assignment AS r
          WHERE r.item_id = a.item_id AND r.rater_id = a.rater_id AND r.purpose = 'repeat'
      )
    ORDER BY md5(a.item_id::text || ':' || %(position)s::text) LIMIT 1
), handed AS (
    INSERT INTO annotate_assignment AS h (
        item_id, rater_id, shown_left, status, issued_at, expires_at, watched_a, watched_b, purpose, position
    )
    SELECT item_id, %(rater)s, CASE WHEN shown_left = 'A' THEN 'B' ELSE 'A' END, 'open', %(now)s,
           %(expires)s, 0, 0, 'repeat', %(position)s
    FROM original
    ON CONFLICT DO NOTHING
    RETURNING {_LEASE.sql}
)
SELECT {_HANDED.sql}
FROM handed AS h JOIN annotate_trackitem AS i ON i.id = h.item_id
JOIN annotate_comparison AS c ON c.id = i.comparison_id
"""

# A check's answer: the judgment (a repeat linked to the rater's judgment of the original), the
# answered assignment, the seat's undoable judgment and its count of checks answered (which only the
# annotator's own progress line reads). No counter of the item or track moves, nor the seat's votes.
_CHECK_WRITE_SQL = f"""
WITH judgment AS (
    INSERT INTO annotate_judgment (
        comparison_id, criterion, choice, shown_left, rater_id, track_id, assignment_id, response_ms,
        watched_a, watched_b, selection_policy, selection_probability, created_at, is_gold, is_repeat,
        repeat_of_id
    )
    VALUES (
        %(comparison)s, %(criterion)s, %(choice)s, %(shown_left)s, %(rater)s, %(track)s, %(assignment)s,
        %(response_ms)s, %(watched_a)s, %(watched_b)s, %(policy)s, NULL, %(created_at)s,
        %(purpose)s = 'gold', %(purpose)s = 'repeat',
        CASE WHEN %(purpose)s = 'repeat' THEN (
            SELECT j.id FROM annotate_judgment AS j JOIN annotate_assignment AS o ON o.id = j.assignment_id
            WHERE o.item_id = %(item)s AND o.rater_id = %(rater)s AND o.purpose = 'vote'
        ) END
    )
    RETURNING id
), answered AS (
    UPDATE annotate_assignment SET status = 'answered', answered_at = %(now)s WHERE id = %(assignment)s
), seated AS (
    UPDATE annotate_trackseat AS s SET
        undoable_id = (SELECT id FROM judgment), checks_given = s.checks_given + 1
    WHERE s.id = %(seat)s
    RETURNING s.id, s.votes_given, s.votes_on_open, s.checks_given
), tracked AS (
    SELECT items_total, items_complete FROM annotate_track WHERE id = %(track)s
)
SELECT {_VOTED.sql} FROM seated, tracked
"""

# Undo, in the lock order above: the annotator's assignments on the track (the one voted and any
# handed out since), then their items in id order, then seats in id order, then the track.
_UNDO_READ_SQL = f"""
SELECT {_UNDO_ASSIGNMENT.sql} FROM annotate_assignment AS a
JOIN annotate_trackitem AS i ON i.id = a.item_id
WHERE a.id = (SELECT assignment_id FROM annotate_judgment WHERE id = %(judgment)s)
   OR (i.track_id = %(track)s AND a.rater_id = %(rater)s AND a.status = 'open')
ORDER BY a.id
FOR UPDATE OF a
"""

_UNDO_ITEMS_SQL = f"""
SELECT {_ITEM_COUNT.sql} FROM annotate_trackitem AS i WHERE i.id = ANY(%(items)s) ORDER BY i.id
FOR NO KEY UPDATE
"""

_UNDO_HAND_BACK = """
dropped AS (
    DELETE FROM annotate_judgment WHERE id = %(judgment)s
), handed_back AS (
    UPDATE annotate_assignment SET status = 'expired' WHERE id = ANY(%(others)s)
), unclaimed AS (
    UPDATE annotate_trackitem SET claimed = claimed - 1 WHERE id = ANY(%(other_items)s)
), reopened AS (
    UPDATE annotate_assignment SET status = 'open', answered_at = NULL, expires_at = %(expires)s
    WHERE id = %(redo)s
)"""

# Undoing a check's answer: the judgment goes and the check is handed back, as a vote's would be (the
# page must not tell them apart); of the counters only the seat's checks answered moves.
_UNDO_CHECK_WRITE_SQL = f"""
WITH {_UNDO_HAND_BACK}
UPDATE annotate_trackseat SET undoable_id = NULL, checks_given = checks_given - 1 WHERE id = %(seat)s
"""

_UNDO_WRITE_SQL = f"""
WITH {_UNDO_HAND_BACK}, uncounted AS (
    UPDATE annotate_trackitem SET
        votes = votes - 1, needed = %(item_needed)s, status = %(item_status)s,
        tally_a = tally_a + %(add_a)s, tally_b = tally_b + %(add_b)s, tally_tie = tally_tie + %(add_tie)s
    WHERE id = %(item)s
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
            + CASE WHEN s.id <> %(seat)s THEN 1 WHEN %(was_open)s THEN -1 ELSE 0 END,
        undoable_id = CASE WHEN s.id = %(seat)s THEN NULL ELSE s.undoable_id END
    FROM seats WHERE s.id = seats.id
    RETURNING s.id
)
UPDATE annotate_track SET
    votes_stored = votes_stored - 1,
    items_complete = items_complete - CASE WHEN %(was_complete)s THEN 1 ELSE 0 END
WHERE id = %(track)s AND (SELECT count(*) FROM seated) > 0
"""


# --- the comparison panel -------------------------------------------------------------------------


@dataclass(frozen=True)
class PanelMedia:
    """A video or reference as the panel shows it: URLs of opaque names, nothing that identifies it."""

    url: str
    poster_url: str
    is_video: bool = True
    width: int = 0
    height: int = 0
    viewpoint: str = Reference.Viewpoint.UNKNOWN  # of a reference


_V = Reference.Viewpoint
# The identity gallery's groups, in the order it shows them: a label and the viewpoints it gathers.
VIEW_GROUPS: tuple[tuple[str, frozenset[str]], ...] = (
    ("Front", frozenset({_V.FRONT})),
    ("Three-quarter", frozenset({_V.THREE_QUARTER_LEFT, _V.THREE_QUARTER_RIGHT})),
    ("Profile", frozenset({_V.PROFILE_LEFT, _V.PROFILE_RIGHT})),
    ("Back", frozenset({_V.BACK})),
    ("Other", frozenset({_V.UNKNOWN})),
)


class ReferenceGroup(NamedTuple):
    """References of one group of viewpoints, each with its place (1 = first) in the whole gallery."""

    label: str  # empty when the gallery is one group of unknown viewpoints: shown as it always was
    references: list[tuple[int, PanelMedia]]


def reference_groups(references: Sequence[PanelMedia]) -> list[ReferenceGroup]:
    """The references grouped by viewpoint (front, three-quarter, profile, back, then unknown), each
    group in the gallery's order; groups without a reference are left out."""
    numbered = list(enumerate(references, start=1))
    groups = [
        ReferenceGroup(label, [(n, media) for n, media in numbered if media.viewpoint in viewpoints])
        for label, viewpoints in VIEW_GROUPS
    ]
    groups = [group for group in groups if group.references]
    if len(groups) == 1 and groups[0].label == "Other":
        return [groups[0]._replace(label="")]
    return groups


@dataclass(frozen=True)
class ComparisonPanel:
    """What the comparison panel shows, already cut to the track's mode: nothing more reaches the page."""

    assignment: Assignment
    left: PanelMedia
    right: PanelMedia
    references: list[PanelMedia]
    prompt_text: str  # empty in identity and narrative modes: the prompt must not reach those pages
    fps: float
    watch_needed: float  # the fraction of each video the server will require, tolerance included
    watched_left: float
    watched_right: float
    vote_url: str
    watch_url: str
    wait_url: str
    # With prefetching: the media of the comparison reserved next, for the browser to fetch meanwhile.
    next_media: tuple[str, ...] = ()

    @property
    def reference_groups(self) -> list[ReferenceGroup]:
        return reference_groups(self.references)

    @property
    def locked(self) -> bool:
        """Whether the vote buttons start disabled: the server would refuse a vote right now."""
        return self.watch_needed > 0 and min(self.watched_left, self.watched_right) < self.watch_needed


# The kinds whose question is about the person: every reference is shown, and no prompt.
_ALL_REFERENCES_KINDS = frozenset(
    {Track.Kind.IDENTITY_FIDELITY, Track.Kind.IDENTITY_CONSISTENCY, Track.Kind.BODY_CONSISTENCY}
)


def _comparison_panel(row: _PanelRow, *, track: Track, assignment: Assignment) -> ComparisonPanel:
    """The panel of the assignment's comparison, from its ``_PanelRow``."""
    url = routes()  # a dozen URLs: the request's script prefix is read once

    def _media_url(name: str) -> str:
        return url("media", name) if name else ""

    video_a = PanelMedia(
        url=_media_url(row.a_file),
        poster_url=_media_url(row.a_poster),
        width=row.a_width,
        height=row.a_height,
    )
    video_b = PanelMedia(
        url=_media_url(row.b_file),
        poster_url=_media_url(row.b_poster),
        width=row.b_width,
        height=row.b_height,
    )
    left_is_a = assignment.shown_left == "A"
    left, right = (video_a, video_b) if left_is_a else (video_b, video_a)
    identity_mode = track.kind in _ALL_REFERENCES_KINDS
    # The controllability mode shows the primary reference only, which the ordering puts first; the
    # narrative questions of prompts show the story's shot prompts instead (the view reads them).
    references = row.references or []
    shown = references if identity_mode else references[:1] if not track.is_narrative else []
    prompt_text = ""  # identity mode: the prompt never reaches the page
    if not identity_mode and not track.is_narrative:
        prompt_text = Prompt(
            task=row.task, full_text=row.full_text, differential_text=row.differential_text
        ).shown_text
    return ComparisonPanel(
        assignment=assignment,
        left=left,
        right=right,
        references=[
            PanelMedia(
                url=_media_url(file),
                poster_url=_media_url(poster),
                is_video=kind == Reference.Kind.VIDEO,
                viewpoint=viewpoint,
            )
            for kind, file, poster, viewpoint in shown
        ],
        prompt_text=prompt_text,
        fps=max(row.a_fps, row.b_fps),
        watch_needed=track.watch_needed,
        watched_left=assignment.watched_a if left_is_a else assignment.watched_b,
        watched_right=assignment.watched_b if left_is_a else assignment.watched_a,
        vote_url=url("annotate:vote", track.pk, assignment.pk),
        watch_url=url("annotate:watch", track.pk, assignment.pk),
        wait_url=url("annotate:wait", track.pk, assignment.pk),
    )


def _with_next(panel: ComparisonPanel, following: ComparisonPanel | None) -> ComparisonPanel:
    """The panel, telling the browser the media of the comparison reserved after it: the same opaque
    URLs its own panel will show, videos first."""
    if following is None:
        return panel
    shown = [following.left, following.right, *following.references]
    urls = [media.url for media in shown] + [media.poster_url for media in shown]
    return replace(panel, next_media=tuple(dict.fromkeys(url for url in urls if url)))


def comparison_panel_get(*, track: Track, assignment: Assignment) -> ComparisonPanel:
    """The panel of the assignment's comparison, read with one query (a vote's answer gets its panel
    from the vote's own statement instead)."""
    with connection.cursor() as cursor:
        cursor.execute(_PANEL_SQL, [assignment.item.comparison_id])
        row = _PANEL.decode(cursor.fetchone())
    return _comparison_panel(row, track=track, assignment=assignment)


@dataclass(frozen=True)
class Work:
    """Where the annotator stands after a request: the track annotated with their progress
    (``done_by_me``, ``left_for_me``, ``can_undo``) and the panel of their comparison, None when there
    is none."""

    track: Track
    panel: ComparisonPanel | None

    @property
    def assignment(self) -> Assignment | None:
        return None if self.panel is None else self.panel.assignment


def _work(track: Track, assignment: Assignment | None, reserved: Assignment | None = None) -> Work:
    if assignment is None:
        return Work(track=track, panel=None)
    panel = comparison_panel_get(track=track, assignment=assignment)
    following = None if reserved is None else comparison_panel_get(track=track, assignment=reserved)
    return Work(track=track, panel=_with_next(panel, following))


# --- handing out work -----------------------------------------------------------------------------


def _lock_annotator(cursor: CursorWrapper, user: User) -> None:
    """Serialise the annotator's requests until the transaction ends: a double click, a resent vote
    and a page load arriving together must not hand out two comparisons."""
    cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_ANNOTATOR_LOCK_CLASS, user.pk & 0x7FFFFFFF])


def track_annotators_lock(cursor: CursorWrapper, *, track_id: int) -> None:
    """Wait for the requests of every annotator seated on the track, and hold theirs back until the
    transaction ends: a change of the track's rules then never meets a vote that read the old ones.
    Taken in user order, before any row lock, as each of their requests takes its own first."""
    cursor.execute(
        "SELECT pg_advisory_xact_lock(%s, u.id & 2147483647) FROM ("
        " SELECT user_id AS id FROM annotate_trackseat WHERE track_id = %s ORDER BY user_id"
        ") AS u",
        [_ANNOTATOR_LOCK_CLASS, track_id],
    )


def _seat_locked(cursor: CursorWrapper, *, track_id: int, user: User) -> _Seat:
    _lock_annotator(cursor, user)
    cursor.execute(_SEAT_SQL, {"track": track_id, "user": user.pk})
    row = cursor.fetchone()
    if row is None:
        raise NotYours("You are not an annotator on this track.")
    seat = _SEAT.decode(row)
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


def _loaded(model: type[M], values: Mapping[str, object]) -> M:
    """A model instance as if loaded from the database, from what a raw statement returned; fields
    not given stay deferred (loaded on first use)."""
    names = [field.attname for field in model._meta.concrete_fields if field.attname in values]
    return model.from_db(connection.alias, names, [values[name] for name in names])


def _assignment_from(row: _Handed, *, track_id: int, rater_id: int) -> Assignment:
    """An assignment with its item and comparison attached, from a ``_Handed`` row."""
    lease, pair = row
    assignment = _loaded(
        Assignment,
        {
            "id": lease.id,
            "item_id": lease.item_id,
            "rater_id": rater_id,
            "shown_left": lease.shown_left,
            "status": lease.status,
            "issued_at": lease.issued_at,
            "expires_at": lease.expires_at,
            "watched_a": lease.watched_a,
            "watched_b": lease.watched_b,
            "purpose": lease.purpose,
        },
    )
    assignment.item = _loaded(
        TrackItem, {"id": lease.item_id, "track_id": track_id, "comparison_id": pair.id}
    )
    assignment.item.comparison = _loaded(
        Comparison,
        {
            "id": pair.id,
            "video_a_id": pair.video_a_id,
            "video_b_id": pair.video_b_id,
            "identity_id": pair.identity_id,
            "prompt_id": pair.prompt_id,
        },
    )
    return assignment


def _pick_params(seat: _Seat, now: datetime) -> Params:
    track = seat.track
    assert seat.rater_id is not None
    return {
        "track": track.pk,
        "rater": seat.rater_id,
        "side": _side_for(track_id=track.pk, rater_id=seat.rater_id, position=seat.assigned),
        "position": seat.assigned,
        "now": now,
        "expires": now + timedelta(seconds=track.lease_seconds),
    }


def _check_drawn(seat: _Seat) -> str:
    """Whether the seat's next handout is a check: ``"gold"``, ``"repeat"``, or ``""`` for work.

    Drawn from the track, the rater and the handout's number, so that the same handout draws the same
    way however often it is asked (a vote's retry, a test), and over many handouts each check comes out
    at its rate. A rater with no work left gets none: checks are mixed into work, never shown alone."""
    track = seat.track
    if track.gold_rate <= 0 and track.repeat_rate <= 0:
        return ""
    if track.items_total - track.items_complete - seat.votes_on_open <= 0:
        return ""
    draw = random.Random(f"{track.pk}:{seat.rater_id}:{seat.assigned}:check").random()
    if draw < track.gold_rate:
        return str(Assignment.Purpose.GOLD)
    if draw < track.gold_rate + track.repeat_rate:
        return str(Assignment.Purpose.REPEAT)
    return ""


def _hand_out_check(cursor: CursorWrapper, *, seat: _Seat, now: datetime, check: str) -> Assignment | None:
    """Hand out a check of the kind drawn; None when there is none for this rater yet."""
    statement = _GOLD_SQL if check == Assignment.Purpose.GOLD else _REPEAT_SQL
    # Where in the gold comparisons the search starts: drawn as the check was, per handout.
    draw = random.Random(f"{seat.track.pk}:{seat.rater_id}:{seat.assigned}:gold").random()
    cursor.execute(statement, {**_pick_params(seat, now), "criterion": seat.track.criterion, "draw": draw})
    row = cursor.fetchone()
    if row is None:
        return None
    assert seat.rater_id is not None
    return _assignment_from(_HANDED.decode(row), track_id=seat.track.pk, rater_id=seat.rater_id)


def _hand_out(cursor: CursorWrapper, *, seat: _Seat, now: datetime, tried: bool = False) -> Assignment | None:
    """Hand out the next comparison for the seat: a check when one is drawn and there is one, else a
    claimed comparison of work (the seat's counter is the caller's to update). ``tried``: a pick in
    this transaction already found nothing free."""
    check = _check_drawn(seat)
    if check:
        assignment = _hand_out_check(cursor, seat=seat, now=now, check=check)
        if assignment is not None:
            return assignment
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
    return _assignment_from(_HANDED.decode(row), track_id=seat.track.pk, rater_id=seat.rater_id)


class _Held(NamedTuple):
    """The annotator's open leases on a track: the current comparison (the lowest in position) and,
    with prefetching, the one reserved after it."""

    current: Assignment | None
    reserved: Assignment | None = None


def _current_or_next(cursor: CursorWrapper, *, seat: _Seat, now: datetime, reserve: bool = False) -> _Held:
    """The seat's open leases, handing out what is missing: the current comparison, and with
    ``reserve`` the next one too. Each handout is a lease like any other (it claims its item and
    expires), so a reserved comparison counts in the pool exactly as a current one does."""
    cursor.execute(_CURRENT_SQL, {"track": seat.track.pk, "rater": seat.rater_id, "now": now})
    assert seat.rater_id is not None
    held = [
        _assignment_from(_HANDED.decode(row), track_id=seat.track.pk, rater_id=seat.rater_id)
        for row in cursor.fetchall()
    ]
    while len(held) < (2 if reserve else 1):
        assignment = _hand_out(cursor, seat=seat, now=now)
        if assignment is None:
            break
        cursor.execute("UPDATE annotate_trackseat SET assigned = assigned + 1 WHERE id = %s", [seat.id])
        seat.assigned += 1
        held.append(assignment)
    return _Held(*held[:2]) if held else _Held(None)


@transaction.atomic
def _holding(*, track: Track, user: User, now: datetime, reserve: bool) -> _Held:
    with connection.cursor() as cursor:
        seat = _seat_locked(cursor, track_id=track.pk, user=user)
        if seat.excluded:
            raise NotTakingPart(NOT_TAKING_PART)
        if seat.track.is_paused:
            raise TrackPaused("This track is paused; please come back later.")
        return _current_or_next(cursor, seat=seat, now=now, reserve=reserve)


def assignment_next_for(*, track: Track, user: User, now: datetime | None = None) -> Assignment | None:
    """The annotator's current comparison, or a new one; None when nothing is left for them."""
    return _holding(track=track, user=user, now=now or timezone.now(), reserve=False).current


def work_for(*, track: Track, user: User, assignment: Assignment | None = None) -> Work:
    """The work page's comparison: ``assignment``, else the annotator's current one or a new one (as
    ``assignment_next_for``), with its panel. ``track``: as ``selectors.annotator_tracks`` annotates it.

    With prefetching (``settings.PREFETCH_NEXT``) the next comparison is reserved for the annotator as
    well, and the panel names its media for the browser to fetch while this one is watched."""
    if not settings.PREFETCH_NEXT:
        return _work(track, assignment or assignment_next_for(track=track, user=user))
    held = _holding(track=track, user=user, now=timezone.now(), reserve=True)
    if assignment is not None and (held.current is None or held.current.pk != assignment.pk):
        return _work(track, assignment)
    return _work(track, held.current, held.reserved)


def _assignment_locked(*, assignment_id: int, user: User) -> Assignment:
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
    user: User,
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
    elapsed = (now - assignment.issued_at).total_seconds()
    comparison = assignment.item.comparison

    def plausible(reported: float, duration: float) -> float:
        return watched_plausible(reported=reported, duration=duration, elapsed_seconds=elapsed)

    assignment.watched_a = max(assignment.watched_a, plausible(watched_a, comparison.video_a.duration))
    assignment.watched_b = max(assignment.watched_b, plausible(watched_b, comparison.video_b.duration))
    assignment.watch_reported_at = now
    assignment.save(update_fields=["watched_a", "watched_b", "watch_reported_at"])
    return assignment


@transaction.atomic
def assignment_wait_record(
    *, assignment_id: int, user: User, wait_ms: float, now: datetime | None = None
) -> Assignment:
    """Record how long the player says the annotator waited, from the answer before this comparison
    until both its videos could play through, clipped to what is plausible (``wait_plausible``). The
    first report stands: a resent one changes nothing."""
    now = now or timezone.now()
    assignment = _assignment_locked(assignment_id=assignment_id, user=user)
    if assignment.wait_ms is not None:
        return assignment
    assignment.wait_ms = wait_plausible(
        reported_ms=wait_ms,
        elapsed_seconds=(now - assignment.issued_at).total_seconds(),
        ceiling_seconds=assignment.item.track.lease_seconds,
    )
    assignment.save(update_fields=["wait_ms"])
    return assignment


# --- votes ----------------------------------------------------------------------------------------


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


def _vote_checked(
    cursor: CursorWrapper,
    *,
    assignment_id: int,
    track_id: int | None,
    user: User,
    side_choice: str,
    response_ms: int | None,
    now: datetime,
) -> tuple[_Seat, Params | None]:
    """Lock the annotator's requests, read the vote's assignment and check the vote. Returns the seat
    and the parameters of the vote's statement, or None for them when the vote is already stored."""
    _lock_annotator(cursor, user)
    cursor.execute(_VOTE_SQL, {"assignment": assignment_id, "user": user.pk, "track": track_id})
    row = cursor.fetchone()
    if row is None:
        raise NotYours("No such assignment of yours.")
    vote = _VOTE.decode(row)
    seat = vote.seat
    track = seat.track
    if vote.status == Assignment.Status.ANSWERED:
        # A double click, a resent form or a network retry: the first vote stands, nothing is added.
        return seat, None
    if seat.excluded:
        raise NotTakingPart(NOT_TAKING_PART)
    if track.is_paused:
        raise TrackPaused("This track is paused; your vote was not stored.")
    if vote.status == Assignment.Status.REPORTED:
        raise AssignmentExpired("You reported a problem with this comparison; your vote was not stored.")
    if vote.status == Assignment.Status.EXPIRED or vote.expires_at <= now:
        raise AssignmentExpired(
            "This comparison waited too long and went back to the pool; your vote was not stored."
        )
    if side_choice not in _SIDE_CHOICES:
        raise InvalidChoice(f"Unknown choice {side_choice!r}: expected left, right, tie or both_bad.")
    choice = canonical_choice(side_choice=side_choice, shown_left=vote.shown_left)
    if choice not in track.allowed_choices:
        raise InvalidChoice(f"{Choice(choice).label!r} is not an allowed answer on this track.")
    watched_a, watched_b = vote.watched_a, vote.watched_b
    if min(watched_a, watched_b) < track.watch_needed:
        raise WatchRuleNotMet(
            f"Please watch both videos first: {track.min_watch_fraction:.0%} of each is needed, "
            f"seen {watched_a:.0%} and {watched_b:.0%}."
        )
    if response_ms is not None:
        response_ms = max(0, min(response_ms, 24 * 3600 * 1000))
    change = _item_change(track.vote_plan, vote.item, choice, adding=True, weight=_weight(seat))
    return seat, {
        "purpose": vote.purpose,
        "comparison": vote.item.comparison_id,
        "criterion": track.criterion,
        "choice": choice,
        "shown_left": vote.shown_left,
        "rater": seat.rater_id,
        "track": track.pk,
        "assignment": assignment_id,
        "response_ms": response_ms,
        "watched_a": watched_a,
        "watched_b": watched_b,
        "created_at": timezone.now(),
        "policy": SELECTION_POLICY,
        "probability": SELECTION_PROBABILITY,
        "now": now,
        "item": vote.item.id,
        "seat": seat.id,
        "completes": change.closes,
        # False also on a comparison already closed (decided while this lease was open, or an
        # annotator included again brought their votes back): no seat counts it as open.
        "stays_open": change.status == ItemStatus.OPEN,
        **change.params(),
    }


def _write_sql(params: Params) -> str:
    """The statement that stores the checked vote: a vote of the dataset's, or a check's answer."""
    return _VOTE_WRITE_SQL if params["purpose"] == Assignment.Purpose.VOTE else _CHECK_WRITE_SQL


def _voted(seat: _Seat, voted: _Voted) -> None:
    """Take the counters a vote's statement returned into the seat and its track."""
    seat.votes_given = voted.votes_given
    seat.votes_on_open = voted.votes_on_open
    seat.checks_given = voted.checks_given
    seat.undoable_id = voted.judgment_id
    seat.track.items_total = voted.items_total
    seat.track.items_complete = voted.items_complete


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
    user: User,
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
        cursor.execute(_write_sql(params), params)
        voted = _VOTED.decode(cursor.fetchone())
    _voted(seat, voted)
    judgment = _loaded(
        Judgment,
        {
            "id": voted.judgment_id,
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
            # A check was drawn at random, not by the policy: it records no probability (nor counts).
            "selection_probability": (
                SELECTION_PROBABILITY if params["purpose"] == Assignment.Purpose.VOTE else None
            ),
            "created_at": params["created_at"],
            "is_gold": params["purpose"] == Assignment.Purpose.GOLD,
            "is_repeat": params["purpose"] == Assignment.Purpose.REPEAT,
        },
    )
    return VoteResult(judgment=judgment, created=True)


def judgment_submit_and_next(
    *,
    track_id: int,
    assignment_id: int,
    user: User,
    side_choice: str,
    response_ms: int | None = None,
    now: datetime | None = None,
) -> Work:
    """Store the vote (as ``judgment_submit``) and hand out the annotator's next comparison, in one
    transaction: what the vote button does. The assignment must belong to the track. Returns the
    track with the annotator's progress and the next comparison's panel.

    The transaction runs in pipeline mode, and the vote's statement is read only after the commit: the
    statement and COMMIT reach the server together, so the track's row, which every vote on the track
    locks, is never held while this process waits for its turn to run Python.
    """
    now = now or timezone.now()
    reserve = settings.PREFETCH_NEXT
    current: Assignment | None = None  # the next comparison, when not handed out by the vote's statement
    reserved: Assignment | None = None  # with prefetching: the comparison reserved after it
    single = False  # the vote and the next comparison in one statement (nearly every vote)
    check_first = False  # a check handed out next, before the vote's own statement
    with connection.cursor() as cursor, connection.cursor() as ahead:
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
            if params is not None and reserve:
                # The comparison reserved at the last handout becomes the current one; what the
                # statements below hand out is then the next reserved one. Read after the commit.
                ahead.execute(_PROMOTE_SQL, {**_pick_params(seat, now), "assignment": assignment_id})
            if params is None:  # already stored: the current comparison, or a next one
                current, reserved = _current_or_next(cursor, seat=seat, now=now, reserve=reserve)
            elif params["purpose"] == Assignment.Purpose.VOTE:
                check = _check_drawn(seat)
                current = _hand_out_check(cursor, seat=seat, now=now, check=check) if check else None
                if current is None:
                    single = True
                    cursor.execute(_VOTE_AND_NEXT_SQL, {**params, **_pick_params(seat, now)})
                else:
                    # The check is handed out first and the vote's statement, which locks the track's
                    # row, goes last and is read after the commit, as the single statement is: the row
                    # is never held while this process waits for the check's handout or runs Python.
                    check_first = True
                    cursor.execute(_VOTE_WRITE_AFTER_CHECK_SQL, params)
            else:
                # A check answered: its statement takes no shared row; then the next handout.
                cursor.execute(_CHECK_WRITE_SQL, params)
                _voted(seat, _VOTED.decode(cursor.fetchone()))
                current, reserved = _current_or_next(cursor, seat=seat, now=now, reserve=reserve)
        promoted = None
        if params is not None and reserve:
            promoted_row = ahead.fetchone()
            promoted = None if promoted_row is None else _NEXT.decode(promoted_row)
        if check_first:
            _voted(seat, _VOTED.decode(cursor.fetchone()))
            seat.assigned += 1
            if promoted is not None:
                current, reserved = None, current  # the check is the next one reserved
        if not single and promoted is None:
            return _work(seat.progress(), current, reserved)  # its panel read after the commit
        if single:
            row = _VOTED_AND_NEXT.decode(cursor.fetchone())
            _voted(seat, row.voted)
            if row.next is not None:
                seat.assigned += 1
    assert seat.rater_id is not None
    track = seat.progress()
    if promoted is not None:
        following = _assignment_from(promoted.handed, track_id=track_id, rater_id=seat.rater_id)
        panel = _comparison_panel(promoted.panel, track=track, assignment=following)
        if single and row.next is not None:
            reserved = _assignment_from(row.next.handed, track_id=track_id, rater_id=seat.rater_id)
            return Work(
                track=track,
                panel=_with_next(panel, _comparison_panel(row.next.panel, track=track, assignment=reserved)),
            )
        if reserved is not None:  # a check handed out as the next one
            return Work(
                track=track, panel=_with_next(panel, comparison_panel_get(track=track, assignment=reserved))
            )
        return Work(track=track, panel=panel)
    if row.next is None or reserve:
        # Nothing was free (the rare path, which releases expired leases), or nothing was reserved
        # for the annotator yet: in a transaction of its own.
        held = _holding(track=seat.track, user=user, now=now, reserve=reserve)
        return _work(track, held.current, held.reserved)
    following = _assignment_from(row.next.handed, track_id=track_id, rater_id=seat.rater_id)
    return Work(track=track, panel=_comparison_panel(row.next.panel, track=track, assignment=following))


@transaction.atomic
def judgment_undo_last(*, track: Track, user: User, now: datetime | None = None) -> Assignment:
    """Take back the annotator's last vote on the track and hand that comparison back to them.

    The comparison handed out after the vote goes back to the pool; the undone one comes first.
    """
    now = now or timezone.now()
    with connection.cursor() as cursor:
        seat = _seat_locked(cursor, track_id=track.pk, user=user)
        if seat.excluded:
            raise NotTakingPart(NOT_TAKING_PART)
        if seat.track.is_paused:
            raise TrackPaused("This track is paused.")
        nothing = NothingToUndo("There is no vote to undo: only the last vote can be taken back, once.")
        if seat.undoable_id is None:
            raise nothing
        cursor.execute(
            _UNDO_READ_SQL, {"judgment": seat.undoable_id, "track": track.pk, "rater": seat.rater_id}
        )
        rows = [_UNDO_ASSIGNMENT.decode(row) for row in cursor.fetchall()]
        redo = next((row for row in rows if row.status == Assignment.Status.ANSWERED), None)
        if redo is None:
            raise nothing  # the judgment lost its assignment
        others = [row for row in rows if row.status == Assignment.Status.OPEN]
        handed_back: Params = {
            "judgment": seat.undoable_id,
            "others": [row.id for row in others],
            # Checks never claimed their item: only work goes back to the pool.
            "other_items": [row.item_id for row in others if row.purpose == Assignment.Purpose.VOTE],
            "redo": redo.id,
            "expires": now + timedelta(seconds=seat.track.lease_seconds),
            "seat": seat.id,
        }
        if redo.purpose != Assignment.Purpose.VOTE:
            cursor.execute(_UNDO_CHECK_WRITE_SQL, handed_back)
            return Assignment.objects.select_related("item__comparison").get(pk=redo.id)
        cursor.execute(_UNDO_ITEMS_SQL, {"items": sorted({row.item_id for row in rows})})
        items = {item.id: item for item in map(_ITEM_COUNT.decode, cursor.fetchall())}
        cursor.execute("SELECT choice FROM annotate_judgment WHERE id = %s", [seat.undoable_id])
        (choice,) = cursor.fetchone()
        item = items[redo.item_id]
        change = _item_change(seat.track.vote_plan, item, choice, adding=False, weight=_weight(seat))
        cursor.execute(
            _UNDO_WRITE_SQL,
            {
                **handed_back,
                **change.params(),
                "item": redo.item_id,
                "track": track.pk,
                # A closed comparison opens again when its votes no longer close it (fixed: it had
                # exactly its needed votes; above them, an annotator included again, it stays closed);
                # an open one was counted as open already.
                "was_complete": change.opens,
                "was_open": item.status == ItemStatus.OPEN,
            },
        )
    return Assignment.objects.select_related("item__comparison").get(pk=redo.id)


# --- "can't judge": problem reports -------------------------------------------------------------

# The reported assignment and its item, locked in the order of a vote (assignment, item).
_REPORT_READ_SQL = """
SELECT a.status, a.purpose, a.item_id, a.expires_at FROM annotate_assignment AS a
JOIN annotate_trackitem AS i ON i.id = a.item_id
WHERE a.id = %(assignment)s AND a.rater_id = %(rater)s AND i.track_id = %(track)s
FOR UPDATE OF a, i
"""

# The report, the lease ended without a vote (a vote's lease gives its claim back), and the item held
# out of the pool once enough distinct annotators have open reports on it. No counter of progress moves.
_REPORT_WRITE_SQL = """
WITH reported AS (
    INSERT INTO annotate_problemreport (
        item_id, rater_id, assignment_id, reason, note, created_at, resolution, resolved_at, resolved_by_id
    )
    VALUES (%(item)s, %(rater)s, %(assignment)s, %(reason)s, %(note)s, %(now)s, '', NULL, NULL)
    RETURNING id
), ended AS (
    UPDATE annotate_assignment SET status = 'reported', answered_at = %(now)s WHERE id = %(assignment)s
)
UPDATE annotate_trackitem AS i SET
    claimed = i.claimed - CASE WHEN %(purpose)s = 'vote' THEN 1 ELSE 0 END,
    held = i.held OR 1 + (
        SELECT count(DISTINCT r.rater_id) FROM annotate_problemreport AS r
        WHERE r.item_id = i.id AND r.resolution = '' AND r.rater_id <> %(rater)s
    ) >= %(to_hold)s
WHERE i.id = %(item)s AND (SELECT count(*) FROM reported) > 0
RETURNING i.held
"""


@transaction.atomic
def problem_report_create(
    *,
    track_id: int,
    assignment_id: int,
    user: User,
    reason: str,
    note: str = "",
    now: datetime | None = None,
) -> Work:
    """The annotator cannot judge their comparison, and says why ("can't judge"): store the report and
    hand them their next comparison, as a vote would, in one transaction. Not a vote: no judgment, no
    tally, no progress counter moves; the lease ends (a vote's lease gives its claim back) and the
    comparison is never handed to them again. The second distinct annotator's open report on the same
    comparison takes it out of the pool (``TrackItem.held``) until a study admin resolves the reports
    (``annotate.problem_reports``)."""
    now = now or timezone.now()
    if reason not in ProblemReport.Reason.values:
        known = ", ".join(ProblemReport.Reason.values)
        raise ProblemReportError(f"Unknown reason {reason!r}: expected one of {known}.")
    note = note.strip()
    limit = ProblemReport._meta.get_field("note").max_length
    if limit is not None and len(note) > limit:
        raise ProblemReportError(f"The note is too long: {limit} characters at most.")
    reserve = settings.PREFETCH_NEXT
    with connection.cursor() as cursor:
        seat = _seat_locked(cursor, track_id=track_id, user=user)
        assert seat.rater_id is not None
        cursor.execute(
            _REPORT_READ_SQL, {"assignment": assignment_id, "rater": seat.rater_id, "track": track_id}
        )
        row = cursor.fetchone()
        if row is None:
            raise NotYours("No such assignment of yours.")
        status, purpose, item_id, expires_at = row
        if (
            status == Assignment.Status.REPORTED
            or ProblemReport.objects.filter(
                item_id=item_id, rater_id=seat.rater_id, resolution=ProblemReport.Resolution.OPEN
            ).exists()
        ):
            raise AlreadyReported("You have already reported a problem with this comparison.")
        if seat.excluded:
            raise NotTakingPart(NOT_TAKING_PART)
        if seat.track.is_paused:
            raise TrackPaused("This track is paused; your report was not stored.")
        if status == Assignment.Status.ANSWERED:
            raise AlreadyReported(
                "You have already voted on this comparison: undo the vote first to report a problem instead."
            )
        if status == Assignment.Status.EXPIRED or expires_at <= now:
            raise AssignmentExpired(
                "This comparison waited too long and went back to the pool; your report was not stored."
            )
        if reserve:
            # The comparison reserved next becomes the current one, as after a vote.
            cursor.execute(_PROMOTE_SQL, {**_pick_params(seat, now), "assignment": assignment_id})
        cursor.execute(
            _REPORT_WRITE_SQL,
            {
                "item": item_id,
                "rater": seat.rater_id,
                "assignment": assignment_id,
                "reason": reason,
                "note": note,
                "now": now,
                "purpose": purpose,
                "to_hold": PROBLEM_REPORTS_TO_HOLD,
            },
        )
        held = _current_or_next(cursor, seat=seat, now=now, reserve=reserve)
    return _work(seat.progress(), held.current, held.reserved)


# --- excluding an annotator and including them again ----------------------------------------------

# The seat's assignments on the track that count (answered, with a real vote: not gold, not a repeat)
# or hold a claim (open), in the lock order of undo: assignments first, then their items. A comparison
# removed from the pool is closed for good: its counts no longer move.
_SEAT_ASSIGNMENTS_SQL = """
SELECT a.id, a.item_id, a.status, j.choice FROM annotate_assignment AS a
JOIN annotate_trackitem AS i ON i.id = a.item_id
LEFT JOIN annotate_judgment AS j ON j.assignment_id = a.id AND NOT j.is_gold AND NOT j.is_repeat
WHERE i.track_id = %(track)s AND a.rater_id = %(rater)s AND i.status <> 'removed'
  AND (a.status = 'open' OR (a.status = 'answered' AND j.id IS NOT NULL))
ORDER BY a.id
FOR UPDATE OF a
"""

# The votes leave (``sign`` -1) or come back (+1); a comparison that crosses its needed votes changes
# the "still open" count of every seat that answered it, as a completing vote or an undo does.
_STANDING_WRITE_SQL = """
WITH handed_back AS (
    UPDATE annotate_assignment SET status = 'expired' WHERE id = ANY(%(open)s)
), unclaimed AS (
    UPDATE annotate_trackitem SET claimed = claimed - 1 WHERE id = ANY(%(open_items)s)
), counted AS (
    UPDATE annotate_trackitem AS i SET
        votes = i.votes + %(sign)s, claimed = i.claimed + %(sign)s, needed = c.needed, status = c.status,
        tally_a = i.tally_a + c.add_a, tally_b = i.tally_b + c.add_b, tally_tie = i.tally_tie + c.add_tie
    FROM unnest(
        %(items)s::bigint[], %(needed)s::int[], %(statuses)s::text[], %(add_a)s::float8[],
        %(add_b)s::float8[], %(add_tie)s::float8[]
    ) AS c(id, needed, status, add_a, add_b, add_tie)
    WHERE i.id = c.id
), crossing AS (
    SELECT s.id, count(*) AS n FROM annotate_assignment AS a
    JOIN annotate_trackseat AS s ON s.track_id = %(track)s AND s.rater_id = a.rater_id
    WHERE a.item_id = ANY(%(crossed)s) AND a.status = 'answered'
    GROUP BY s.id
), seats AS (
    SELECT s.id FROM annotate_trackseat AS s
    WHERE s.id = %(seat)s OR s.id IN (SELECT id FROM crossing)
    ORDER BY s.id
    FOR NO KEY UPDATE
), seated AS (
    UPDATE annotate_trackseat AS s SET
        votes_on_open = s.votes_on_open - %(sign)s * coalesce(crossing.n, 0),
        excluded = CASE WHEN s.id = %(seat)s THEN %(excluded)s ELSE s.excluded END
    FROM seats LEFT JOIN crossing ON crossing.id = seats.id
    WHERE s.id = seats.id
    RETURNING s.id
)
UPDATE annotate_track SET
    votes_stored = votes_stored + %(sign)s * cardinality(%(items)s::bigint[]),
    items_complete = items_complete + %(sign)s * cardinality(%(crossed)s::bigint[])
WHERE id = %(track)s AND (SELECT count(*) FROM seated) > 0
"""


def _standing_set(*, seat: TrackSeat, by: User, reason: str, exclude: bool) -> TrackRaterDecision:
    action = TrackRaterDecision.Action.EXCLUDE if exclude else TrackRaterDecision.Action.INCLUDE
    if len(reason) > 500:
        raise RaterDecisionError("The reason is too long: 500 characters at most.")
    track_id = seat.track_id
    with connection.cursor() as cursor:
        _lock_annotator(cursor, seat.user)  # their own votes and undos wait, then see the new standing
        cursor.execute(
            "SELECT excluded, rater_id, vote_weight FROM annotate_trackseat WHERE id = %s AND track_id = %s",
            [seat.pk, track_id],
        )
        row = cursor.fetchone()
        if row is None:
            raise NotYours("No such annotator on this track.")
        excluded, rater_id, vote_weight = row
        if excluded == exclude:
            state = "already excluded from" if exclude else "not excluded from"
            raise RaterDecisionError(f"{seat.user.get_username()} is {state} this track.")
        cursor.execute(_SEAT_ASSIGNMENTS_SQL, {"track": track_id, "rater": rater_id})
        rows = cursor.fetchall()
        held = [(a_id, item_id) for a_id, item_id, status, _ in rows if status == Assignment.Status.OPEN]
        choices = {item: choice for _, item, status, choice in rows if status == Assignment.Status.ANSWERED}
        voted = sorted(choices)
        cursor.execute(_UNDO_ITEMS_SQL, {"items": sorted({item_id for _, item_id, _, _ in rows})})
        items = {item.id: item for item in map(_ITEM_COUNT.decode, cursor.fetchall())}
        track = Track.objects.get(pk=track_id)
        plan = track.vote_plan
        weight = vote_weight if track.weight_by_reliability else 1.0
        # Leaving, a comparison its votes no longer close opens again (fixed: one at exactly its needed
        # votes); coming back, one that the votes now close closes. Each crossing moves the "still open"
        # count of every seat that answered it.
        changes = [
            _item_change(plan, items[item], choices[item], adding=not exclude, weight=weight)
            for item in voted
        ]
        crossed = [
            item
            for item, change in zip(voted, changes, strict=True)
            if (change.opens if exclude else change.closes)
        ]
        cursor.execute(
            _STANDING_WRITE_SQL,
            {
                "open": [a_id for a_id, _ in held],
                "open_items": [item_id for _, item_id in held],
                "items": voted,
                "needed": [change.needed for change in changes],
                "statuses": [change.status for change in changes],
                "add_a": [change.add_a for change in changes],
                "add_b": [change.add_b for change in changes],
                "add_tie": [change.add_tie for change in changes],
                "crossed": crossed,
                "sign": -1 if exclude else 1,
                "seat": seat.pk,
                "track": track_id,
                "excluded": exclude,
            },
        )
    seat.excluded = exclude
    return TrackRaterDecision.objects.create(seat=seat, action=action, reason=reason, decided_by=by)


@transaction.atomic
def track_seat_exclude(*, seat: TrackSeat, by: User, reason: str) -> TrackRaterDecision:
    """Exclude an annotator from a track: their real votes leave every count (the comparisons' votes and
    claims, the track's progress, the other seats' "still open"), their open lease goes back to the pool,
    and comparisons whose needed votes counted theirs open again for the included annotators. They get
    no more work on the track. Their judgments are kept (the quality page still shows their figures)."""
    reason = reason.strip()
    if not reason:
        raise RaterDecisionError("Give a reason for excluding this annotator.")
    return _standing_set(seat=seat, by=by, reason=reason, exclude=True)


@transaction.atomic
def track_seat_include(*, seat: TrackSeat, by: User, reason: str = "") -> TrackRaterDecision:
    """Include an excluded annotator again: their votes count again. Their claims come back too, so a
    comparison is never handed out beyond its needed votes; one that others completed meanwhile keeps
    more votes than needed (the track's page says how many)."""
    return _standing_set(seat=seat, by=by, reason=reason.strip(), exclude=False)


# Every open lease of one rater, on every track, goes back to the pool: their items' claims drop (checks
# never claimed theirs). Same lock order as a vote: the assignments and their items, items in id order.
_RATER_RELEASE_SQL = """
WITH held AS (
    SELECT a.id FROM annotate_assignment AS a
    JOIN annotate_trackitem AS i ON i.id = a.item_id
    WHERE a.rater_id = %(rater)s AND a.status = 'open'
    ORDER BY i.id
    FOR UPDATE OF a, i
), expired AS (
    UPDATE annotate_assignment AS a SET status = 'expired', expires_at = %(now)s
    FROM held WHERE a.id = held.id
    RETURNING a.item_id, a.purpose
), released AS (
    SELECT item_id, count(*) AS n FROM expired WHERE purpose = 'vote' GROUP BY item_id
)
UPDATE annotate_trackitem AS t SET claimed = t.claimed - released.n
FROM released WHERE t.id = released.item_id
"""


@transaction.atomic
def rater_leases_release(*, user: User, now: datetime | None = None) -> None:
    """Hand back every comparison the annotator holds (on a deactivation): others get them at once,
    rather than when the leases run out. Their answered votes stay as they are."""
    rater_id = Rater.objects.filter(user=user).values_list("pk", flat=True).first()
    if rater_id is None:
        return
    with connection.cursor() as cursor:
        _lock_annotator(cursor, user)  # a vote of theirs in flight finishes first
        cursor.execute(_RATER_RELEASE_SQL, {"rater": rater_id, "now": now or timezone.now()})
