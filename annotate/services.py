"""Writes of annotation: building comparisons and tracks, seating annotators, pausing tracks, and gold
comparisons (``annotate.gold``: known answers marked by an admin or made by the platform).

The annotator's work (handing out comparisons, votes, undo, watch reports) is the vote path, in
``annotate.vote_path``."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import F, QuerySet

from annotate.adaptive import VotePlan
from annotate.errors import TrackSetupError
from annotate.gold import make_gold_pairs as make_gold_pairs
from annotate.gold import mark_gold as mark_gold
from annotate.models import QUALITY_RATE_MAX, Comparison, Rater, Track, TrackItem, TrackSeat
from generation.models import Identity, Method, Prompt, Video

# --- comparisons and tracks ---------------------------------------------------------------------


def comparisons_build(*, videos: Iterable[Video]) -> list[Comparison]:
    """Every unordered pair of videos that share identity and prompt, each pair once (idempotent)."""
    by_case: dict[tuple[int, int], list[Video]] = {}
    for video in videos:
        if video.is_gold_stimulus:
            continue  # made for gold comparisons only, never a method's entry in a real one
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
    """Create a track over the catalog slice and build its comparisons. ``plan``: fixed votes per
    comparison (by default ``votes_needed`` of them) or adaptive ones (annotate/adaptive.py)."""
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
    videos = list(
        Video.objects.of_methods().filter(
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
        votes_needed=plan.fixed_votes,
        vote_mode=plan.mode,
        min_votes=plan.min_votes,
        max_votes=plan.max_votes,
        stopping_rule=plan.rule,
        error_target=plan.error_target,
        decision_margin=plan.margin,
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
    TrackItem.objects.bulk_create([TrackItem(track=track, comparison=c, needed=needed) for c in comparisons])
    track_annotators_set(track=track, users=annotators)
    return track


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
    track_seats_remove(seats=TrackSeat.objects.filter(track=track).exclude(user_id__in=wanted))
    track_seats_add(track=track, user_ids=wanted)


@transaction.atomic
def track_seats_remove(*, seats: QuerySet[TrackSeat]) -> None:
    """Unseat: the votes given stay. Seat rows locked in id order, as votes take them: an unseating never
    deadlocks with a vote."""
    leaving = list(seats.select_for_update().order_by("pk").values_list("pk", flat=True))
    TrackSeat.objects.filter(pk__in=leaving).delete()


@transaction.atomic
def track_seats_add(*, track: Track, user_ids: Iterable[int]) -> None:
    """Seat these people on the track; those seated already keep their seats as they are."""
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
    same_cases = [
        v for v in Video.objects.of_methods().filter(pk__in=in_track) if (v.identity_id, v.prompt_id) in cases
    ]
    comparisons = comparisons_build(videos=[*same_cases, *new])
    before = TrackItem.objects.filter(track=track).count()
    TrackItem.objects.bulk_create(
        [
            TrackItem(track=track, comparison=comparison, needed=track.first_needed)
            for comparison in comparisons
        ],
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
