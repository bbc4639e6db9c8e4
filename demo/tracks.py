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
from annotate.models import Assignment, Side, Track
from generation.models import Identity, Method, Prompt, Video
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
}

SIM_USERNAME = "sim-annotator-{}"

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


def _seat(track: Track, users: Iterable[User]) -> None:
    # track_annotators_set replaces the team; adding must keep whoever is already seated.
    services.track_annotators_set(track=track, users=[*track.annotators.all(), *users])


def _sim_users(count: int) -> list[User]:
    user_model = get_user_model()
    group, _ = Group.objects.get_or_create(name=ANNOTATORS_GROUP)
    users: list[User] = []
    for number in range(1, count + 1):
        user, made = user_model.objects.get_or_create(username=SIM_USERNAME.format(number))
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
    *, track: Track, assignment: Assignment, strength: dict[int, float], rng: random.Random
) -> str:
    comparison = assignment.item.comparison
    roll = rng.random()
    if track.allow_tie and roll < _TIE_RATE:
        return "tie"
    if track.allow_both_bad and roll > 1 - _BOTH_BAD_RATE:
        return "both_bad"
    a, b = strength[comparison.video_a_id], strength[comparison.video_b_id]
    winner = Side.A if rng.random() < a / (a + b) else Side.B
    return "left" if winner == assignment.shown_left else "right"


def simulate_votes(
    *, tracks: Sequence[Track], raters: int, seed: int, votes_per_comparison: int | None = None
) -> int:
    """Simulated annotators ``sim-annotator-1..raters`` vote on the tracks; returns the votes stored.

    Choices follow each method's strength ("ours" beats a baseline about 70% of the time), and the
    same seed gives the same choices. By default the simulation fills each comparison to one vote short
    of ``votes_needed``, so a person trying the demo still finds work on every comparison.

    The clock is simulated: each annotator works through a plausible timeline (watch both videos,
    think, click) that ends about now, so leases and the watch rule are checked as in real use.
    """
    rng = random.Random(seed)
    users = _sim_users(raters)
    created = 0
    for track in tracks:
        _seat(track, users)
        target = votes_per_comparison or max(track.votes_needed - 1, 1)
        created += _simulate_track(track=track, users=users, target=target, rng=rng)
    return created


def _simulate_track(*, track: Track, users: Sequence[User], target: int, rng: random.Random) -> int:
    strength, duration = _strengths(track)
    stored = track.items.aggregate(n=Sum("votes"))["n"] or 0
    budget = max(track.items.count() * min(target, track.votes_needed) - stored, 0)
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
            longest = max(duration[comparison.video_a_id], duration[comparison.video_b_id])
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
            side_choice = _side_choice(track=track, assignment=assignment, strength=strength, rng=rng)
            result = vote_path.judgment_submit(
                assignment_id=assignment.pk,
                user=user,
                side_choice=side_choice,
                response_ms=int((voted_at - assignment.issued_at).total_seconds() * 1000),
                now=voted_at,
            )
            created += result.created
            clocks[user.pk] = voted_at + timedelta(seconds=rng.uniform(0.5, 3.0))
    return created
