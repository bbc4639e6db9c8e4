"""Demo tracks over the demo world, and simulated annotators whose votes make the statistics meaningful.

Both go through the real services (``track_create``, ``assignment_next_for``,
``assignment_watch_record``, ``judgment_submit``), so a demo exercises the same rules as production.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, User
from django.db.models import Avg, Sum
from django.utils import timezone

from annotate import services, vote_path
from annotate.gold import make_gold_pairs
from annotate.models import NARRATIVE_KINDS, Assignment, GoldAnswer, Side, Track
from generation.models import Identity, Method, Prompt, StoryRendering, Video
from lib.roles import ANNOTATORS_GROUP

DEMO_TRACKS: dict[str, tuple[str, str]] = {
    Track.Kind.IDENTITY_FIDELITY: (
        "Demo: identity fidelity",
        "Look at every reference of the person: the face crops, the portraits and the clip. Then watch "
        "both videos to the end. Choose the video in which the person looks more like the references, "
        "across all frames: face shape, eyes, nose, skin, marks such as freckles or a mole. Ignore the "
        "background, the clothing and the video quality.",
    ),
    Track.Kind.PROMPT_CONTROLLABILITY: (
        "Demo: prompt controllability",
        "Read the prompt: it names only what must change. Everything it does not mention (for example "
        "the hair or the clothing) must stay as in the reference picture. Watch both videos to the end "
        "and choose the one that makes the asked changes best while keeping the rest.",
    ),
    # A narrative track compares two renderings of one story (made only once the stories are rendered).
    Track.Kind.IDENTITY_CONSISTENCY: (
        "Demo: narrative, identity across shots",
        "Each side tells the same short story in three shots, played shot by shot together. Look at the "
        "references from every side (front, side, back). Choose the side on which the person stays the "
        "same in every shot, face and body, and matches the references from every viewpoint.",
    ),
}

SIM_USERNAME = "sim-annotator-{}"
# Careless simulated annotators, by how they click: always the left video, or either at random.
CARELESS_USERNAME = "sim-careless-{}"
CARELESS_STYLES = ("left", "random")
# How often a careful simulated annotator chooses the better video (or a gold pair's right one).
CAREFUL_ACCURACY = 0.8
# Gold comparisons the platform makes per demo track, from the catalog (see annotate.gold).
DEMO_GOLD_PAIRS = 12

# Bradley–Terry strengths: 7/3 against 1 makes "ours" win 70% of its matchups against a baseline.
_ROLE_STRENGTH: dict[str, float] = {Method.Role.OURS: 7 / 3, Method.Role.BASELINE: 1.0}
# Simulated annotators sometimes answer tie / both bad where the track allows it.
_TIE_RATE = 0.06
_BOTH_BAD_RATE = 0.04


def seed_demo_tracks(*, annotator_usernames: list[str]) -> list[Track]:
    """One track of each kind over the whole catalog, with these annotators seated (idempotent by name).

    A track that already exists keeps its comparisons and votes; the annotators are added to its team.
    """
    users = list(get_user_model().objects.filter(username__in=annotator_usernames))
    missing = set(annotator_usernames) - {user.get_username() for user in users}
    if missing:
        raise ValueError(f"No such users to seat on the demo tracks: {', '.join(sorted(missing))}")
    tracks = []
    for kind, (name, instructions) in DEMO_TRACKS.items():
        if kind in NARRATIVE_KINDS and not StoryRendering.objects.exists():
            continue  # no story rendered (yet): no narrative track
        track = Track.objects.filter(name=name).first()
        if track is None:
            track = services.track_create(
                name=name,
                kind=kind,
                identities=Identity.objects.all(),
                prompts=Prompt.objects.all(),
                methods=Method.objects.all(),
                annotators=users,
                votes_needed=3,
                instructions=instructions,
            )
        else:
            _seat(track, users)
        tracks.append(track)
    return tracks


def seed_demo_gold(*, tracks: Sequence[Track], seed: int = 0) -> int:
    """Gold comparisons for each demo track's criterion, made from the catalog; returns how many the
    tracks have (idempotent: a second run makes nothing new). Tracks hand them out at their gold rate."""
    # Gold pairs are clips of a criterion made from the catalog: narrative tracks have none.
    clip_tracks = [track for track in tracks if not track.is_narrative]
    return sum(len(make_gold_pairs(track=track, limit=DEMO_GOLD_PAIRS, seed=seed)) for track in clip_tracks)


def _seat(track: Track, users: Iterable[User]) -> None:
    # track_annotators_set replaces the team; adding must keep whoever is already seated.
    services.track_annotators_set(track=track, users=[*track.annotators.all(), *users])


def _sim_users(names: Iterable[str]) -> list[User]:
    user_model = get_user_model()
    group, _ = Group.objects.get_or_create(name=ANNOTATORS_GROUP)
    users: list[User] = []
    for name in names:
        user, made = user_model.objects.get_or_create(username=name)
        if made:
            user.set_unusable_password()  # nobody signs in as a simulation
            user.save(update_fields=["password"])
            user.groups.add(group)
        users.append(user)
    return users


def _strengths(track: Track) -> tuple[dict[int, float], dict[int, float]]:
    """Per video of the track: its method's strength, and its duration in seconds."""
    strength_of_method = {
        method.pk: _ROLE_STRENGTH.get(method.role, 1.0)
        # Baselines differ a little from one another, stably, so rankings below "ours" are not a coin.
        * (1.0 if method.role == Method.Role.OURS else 0.85 + (zlib.crc32(method.name.encode()) % 31) / 100)
        for method in Method.objects.all()
    }
    videos = Video.objects.filter(pk__in=track.items.values("comparison__video_a")) | Video.objects.filter(
        pk__in=track.items.values("comparison__video_b")
    )
    strength, duration = {}, {}
    for pk, method_id, seconds in videos.values_list("pk", "method_id", "duration"):
        strength[pk] = strength_of_method[method_id]
        duration[pk] = seconds
    return strength, duration


def _side_choice(
    *,
    track: Track,
    assignment: Assignment,
    strength: dict[int, float],
    gold: dict[int, str],
    style: str,
    rng: random.Random,
) -> str:
    """A simulated annotator's click. Careful ones (``style`` "careful") choose the truth with
    probability CAREFUL_ACCURACY: a gold comparison's known answer, else the video of the stronger
    method, a latent quality fixed per video so that careful annotators agree with one another."""
    if style == "left":
        return "left"
    if style == "random":
        return rng.choice(("left", "right"))
    comparison = assignment.item.comparison
    roll = rng.random()
    if track.allow_tie and roll < _TIE_RATE:
        return "tie"
    if track.allow_both_bad and roll > 1 - _BOTH_BAD_RATE:
        return "both_bad"
    truth = gold.get(comparison.pk)
    if truth is None:
        a, b = strength.get(comparison.video_a_id, 1.0), strength.get(comparison.video_b_id, 1.0)
        truth = Side.A if a >= b else Side.B
    other = Side.B if truth == Side.A else Side.A
    chosen = truth if rng.random() < CAREFUL_ACCURACY else other
    return "left" if chosen == assignment.shown_left else "right"


def simulate_votes(
    *,
    tracks: Sequence[Track],
    raters: int,
    seed: int,
    votes_per_comparison: int | None = None,
    careless: Sequence[str] = (),
) -> int:
    """Simulated annotators vote on the tracks; returns the votes of work stored (checks not counted).

    ``sim-annotator-1..raters`` are careful: each chooses the better video with probability 0.8 (the
    stronger method's, so "ours" wins about 80% against a baseline; a gold pair's right video). Each
    style in ``careless`` ("left", "random") adds ``sim-careless-N``, who always clicks Left or clicks
    at random. Gold comparisons and repeats are handed out to all of them at the tracks' rates and
    answered like any other. The same seed gives the same choices. By default the simulation fills each
    comparison to one vote short of ``votes_needed``, so a person trying the demo still finds work on
    every comparison.

    The clock is simulated: each annotator works through a plausible timeline (watch both videos,
    think, click) that ends about now, so leases and the watch rule are checked as in real use.
    """
    unknown = set(careless) - set(CARELESS_STYLES)
    if unknown:
        raise ValueError(f"Unknown careless styles {sorted(unknown)}; expected some of {CARELESS_STYLES}.")
    rng = random.Random(seed)
    users = _sim_users(SIM_USERNAME.format(number) for number in range(1, raters + 1))
    sloppy = _sim_users(CARELESS_USERNAME.format(number) for number in range(1, len(careless) + 1))
    styles = {user.pk: "careful" for user in users} | {
        user.pk: style for user, style in zip(sloppy, careless, strict=True)
    }
    created = 0
    for track in tracks:
        _seat(track, [*users, *sloppy])
        target = votes_per_comparison or max(track.votes_needed - 1, 1)
        created += _simulate_track(
            track=track, users=[*users, *sloppy], styles=styles, target=target, rng=rng
        )
    return created


def _simulate_track(
    *, track: Track, users: Sequence[User], styles: dict[int, str], target: int, rng: random.Random
) -> int:
    strength, duration = _strengths(track)
    gold = dict(GoldAnswer.objects.filter(criterion=track.criterion).values_list("comparison_id", "answer"))
    work = track.items.filter(is_check=False)  # check items take no votes of the dataset
    stored = work.aggregate(n=Sum("votes"))["n"] or 0
    budget = max(work.count() * min(target, track.votes_needed) - stored, 0)
    watch = max(track.min_watch_fraction, 0.0)
    mean_duration = Video.objects.filter(pk__in=strength).aggregate(d=Avg("duration"))["d"] or 0.0
    # Seconds per vote on average (watch, think, move on): the timelines start so that they end now.
    step = mean_duration * watch + 3.5 + 2.5 + 1.75
    start = timezone.now() - timedelta(seconds=step * (budget / max(len(users), 1) + 1))
    clocks: dict[int, datetime] = {user.pk: start + timedelta(seconds=rng.uniform(0, step)) for user in users}
    active = list(users)
    created = 0
    while active and created < budget:
        for user in list(active):
            if created >= budget:
                break
            assignment = vote_path.assignment_next_for(track=track, user=user, now=clocks[user.pk])
            if assignment is None:
                active.remove(user)  # this annotator has judged everything still open
                continue
            comparison = assignment.item.comparison
            longest = max(
                duration.get(comparison.video_a_id) or comparison.video_a.duration,
                duration.get(comparison.video_b_id) or comparison.video_b.duration,
            )
            watched_at = assignment.issued_at + timedelta(seconds=longest * watch + rng.uniform(1.0, 6.0))
            if watch > 0:
                vote_path.assignment_watch_record(
                    assignment_id=assignment.pk,
                    user=user,
                    # The server caps a report at one full play; asking for more is what a player does.
                    watched_a=max(watch, 1.0),
                    watched_b=max(watch, 1.0),
                    now=watched_at,
                )
            voted_at = watched_at + timedelta(seconds=rng.uniform(1.0, 4.0))
            side_choice = _side_choice(
                track=track,
                assignment=assignment,
                strength=strength,
                gold=gold,
                style=styles[user.pk],
                rng=rng,
            )
            result = vote_path.judgment_submit(
                assignment_id=assignment.pk,
                user=user,
                side_choice=side_choice,
                response_ms=int((voted_at - assignment.issued_at).total_seconds() * 1000),
                now=voted_at,
            )
            # Checks (gold, repeats) are answered like work but fill no comparison.
            created += result.created and assignment.purpose == Assignment.Purpose.VOTE
            clocks[user.pk] = voted_at + timedelta(seconds=rng.uniform(0.5, 3.0))
    return created
