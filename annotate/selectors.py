"""Reads of annotation. The annotator's pages come first; admin-side reads may follow below."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection
from django.db.models import (
    BooleanField,
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
from django.db.models.functions import Coalesce, Now

from annotate.models import Assignment, Judgment, Track, TrackSeat
from generation.models import Prompt, Reference
from lib.routing import routes

# --- the annotator's side -----------------------------------------------------------------------


def _per_row(queryset: QuerySet, function: str, field: str = "pk") -> Coalesce:
    # A correlated COUNT/SUM per row: joining the counted rows in one query would multiply rows.
    aggregate = queryset.order_by().annotate(_value=Func(F(field), function=function)).values("_value")
    return Coalesce(Subquery(aggregate, output_field=IntegerField()), Value(0))


def annotator_tracks(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Track]:
    """The tracks the user is seated on, each annotated with progress from the counters (one query,
    nothing counted over items or judgments).

    ``done_by_me``: my stored votes; ``left_for_me``: comparisons I have not answered that still need
    votes; ``mine_total``: the two together; ``can_undo``: my last vote may be taken back. The track's
    own totals are its fields ``items_total`` and ``votes_stored``, and ``votes_total``.
    """
    if not user.is_authenticated:
        return Track.objects.none()
    return (
        Track.objects.annotate(my_seat=FilteredRelation("seats", condition=Q(seats__user=user)))
        .filter(my_seat__isnull=False)
        .annotate(
            done_by_me=F("my_seat__votes_given"),
            left_for_me=F("items_total") - F("items_complete") - F("my_seat__votes_on_open"),
            can_undo=ExpressionWrapper(Q(my_seat__undoable__isnull=False), output_field=BooleanField()),
        )
        .annotate(mine_total=F("done_by_me") + F("left_for_me"))
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
class PanelMedia:
    """A video or reference as the panel shows it: URLs of opaque names, nothing that identifies it."""

    url: str
    poster_url: str
    is_video: bool = True
    width: int = 0
    height: int = 0


@dataclass(frozen=True)
class ComparisonPanel:
    """What the comparison panel shows, already cut to the track's mode: nothing more reaches the page."""

    assignment: Assignment
    left: PanelMedia
    right: PanelMedia
    references: list[PanelMedia]
    prompt_text: str  # empty in identity-fidelity mode: the prompt must not reach that page at all
    fps: float
    watch_needed: float  # the fraction of each video the server will require, tolerance included
    watched_left: float
    watched_right: float
    vote_url: str
    watch_url: str

    @property
    def locked(self) -> bool:
        """Whether the vote buttons start disabled: the server would refuse a vote right now."""
        return self.watch_needed > 0 and min(self.watched_left, self.watched_right) < self.watch_needed


# What a comparison's panel shows, for a comparison aliased ``c``: the two videos, the prompt and every
# reference of the identity (primary first, as the gallery orders them). The vote's statement selects
# them too (services._VOTE_AND_NEXT_SQL), so the joins are outer: its comparison may be missing.
PANEL_COLUMNS = """
    va.file, va.poster, va.width, va.height, va.fps, vb.file, vb.poster, vb.width, vb.height, vb.fps,
    p.task, p.full_text, p.differential_text,
    (
        SELECT json_agg(json_build_array(r.kind, r.file, r.poster)
                        ORDER BY r.is_primary DESC, r.position, r.id)
        FROM generation_reference AS r WHERE r.identity_id = c.identity_id
    )"""
PANEL_JOINS = """
LEFT JOIN generation_video AS va ON va.id = c.video_a_id
LEFT JOIN generation_video AS vb ON vb.id = c.video_b_id
LEFT JOIN generation_prompt AS p ON p.id = c.prompt_id"""

_PANEL_SQL = f"SELECT {PANEL_COLUMNS} FROM annotate_comparison AS c {PANEL_JOINS} WHERE c.id = %s"


def comparison_panel_get(
    *, track: Track, assignment: Assignment, columns: Sequence[Any] | None = None
) -> ComparisonPanel:
    """The panel of the assignment's comparison; ``columns``: its ``PANEL_COLUMNS``, when the caller's
    statement already fetched them."""
    row = columns
    if row is None:
        with connection.cursor() as cursor:
            cursor.execute(_PANEL_SQL, [assignment.item.comparison_id])
            row = cursor.fetchone()
    url = routes()  # a dozen URLs: the request's script prefix is read once

    def _media_url(name: str) -> str:
        return url("media", name) if name else ""

    a_file, a_poster, a_width, a_height, a_fps, b_file, b_poster, b_width, b_height, b_fps = row[:10]
    task, full_text, differential_text, references = row[10:]
    video_a = PanelMedia(
        url=_media_url(a_file), poster_url=_media_url(a_poster), width=a_width, height=a_height
    )
    video_b = PanelMedia(
        url=_media_url(b_file), poster_url=_media_url(b_poster), width=b_width, height=b_height
    )
    left_is_a = assignment.shown_left == "A"
    left, right = (video_a, video_b) if left_is_a else (video_b, video_a)
    identity_mode = track.kind == Track.Kind.IDENTITY_FIDELITY
    # The controllability mode shows the primary reference only, which the ordering puts first.
    shown = (references or []) if identity_mode else (references or [])[:1]
    prompt_text = ""  # identity mode: the prompt never reaches the page
    if not identity_mode:
        prompt_text = Prompt(task=task, full_text=full_text, differential_text=differential_text).shown_text
    return ComparisonPanel(
        assignment=assignment,
        left=left,
        right=right,
        references=[
            PanelMedia(
                url=_media_url(file), poster_url=_media_url(poster), is_video=kind == Reference.Kind.VIDEO
            )
            for kind, file, poster in shown
        ],
        prompt_text=prompt_text,
        fps=max(a_fps, b_fps),
        watch_needed=track.watch_needed,
        watched_left=assignment.watched_a if left_is_a else assignment.watched_b,
        watched_right=assignment.watched_b if left_is_a else assignment.watched_a,
        vote_url=url("annotate:vote", track.pk, assignment.pk),
        watch_url=url("annotate:watch", track.pk, assignment.pk),
    )


# --- the study admin's side ---------------------------------------------------------------------


def _with_track_progress(tracks: QuerySet[Track]) -> QuerySet[Track]:
    """Progress is on the track's own counters (``items_total``, ``items_complete``, ``votes_stored``,
    ``votes_total``); this adds ``annotator_count``, one query for any number of tracks."""
    return tracks.annotate(annotator_count=_per_row(TrackSeat.objects.filter(track=OuterRef("pk")), "COUNT"))


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


def track_choices() -> list[tuple[int, str]]:
    """The tracks a generation job may extend, as (id, name) for the launch form (generation.signals)."""
    return list(Track.objects.order_by("name").values_list("id", "name"))
