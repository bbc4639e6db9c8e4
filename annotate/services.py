"""Writes of annotation: building comparisons and tracks, seating annotators, pausing tracks, and gold
comparisons (``annotate.gold``: known answers marked by an admin or made by the platform).

The annotator's work (handing out comparisons, votes, undo, watch reports) is the vote path, in
``annotate.vote_path``."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import F, QuerySet

from annotate.adaptive import VotePlan
from annotate.errors import TrackSetupError
from annotate.gold import make_gold_pairs as make_gold_pairs
from annotate.gold import mark_gold as mark_gold
from annotate.models import (
    NARRATIVE_KINDS,
    QUALITY_RATE_MAX,
    AnnotatorSettings,
    Comparison,
    Rater,
    Track,
    TrackItem,
    TrackSeat,
)
from generation.models import Identity, Method, Prompt, StoryRendering, Video
from generation.selectors import video_set_shape_warnings

# Two-key advisory locks of "one track's setup" (its rules, its team, its comparisons): setup writes
# wait for each other, never for votes.
_TRACK_SETUP_LOCK_CLASS = 0x7AC5


def track_setup_lock(*, track_id: int) -> None:
    """Serialise the writes that change a track's setup until the transaction ends."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, %s)", [_TRACK_SETUP_LOCK_CLASS, track_id & 0x7FFFFFFF]
        )


# --- comparisons and tracks ---------------------------------------------------------------------


def _pairs(videos: Iterable[Video], *, same_method: bool = True) -> list[tuple[Video, Video]]:
    """Every unordered pair of videos that share identity and prompt, in canonical order; without
    ``same_method``, none of one method with itself (videos that differ only by seed). Videos of story
    renderings (shots and joined files) are never paired here: narrative comparisons are
    ``narrative_pairs``'."""
    by_case: dict[tuple[int, int], list[Video]] = {}
    for video in videos:
        if video.is_gold_stimulus:
            continue  # made for gold comparisons only, never a method's entry in a real one
        if video.rendering_id is not None:
            continue  # a shot or a joined file of a story: a clip track never compares it
        by_case.setdefault((video.identity_id, video.prompt_id), []).append(video)
    return [
        (first, second)
        for case_videos in by_case.values()
        for first, second in itertools.combinations(sorted(case_videos, key=lambda v: v.pk), 2)
        if same_method or first.method_id != second.method_id
    ]


def narrative_pairs(*, renderings: Iterable[StoryRendering]) -> list[tuple[Video, Video]]:
    """The joined files of two renderings of the same story by different methods, in canonical order:
    for two methods that rendered the story with a seed in common, only the renderings of equal seeds
    are paired; for two that share no seed, every rendering of one with every rendering of the other.
    A rendering without its joined file is left out (a shot video alone is never compared)."""
    by_story: dict[int, dict[int, list[tuple[StoryRendering, Video]]]] = {}
    for rendering in renderings:
        joined = next((v for v in rendering.videos.all() if v.shot is None), None)
        if joined is not None:
            by_story.setdefault(rendering.story_id, {}).setdefault(rendering.method_id, []).append(
                (rendering, joined)
            )
    pairs = []
    for by_method in by_story.values():
        for first, second in itertools.combinations(sorted(by_method), 2):
            shared = {r.seed for r, _ in by_method[first]} & {r.seed for r, _ in by_method[second]}
            for (r1, v1), (r2, v2) in itertools.product(by_method[first], by_method[second]):
                if not shared or (r1.seed == r2.seed):
                    pairs.append((v1, v2) if v1.pk < v2.pk else (v2, v1))
    return sorted(pairs, key=lambda pair: (pair[0].pk, pair[1].pk))


def _slice_renderings(*, identities: Iterable[Identity], methods: Iterable[Method]) -> list[StoryRendering]:
    return list(
        StoryRendering.objects.filter(story__identity__in=list(identities), method__in=list(methods))
        .prefetch_related("videos")
        .order_by("pk")
    )


# Rows per INSERT of a bulk create: PostgreSQL's protocol takes at most 65,535 parameters a statement, and a
# model's fields with defaults each send one (a 10,000-comparison track is past it in one statement).
BULK_BATCH = 2000


def comparisons_build(*, videos: Iterable[Video], same_method: bool = True) -> list[Comparison]:
    """Every unordered pair of videos that share identity and prompt, each pair once (idempotent);
    without ``same_method``, none of one method's videos with each other."""
    return comparisons_of_pairs(pairs=_pairs(videos, same_method=same_method))


def comparisons_of_pairs(*, pairs: Iterable[tuple[Video, Video]]) -> list[Comparison]:
    """The comparisons of these pairs of videos of one case, made where missing (idempotent)."""
    wanted = [(a, b) if a.pk < b.pk else (b, a) for a, b in pairs]  # the canonical order of _pairs
    Comparison.objects.bulk_create(
        [
            Comparison(video_a=a, video_b=b, identity_id=a.identity_id, prompt_id=a.prompt_id)
            for a, b in wanted
        ],
        ignore_conflicts=True,  # pairs that already exist are reused, not duplicated
        batch_size=BULK_BATCH,
    )
    keys = {(a.pk, b.pk) for a, b in wanted}
    existing = Comparison.objects.filter(video_a__in={a for a, _ in keys}, video_b__in={b for _, b in keys})
    return [c for c in existing if (c.video_a_id, c.video_b_id) in keys]


@transaction.atomic
def track_create(
    *,
    name: str,
    kind: str,
    identities: Iterable[Identity],
    prompts: Iterable[Prompt],
    methods: Iterable[Method],
    annotators: Iterable[User] = (),
    votes_needed: int = 3,
    allow_tie: bool = False,
    allow_both_bad: bool = False,
    min_watch_fraction: float = 1.0,
    lease_seconds: int = 600,
    instructions: str = "",
    gold_rate: float = 0.05,
    repeat_rate: float = 0.05,
    plan: VotePlan | None = None,
    weight_by_reliability: bool = False,
) -> Track:
    """Create a track over the catalog slice and build its comparisons. A clip track pairs videos of one
    identity and prompt; a narrative track (``Track.is_narrative``) pairs the joined files of renderings
    of the chosen identities' stories by the chosen methods (``narrative_pairs``; ``prompts`` unused) and
    is refused when there is no rendering. ``plan``: fixed votes per comparison (by default
    ``votes_needed`` of them) or adaptive ones (annotate/adaptive.py)."""
    _rates_checked(gold_rate=gold_rate, repeat_rate=repeat_rate)
    plan = plan or VotePlan(fixed_votes=votes_needed)
    problems = plan.problems()
    if problems:
        raise TrackSetupError(" ".join(problems))
    if not 0.0 <= min_watch_fraction <= 1.0:
        # The server records at most one full play of each video: a larger rule could never be met.
        raise TrackSetupError(
            "The watch rule is a fraction of each video, from 0 (no rule) to 1 (all of it)."
        )
    if kind in NARRATIVE_KINDS:
        comparisons = comparisons_of_pairs(
            pairs=_narrative_pairs_checked(identities=identities, methods=methods)
        )
    else:
        videos = _slice_videos(identities=identities, prompts=prompts, methods=methods)
        comparisons = comparisons_build(videos=videos)
    if not comparisons:
        raise TrackSetupError(
            "These identities, prompts and methods give no comparison: a comparison needs two videos "
            "of the same identity and prompt."
        )
    track = Track.objects.create(
        name=name,
        kind=kind,
        **Track.plan_fields(plan),
        weight_by_reliability=weight_by_reliability,
        allow_tie=allow_tie,
        allow_both_bad=allow_both_bad,
        min_watch_fraction=min_watch_fraction,
        lease_seconds=lease_seconds,
        instructions=instructions,
        items_total=len(comparisons),
        gold_rate=gold_rate,
        repeat_rate=repeat_rate,
    )
    needed = track.first_needed
    TrackItem.objects.bulk_create(
        [TrackItem(track=track, comparison=c, needed=needed) for c in comparisons], batch_size=BULK_BATCH
    )
    track_annotators_set(track=track, users=annotators)
    return track


def _slice_videos(
    *, identities: Iterable[Identity], prompts: Iterable[Prompt], methods: Iterable[Method]
) -> list[Video]:
    return list(
        Video.objects.of_methods().filter(
            identity__in=list(identities), prompt__in=list(prompts), method__in=list(methods)
        )
    )


def _narrative_pairs_checked(
    *, identities: Iterable[Identity], methods: Iterable[Method]
) -> list[tuple[Video, Video]]:
    renderings = _slice_renderings(identities=identities, methods=methods)
    if not renderings:
        raise TrackSetupError(
            "No story of these identities has a rendering by these methods: a narrative track compares "
            "renderings of stories. Render the stories first (a generation job), then create the track."
        )
    pairs = narrative_pairs(renderings=renderings)
    if not pairs:
        raise TrackSetupError(
            "These identities and methods give no narrative comparison: a narrative comparison needs two "
            "renderings of the same story by different methods, each with its joined file."
        )
    return pairs


def track_comparisons_count(
    *,
    identities: Iterable[Identity],
    prompts: Iterable[Prompt],
    methods: Iterable[Method],
    kind: str = "",
) -> int:
    """How many comparisons ``track_create`` would build over this catalog slice for a track of this
    kind, building none: the same videos and the same pairing, counted."""
    if kind in NARRATIVE_KINDS:
        return len(narrative_pairs(renderings=_slice_renderings(identities=identities, methods=methods)))
    return len(_pairs(_slice_videos(identities=identities, prompts=prompts, methods=methods)))


def _rates_checked(*, gold_rate: float, repeat_rate: float) -> None:
    most = QUALITY_RATE_MAX
    for what, rate in (("Gold", gold_rate), ("Repeat", repeat_rate)):
        if not 0.0 <= rate <= most:
            raise TrackSetupError(f"{what} rate must be between 0 and {most:.0%}; {rate:.0%} was given.")


def track_checks_set(*, track: Track, gold_rate: float, repeat_rate: float) -> None:
    """Set the shares of handouts that are gold comparisons and repeats (fractions, 0 to 0.5). The
    next handouts draw with them; nothing handed out already changes."""
    _rates_checked(gold_rate=gold_rate, repeat_rate=repeat_rate)
    track.gold_rate, track.repeat_rate = gold_rate, repeat_rate
    track.save(update_fields=["gold_rate", "repeat_rate"])


# A seat's counters from the rows, for seats created for people who may have voted on the track before
# (unseated, then seated again). The migration that added the counters backfilled them the same way.
_SEAT_COUNTERS_SQL = """
UPDATE annotate_trackseat AS s SET
    votes_given = (
        SELECT count(*) FROM annotate_judgment AS j
        WHERE j.track_id = s.track_id AND j.rater_id = s.rater_id AND NOT j.is_gold AND NOT j.is_repeat
    ),
    votes_on_open = (
        SELECT count(*) FROM annotate_assignment AS a
        JOIN annotate_trackitem AS i ON i.id = a.item_id
        WHERE i.track_id = s.track_id AND a.rater_id = s.rater_id AND a.status = 'answered'
          AND a.purpose = 'vote' AND i.status = 'open'
    ),
    checks_given = (
        SELECT count(*) FROM annotate_judgment AS j
        WHERE j.track_id = s.track_id AND j.rater_id = s.rater_id AND (j.is_gold OR j.is_repeat)
    )
WHERE s.track_id = %(track)s AND s.user_id = ANY(%(users)s)
"""


@transaction.atomic
def track_annotators_set(*, track: Track, users: Iterable[User]) -> None:
    wanted = {user.pk for user in users}
    track_setup_lock(track_id=track.pk)  # a change of the rules sees the team it locked
    track_seats_remove(seats=TrackSeat.objects.filter(track=track).exclude(user_id__in=wanted))
    track_seats_add(track=track, user_ids=wanted)


@transaction.atomic
def track_seats_remove(*, seats: QuerySet[TrackSeat]) -> None:
    """Unseat: the votes given stay. Each track's setup lock first (an edit of its rules sees the team it
    locked), then the seat rows in id order, as votes take them: an unseating never deadlocks with a vote."""
    for track_id in sorted(set(seats.values_list("track_id", flat=True))):
        track_setup_lock(track_id=track_id)
    leaving = list(seats.select_for_update().order_by("pk").values_list("pk", flat=True))
    TrackSeat.objects.filter(pk__in=leaving).delete()


@transaction.atomic
def track_seats_add(*, track: Track, user_ids: Iterable[int]) -> None:
    """Seat these people on the track; those seated already keep their seats as they are."""
    track_setup_lock(track_id=track.pk)
    arriving = set(user_ids) - set(TrackSeat.objects.filter(track=track).values_list("user_id", flat=True))
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


def _extension(*, track: Track, videos: Iterable[Video]) -> tuple[list[Video], set[tuple[int, int]]]:
    """The videos to pair when ``videos`` join the track (they and the track's videos of their cases),
    and the pairs the track has already."""
    new = list(videos)
    cases = {(video.identity_id, video.prompt_id) for video in new}
    pairs = set(
        TrackItem.objects.filter(track=track).values_list("comparison__video_a_id", "comparison__video_b_id")
    )
    in_track = {video_id for pair in pairs for video_id in pair}
    same_cases = [
        v for v in Video.objects.of_methods().filter(pk__in=in_track) if (v.identity_id, v.prompt_id) in cases
    ]
    # A chosen video already in the track is one video, not two.
    return list({video.pk: video for video in [*same_cases, *new]}.values()), pairs


@dataclass(frozen=True)
class ExtendPreview:
    """What adding videos to a track would do: ``comparisons`` it would gain; ``same_method`` of them
    pairs of one method's videos that differ only by seed (gained only if wanted); ``shape_warnings``:
    how the new videos differ from the track's in what a rater sees."""

    comparisons: int
    same_method: int
    shape_warnings: list[str]


def track_extend_preview(*, track: Track, videos: QuerySet[Video], same_method_pairs: bool) -> ExtendPreview:
    """``track_extend``'s outcome, counted the same way, written nowhere."""
    paired, existing = _extension(track=track, videos=videos)
    every = {(a.pk, b.pk) for a, b in _pairs(paired)} - existing
    across = {(a.pk, b.pk) for a, b in _pairs(paired, same_method=False)} - existing
    track_videos = Video.objects.filter(pk__in={video_id for pair in existing for video_id in pair})
    return ExtendPreview(
        comparisons=len(every if same_method_pairs else across),
        same_method=len(every - across),
        shape_warnings=video_set_shape_warnings(
            videos=videos.exclude(pk__in=track_videos.values("pk")),
            reference=track_videos,
            what="The new videos",
        ),
    )


@transaction.atomic
def track_extend(
    *,
    track: Track,
    videos: Iterable[Video],
    same_method_pairs: bool = True,
    pairs: Iterable[tuple[Video, Video]] = (),
) -> int:
    """Add comparisons of ``videos`` with each other and with the track's videos of the same identity and
    prompt, and those of ``pairs`` (e.g. a rematch's new video against the old method's of the same seed,
    whether or not that one is in the track); return how many comparisons the track gained. Running it
    again adds nothing. Without ``same_method_pairs``, one method's videos are never paired with each other
    (they would differ only by seed)."""
    new, extra = list(videos), list(pairs)
    if not new and not extra:
        return 0
    track_setup_lock(track_id=track.pk)
    track.refresh_from_db()  # the votes per comparison as they are now, not as the caller read them
    paired, _ = _extension(track=track, videos=new)
    comparisons = comparisons_build(videos=paired, same_method=same_method_pairs)
    comparisons += comparisons_of_pairs(pairs=extra)
    before = TrackItem.objects.filter(track=track).count()
    TrackItem.objects.bulk_create(
        [
            TrackItem(track=track, comparison=comparison, needed=track.first_needed)
            for comparison in comparisons
        ],
        batch_size=BULK_BATCH,
        ignore_conflicts=True,
    )
    added = TrackItem.objects.filter(track=track).count() - before
    track_items_added(track=track, count=added)
    return added


def rater_for_user(user: User) -> Rater:
    rater, _ = Rater.objects.get_or_create(user=user, defaults={"kind": Rater.Kind.ANNOTATOR})
    return rater


def raters_for_users(*, user_ids: Iterable[int]) -> dict[int, int]:
    """Rater ids by user id, creating the annotators' raters that do not exist yet."""
    wanted = set(user_ids)
    Rater.objects.bulk_create(
        [Rater(kind=Rater.Kind.ANNOTATOR, user_id=pk) for pk in wanted], ignore_conflicts=True
    )
    return dict(Rater.objects.filter(user_id__in=wanted).values_list("user_id", "pk"))


# --- the annotator's own settings -----------------------------------------------------------------


def annotator_settings_set(*, user: User, autoplay_next: bool) -> AnnotatorSettings:
    settings, _ = AnnotatorSettings.objects.update_or_create(
        user=user, defaults={"autoplay_next": autoplay_next}
    )
    return settings
