"""Reads of annotation. The annotator's pages come first; admin-side reads may follow below."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, User
from django.db import connection
from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    FilteredRelation,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, Greatest, Now

from annotate.models import (
    ITEM_STATUSES,
    AnnotatorSettings,
    Assignment,
    Comparison,
    GoldAnswer,
    Judgment,
    ProblemReport,
    QualityReport,
    Track,
    TrackItem,
    TrackRaterDecision,
    TrackSeat,
)
from annotate.quality import JUDGMENT_COLUMNS
from annotate.vote_path import seat_progress
from generation.models import StoryShot, Video
from generation.selectors import video_shape_warnings

# --- the annotator's side -----------------------------------------------------------------------


def _per_row(queryset: QuerySet, function: str, field: str = "pk") -> Coalesce:
    # A correlated COUNT/SUM per row: joining the counted rows in one query would multiply rows.
    aggregate = queryset.order_by().annotate(_value=Func(F(field), function=function)).values("_value")
    return Coalesce(Subquery(aggregate, output_field=IntegerField()), Value(0))


def annotator_tracks(*, user: User | AnonymousUser) -> QuerySet[Track]:
    """The tracks the user is seated on, each annotated with progress from the counters (one query,
    nothing counted over items or judgments).

    ``done_by_me``: my answers (votes and checks); ``left_for_me``: comparisons I have not answered that
    still need votes; ``left_shown``: what my progress line says is left; ``can_undo``: my last answer may
    be taken back (all as ``vote_path.seat_progress`` defines them); ``mine_total``: done and left shown
    together. The track's own totals are its fields
    ``items_total`` and ``votes_stored``, and ``votes_total``.
    """
    if isinstance(user, AnonymousUser):  # the home page of someone not signed in
        return Track.objects.none()
    return (
        Track.objects.annotate(my_seat=FilteredRelation("seats", condition=Q(seats__user=user)))
        .filter(my_seat__isnull=False)
        .annotate(
            **seat_progress(
                items_total=F("items_total"),
                items_complete=F("items_complete"),
                votes_given=F("my_seat__votes_given"),
                votes_on_open=F("my_seat__votes_on_open"),
                checks_given=F("my_seat__checks_given"),
                can_undo=ExpressionWrapper(Q(my_seat__undoable__isnull=False), output_field=BooleanField()),
            )
        )
        .annotate(mine_total=F("done_by_me") + F("left_shown"))
        .order_by("name")
    )


def annotator_track_progress_get(*, user: User | AnonymousUser, track_id: int) -> Track | None:
    """One of the user's tracks with its progress, or None when they are not seated on it."""
    return annotator_tracks(user=user).filter(pk=track_id).first()


def annotator_track_get(*, user: User, track_id: int) -> Track | None:
    """One of the user's tracks, without the counts; None when they are not seated on it."""
    return Track.objects.filter(pk=track_id, seats__user=user).first()


def annotator_assignment_get(*, user: User, track_id: int, assignment_id: int) -> Assignment | None:
    """The user's assignment on a track they are still seated on; anything else is None (a 404)."""
    return Assignment.objects.filter(
        pk=assignment_id, item__track_id=track_id, item__track__seats__user=user, rater__user=user
    ).first()


# --- the study admin's side ---------------------------------------------------------------------


@dataclass(frozen=True)
class StoryPanel:
    """What a narrative comparison's player needs beyond the clip panel, in the page's left/right terms:
    the seconds at which each shot starts in either joined file, and the story's shot prompts in order
    (empty where the track's question does not show them). Nothing names a method or a seed."""

    shots_left: list[float]
    shots_right: list[float]
    prompts: list[str]

    @property
    def count(self) -> int:
        return len(self.shots_left)


def story_panel_get(*, track: Track, item_id: int, shown_left: str) -> StoryPanel | None:
    """The shots of a narrative comparison's two renderings: read only for narrative tracks, never on a
    clip track's vote. None when the two renderings' shots cannot be lined up (no shot starts, or not
    as many on both sides), and the player then plays the joined files as clips."""
    row = (
        TrackItem.objects.filter(pk=item_id)
        .values(
            starts_a=F("comparison__video_a__rendering__shot_starts"),
            starts_b=F("comparison__video_b__rendering__shot_starts"),
            story_id=F("comparison__video_a__rendering__story_id"),
        )
        .first()
    )
    if row is None or not row["starts_a"] or len(row["starts_a"]) != len(row["starts_b"] or ()):
        return None
    prompts = []
    if track.kind in (Track.Kind.NARRATIVE_ADHERENCE, Track.Kind.CONTINUITY):
        shots = (
            StoryShot.objects.filter(story_id=row["story_id"]).select_related("prompt").order_by("position")
        )
        prompts = [shot.prompt.shown_text for shot in shots]
    left_is_a = shown_left == "A"
    starts_a, starts_b = [float(t) for t in row["starts_a"]], [float(t) for t in row["starts_b"]]
    return StoryPanel(
        shots_left=starts_a if left_is_a else starts_b,
        shots_right=starts_b if left_is_a else starts_a,
        prompts=prompts,
    )


def _with_track_progress(tracks: QuerySet[Track]) -> QuerySet[Track]:
    """Progress is on the track's own counters (``items_total``, ``items_complete``, ``votes_stored``,
    ``votes_total``); this adds ``annotator_count``, one query for any number of tracks."""
    return tracks.annotate(annotator_count=_per_row(TrackSeat.objects.filter(track=OuterRef("pk")), "COUNT"))


def track_progress_list() -> QuerySet[Track]:
    return _with_track_progress(Track.objects.order_by("name"))


def track_progress_get(*, track_id: int) -> Track | None:
    """One track with its progress, ``over_needed``: comparisons with more stored votes than needed
    (a late answer on a lease given out before the comparison closed, or an annotator included again
    after others had completed it), and ``open_reports``: comparisons with open problem reports, in the
    same query."""
    over = TrackItem.objects.filter(track=OuterRef("pk"), is_check=False, votes__gt=F("needed"))
    # Comparisons with open problem reports: counted from the reports (few), not from the items.
    reported = (
        ProblemReport.objects.filter(item__track=OuterRef("pk"), resolution=ProblemReport.Resolution.OPEN)
        .order_by()
        .values("item__track")
        .annotate(n=Count("item", distinct=True))
        .values("n")
    )
    tracks = _with_track_progress(Track.objects.filter(pk=track_id))
    return tracks.annotate(
        over_needed=_per_row(over, "COUNT"),
        open_reports=Coalesce(Subquery(reported, output_field=IntegerField()), Value(0)),
    ).first()


def track_annotator_progress(*, track: Track, cost: TrackCost | None = None) -> list[User]:
    """Everyone seated on the track or with votes on it (former annotators too), seated first; with
    ``cost``, each also gets ``cost``: their :class:`CostFigures` on this track."""
    user_model = get_user_model()
    # Votes of the dataset: gold and repeat checks are not progress, and an excluded seat's votes count
    # nowhere on this track.
    own_judgments = Judgment.objects.dataset().filter(track=track, rater__user=OuterRef("pk"))
    users = user_model.objects.filter(
        Q(pk__in=TrackSeat.objects.filter(track=track).values("user_id"))
        | Q(pk__in=Judgment.objects.filter(track=track).values("rater__user_id"))
    ).annotate(
        seated=Exists(TrackSeat.objects.filter(track=track, user=OuterRef("pk"))),
        votes=_per_row(own_judgments, "COUNT"),
        last_vote_at=Subquery(own_judgments.order_by("-created_at").values("created_at")[:1]),
        has_open_assignment=Exists(
            Assignment.objects.filter(
                item__track=track,
                rater__user=OuterRef("pk"),
                status=Assignment.Status.OPEN,
                expires_at__gt=Now(),
            )
        ),
    )
    rows: list[User] = list(users.order_by("-seated", user_model.USERNAME_FIELD))
    if cost is not None:
        for row in rows:
            row.cost = cost.by_user.get(row.pk, CostFigures())  # type: ignore[attr-defined]
    return rows


# A pause longer than this between two answers ends a session: the time in between is not voting time.
SESSION_GAP_SECONDS = 600


@dataclass(frozen=True)
class CostFigures:
    """What votes cost in annotators' time; None where nothing was measured.

    ``votes_per_hour``: answers timed ÷ the time they took; ``seconds_per_vote``: the median of those
    times. An answer's time is the gap since the same annotator's previous answer on the track, when that
    gap is at most :data:`SESSION_GAP_SECONDS` (the first answer of a session is not timed). The gap
    holds everything the annotator spent on the answer: waiting for the videos, watching, deciding, the
    round trip. ``wait_ms``: the median of the waits the player reported between a vote and the next pair
    being able to play through.
    """

    votes_per_hour: float | None = None
    seconds_per_vote: float | None = None
    wait_ms: float | None = None


@dataclass(frozen=True)
class TrackCost:
    overall: CostFigures
    by_user: dict[int, CostFigures]


# Both grouped once per rater and once for everyone (the GROUPING SETS' empty set, rater_id NULL; 0 in the
# join, as FULL JOIN needs an equality).
# Gold and repeat answers take an annotator the same time as votes, so every answer of the track counts.
_TRACK_COST_SQL = f"""
WITH answers AS (
    SELECT rater_id, EXTRACT(EPOCH FROM created_at - lag(created_at) OVER (
        PARTITION BY rater_id ORDER BY created_at, id)) AS gap
    FROM annotate_judgment WHERE track_id = %(track)s
), timed AS (
    SELECT rater_id, count(*) AS answers, sum(gap) AS seconds,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY gap) AS median_gap
    FROM answers WHERE gap <= {SESSION_GAP_SECONDS}
    GROUP BY GROUPING SETS ((rater_id), ())
), waits AS (
    SELECT a.rater_id, percentile_cont(0.5) WITHIN GROUP (ORDER BY a.wait_ms) AS median_wait
    FROM annotate_assignment AS a JOIN annotate_trackitem AS i ON i.id = a.item_id
    WHERE i.track_id = %(track)s AND a.wait_ms IS NOT NULL
    GROUP BY GROUPING SETS ((a.rater_id), ())
)
SELECT r.user_id, coalesce(t.rater_id, w.rater_id) IS NULL AS overall,
       t.answers, t.seconds, t.median_gap, w.median_wait
FROM timed AS t FULL JOIN waits AS w ON coalesce(t.rater_id, 0) = coalesce(w.rater_id, 0)
LEFT JOIN annotate_rater AS r ON r.id = coalesce(t.rater_id, w.rater_id)
"""


def track_cost(*, track: Track) -> TrackCost:
    """The track's :class:`CostFigures` per annotator (by user id) and over all of them (per
    annotator-hour: annotators working side by side add up), in one query."""
    overall = CostFigures()
    by_user: dict[int, CostFigures] = {}
    with connection.cursor() as cursor:
        cursor.execute(_TRACK_COST_SQL, {"track": track.pk})
        for user_id, is_overall, answers, seconds, median_gap, median_wait in cursor.fetchall():
            figures = CostFigures(
                votes_per_hour=answers * 3600.0 / float(seconds) if answers and seconds else None,
                seconds_per_vote=float(median_gap) if median_gap is not None else None,
                wait_ms=float(median_wait) if median_wait is not None else None,
            )
            if is_overall:
                overall = figures
            elif user_id is not None:
                by_user[user_id] = figures
    return TrackCost(overall=overall, by_user=by_user)


def track_choices() -> list[tuple[int, str]]:
    """The tracks a generation job may extend, as (id, name) for the launch form (generation.signals)."""
    return list(Track.objects.order_by("name").values_list("id", "name"))


def track_video_ids(track_id: int) -> set[int]:
    """The ids of the videos a track compares (generation.signals: the job page's shape warning)."""
    pairs = TrackItem.objects.filter(track_id=track_id).values_list(
        "comparison__video_a_id", "comparison__video_b_id"
    )
    return {video_id for pair in pairs for video_id in pair}


def track_video_shape_warnings(*, track: Track) -> list[str]:
    """What a rater could tell the track's methods apart by (size, frame rate, duration)."""
    comparisons = Comparison.objects.filter(track_items__track=track)
    videos = Video.objects.of_methods().filter(
        Q(pk__in=comparisons.values("video_a_id")) | Q(pk__in=comparisons.values("video_b_id"))
    )
    return video_shape_warnings(videos=videos)


# --- rater quality --------------------------------------------------------------------------------


def track_quality_judgments(*, track: Track) -> pd.DataFrame:
    """Every judgment of the track as annotate.quality reads it (:data:`JUDGMENT_COLUMNS`), oldest
    first, in one query: ``rater`` the rater's id, ``item`` the comparison's. Excluded raters' rows are
    included: ``track_excluded_raters`` names them, for ``quality_fit(..., excluded=...)``."""
    gold = GoldAnswer.objects.filter(comparison=OuterRef("comparison_id"), criterion=track.criterion)
    rows = (
        Judgment.objects.filter(track=track)
        .annotate(
            gold_answer=Subquery(gold.values("answer")[:1]),
            duration_ms=Greatest("comparison__video_a__duration", "comparison__video_b__duration") * 1000.0,
        )
        .order_by("created_at", "id")
        .values_list(
            "rater_id",
            "comparison_id",
            "criterion",
            "choice",
            "shown_left",
            "response_ms",
            "is_gold",
            "gold_answer",
            "is_repeat",
            "repeat_of__choice",
            "duration_ms",
        )
    )
    frame = pd.DataFrame.from_records(list(rows), columns=[*JUDGMENT_COLUMNS])
    frame["response_ms"] = frame["response_ms"].astype(float)
    frame["duration_ms"] = frame["duration_ms"].astype(float)
    original = frame.pop("repeat_choice_same")  # the original's choice, read in the same query
    same = (original == frame["choice"]).astype("boolean")
    frame["repeat_choice_same"] = same.where(frame["is_repeat"] & original.notna(), pd.NA)
    frame["gold_answer"] = frame["gold_answer"].where(frame["is_gold"], None)
    return frame[[*JUDGMENT_COLUMNS]]


def track_excluded_raters(*, track: Track) -> list[int]:
    seats = TrackSeat.objects.filter(track=track, excluded=True, rater__isnull=False)
    return [rater_id for rater_id in seats.values_list("rater_id", flat=True) if rater_id is not None]


def quality_report_get(*, scope: str) -> QualityReport | None:
    """The stored quality report of ``"track:<id>"`` or ``"study:<id>"``; None before the first request."""
    return QualityReport.objects.filter(scope=scope).first()


def track_seats_with_decisions(*, track: Track) -> dict[int, TrackSeat]:
    """The track's seats by rater id, each with ``last_decision`` (its latest exclusion or inclusion, or
    None), in two queries."""
    seats = {seat.rater_id: seat for seat in TrackSeat.objects.filter(track=track).select_related("user")}
    latest: dict[int, TrackRaterDecision] = {}
    for decision in TrackRaterDecision.objects.filter(seat__track=track).select_related("decided_by"):
        latest.setdefault(decision.seat_id, decision)  # newest first (the model's ordering)
    for seat in seats.values():
        seat.last_decision = latest.get(seat.pk)  # type: ignore[attr-defined]
    return seats  # type: ignore[return-value]


@dataclass(frozen=True)
class ItemStatusCount:
    status: str
    label: str
    count: int


def track_item_status_counts(*, track: Track) -> list[ItemStatusCount]:
    """How many of the track's comparisons are open, decided and undecided at their maximum (fixed
    votes: decided means it has its votes), every status listed, in one query."""
    counts = dict(
        TrackItem.objects.filter(track=track, is_check=False)
        .values("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    return [ItemStatusCount(value, str(label), counts.get(value, 0)) for value, label in ITEM_STATUSES]


def track_items(*, track: Track, status: str | None = None) -> QuerySet[TrackItem]:
    """The track's comparisons (no check items) with their votes, tally and status, in id order."""
    items = TrackItem.objects.filter(track=track, is_check=False).order_by("pk")
    if status:
        items = items.filter(status=status)
    return items.only(
        "pk", "comparison_id", "votes", "claimed", "needed", "tally_a", "tally_b", "tally_tie", "status"
    )


def annotator_autoplay_next(*, user: User) -> bool:
    """Whether the annotator's next pair starts by itself (the default while they have chosen nothing)."""
    chosen = AnnotatorSettings.objects.filter(user=user).values_list("autoplay_next", flat=True).first()
    return True if chosen is None else chosen
