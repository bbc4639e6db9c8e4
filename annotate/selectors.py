"""Reads of annotation. The annotator's pages come first; admin-side reads may follow below."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Exists, F, Func, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, Now

from annotate.models import Assignment, Comparison, Judgment, Track, TrackItem, TrackSeat
from annotate.services import WATCH_TOLERANCE
from generation.models import Reference, Video

# --- the annotator's side -----------------------------------------------------------------------


def _per_row(queryset: QuerySet, function: str, field: str = "pk") -> Coalesce:
    # A correlated COUNT/SUM per track: joining items and judgments in one query would multiply rows.
    aggregate = queryset.order_by().annotate(_value=Func(F(field), function=function)).values("_value")
    return Coalesce(Subquery(aggregate, output_field=IntegerField()), Value(0))


def annotator_tracks(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Track]:
    """The tracks the user is seated on, each annotated with progress in one query.

    ``done_by_me``: my stored votes; ``left_for_me``: comparisons I have not answered that still need
    votes; ``comparison_count`` / ``vote_count``: the track's totals; ``can_undo``: my last vote may be
    taken back.
    """
    items = TrackItem.objects.filter(track=OuterRef("pk"))
    answered_by_me = Assignment.objects.filter(
        item=OuterRef("pk"), rater__user=user, status=Assignment.Status.ANSWERED
    )
    return (
        Track.objects.filter(seats__user=user)
        .annotate(
            comparison_count=_per_row(items, "COUNT"),
            vote_count=_per_row(items, "SUM", "votes"),
            done_by_me=_per_row(Judgment.objects.filter(track=OuterRef("pk"), rater__user=user), "COUNT"),
            left_for_me=_per_row(
                items.filter(votes__lt=OuterRef("votes_needed")).filter(~Exists(answered_by_me)), "COUNT"
            ),
            can_undo=Exists(
                TrackSeat.objects.filter(track=OuterRef("pk"), user=user, undoable__isnull=False)
            ),
        )
        .annotate(
            votes_wanted=F("comparison_count") * F("votes_needed"),
            mine_total=F("done_by_me") + F("left_for_me"),
        )
        .order_by("name")
    )


def annotator_track_progress_get(*, user: AbstractBaseUser | AnonymousUser, track_id: int) -> Track | None:
    """One of the user's tracks with its progress, or None when they are not seated on it."""
    return annotator_tracks(user=user).filter(pk=track_id).first()


def annotator_track_get(*, user: AbstractBaseUser | AnonymousUser, track_id: int) -> Track | None:
    """One of the user's tracks, without the counts; None when they are not seated on it."""
    return Track.objects.filter(pk=track_id, seats__user=user).first()


def annotator_assignment_get(
    *, user: AbstractBaseUser | AnonymousUser, track_id: int, assignment_id: int
) -> Assignment | None:
    """The user's assignment on a track they are still seated on; anything else is None (a 404)."""
    return Assignment.objects.filter(
        pk=assignment_id, item__track_id=track_id, item__track__seats__user=user, rater__user=user
    ).first()


@dataclass(frozen=True)
class ComparisonPanel:
    """What the comparison panel shows, already cut to the track's mode: nothing more reaches the page."""

    assignment: Assignment
    left: Video
    right: Video
    references: list[Reference]
    prompt_text: str  # empty in identity-fidelity mode: the prompt must not reach that page at all
    fps: float
    watch_needed: float  # the fraction of each video the server will require, tolerance included
    watched_left: float
    watched_right: float

    @property
    def locked(self) -> bool:
        """Whether the vote buttons start disabled: the server would refuse a vote right now."""
        return self.watch_needed > 0 and min(self.watched_left, self.watched_right) < self.watch_needed


def comparison_panel_get(*, track: Track, assignment: Assignment) -> ComparisonPanel:
    comparison = Comparison.objects.select_related("video_a", "video_b", "prompt").get(
        pk=assignment.item.comparison_id
    )
    left_is_a = assignment.shown_left == "A"
    left, right = (comparison.video_a, comparison.video_b)
    if not left_is_a:
        left, right = right, left
    # Reference ordering puts the primary first, so the controllability mode simply takes one.
    references = Reference.objects.filter(identity_id=comparison.identity_id)
    identity_mode = track.kind == Track.Kind.IDENTITY_FIDELITY
    return ComparisonPanel(
        assignment=assignment,
        left=left,
        right=right,
        references=list(references if identity_mode else references[:1]),
        prompt_text="" if identity_mode else comparison.prompt.shown_text,
        fps=max(left.fps, right.fps),
        watch_needed=track.min_watch_fraction * WATCH_TOLERANCE,
        watched_left=assignment.watched_a if left_is_a else assignment.watched_b,
        watched_right=assignment.watched_b if left_is_a else assignment.watched_a,
    )


# --- the study admin's side ---------------------------------------------------------------------


def _with_track_progress(tracks: QuerySet[Track]) -> QuerySet[Track]:
    """``items_total`` comparisons, ``items_complete`` with their needed votes, ``votes_stored``,
    ``votes_total`` (comparisons × votes needed) and ``annotator_count``: one query for any number of
    tracks."""
    items = TrackItem.objects.filter(track=OuterRef("pk"))
    return tracks.annotate(
        items_total=_per_row(items, "COUNT"),
        items_complete=_per_row(items.filter(votes__gte=OuterRef("votes_needed")), "COUNT"),
        votes_stored=_per_row(items, "SUM", "votes"),
        annotator_count=_per_row(TrackSeat.objects.filter(track=OuterRef("pk")), "COUNT"),
    ).annotate(votes_total=F("items_total") * F("votes_needed"))


def track_progress_list() -> QuerySet[Track]:
    return _with_track_progress(Track.objects.order_by("name"))


def track_progress_get(*, track_id: int) -> Track | None:
    return _with_track_progress(Track.objects.filter(pk=track_id)).first()


def track_annotator_progress(*, track: Track) -> list[AbstractBaseUser]:
    """Everyone seated on the track or with votes on it (former annotators too), seated first."""
    user_model = get_user_model()
    own_judgments = Judgment.objects.filter(track=track, rater__user=OuterRef("pk"))
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
    return list(users.order_by("-seated", user_model.USERNAME_FIELD))
