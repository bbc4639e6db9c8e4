from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F

from annotate.models import NARRATIVE_KINDS, Assignment, Judgment, Track, TrackItem
from annotate.vote_path import assignment_next_for
from demo.tracks import DEMO_TRACKS, seed_demo_tracks, simulate_votes
from generation.models import Method, Video
from tests.factories import IdentityFactory, MethodFactory, PromptFactory, make_video

pytestmark = pytest.mark.django_db


def _catalog(*, identities: int, prompts: int) -> None:
    """A tiny demo world: one "ours" and two baselines, one video per method and case."""
    methods = [
        MethodFactory(name="ours", role=Method.Role.OURS),
        MethodFactory(name="baseline-drift"),
        MethodFactory(name="baseline-rigid"),
    ]
    identity_rows = [IdentityFactory() for _ in range(identities)]
    prompt_rows = [PromptFactory() for _ in range(prompts)]
    for identity in identity_rows:
        for prompt in prompt_rows:
            for method in methods:
                make_video(method=method, identity=identity, prompt=prompt, frames=4, size=32)


@pytest.fixture
def small_world() -> None:
    _catalog(identities=2, prompts=2)  # 4 cases × 3 pairs = 12 comparisons per track


def test_it_creates_one_track_of_each_kind_over_the_whole_catalog(small_world, annotator):
    tracks = seed_demo_tracks(annotator_usernames=["annotator-1"])

    # No story is rendered in this catalog: no narrative track.
    assert sorted(track.kind for track in tracks) == sorted(
        k for k in DEMO_TRACKS if k not in NARRATIVE_KINDS
    )
    for track in tracks:
        assert track.items.count() == 12
        assert track.votes_needed == 3
        assert not track.allow_tie and not track.allow_both_bad
        assert track.min_watch_fraction == 1.0
        assert track.instructions
        assert list(track.annotators.all()) == [annotator]


def test_seeding_twice_keeps_the_tracks_and_adds_annotators(small_world, annotator, outsider):
    first = seed_demo_tracks(annotator_usernames=["annotator-1"])
    again = seed_demo_tracks(annotator_usernames=["outsider"])

    assert [track.pk for track in again] == [track.pk for track in first]
    assert Track.objects.count() == 2
    assert TrackItem.objects.count() == 24
    for track in again:
        assert {user.username for user in track.annotators.all()} == {"annotator-1", "outsider"}


def test_an_unknown_annotator_name_is_refused(small_world):
    with pytest.raises(ValueError, match="nobody-here"):
        seed_demo_tracks(annotator_usernames=["nobody-here"])
    assert not Track.objects.exists()


def test_simulated_votes_go_through_the_services_and_leave_work_for_a_person(small_world, annotator):
    tracks = seed_demo_tracks(annotator_usernames=["annotator-1"])

    created = simulate_votes(tracks=tracks, raters=4, seed=7)

    # One vote short of the 3 needed on each of 2 × 12 comparisons (repeats are checks, not votes).
    assert created == Judgment.objects.filter(is_gold=False, is_repeat=False).count() == 2 * 12 * 2
    assert set(TrackItem.objects.values_list("votes", flat=True)) == {2}
    assert not TrackItem.objects.filter(claimed__gt=F("votes")).exists()  # no lease left open
    assert not Assignment.objects.filter(status=Assignment.Status.OPEN).exists()
    judgments = Judgment.objects.select_related("rater__user")
    assert {j.rater.user.username for j in judgments} <= {f"sim-annotator-{n}" for n in range(1, 5)}
    assert all(j.watched_a >= 0.97 and j.watched_b >= 0.97 and j.response_ms > 0 for j in judgments)
    assert not User.objects.get(username="sim-annotator-1").has_usable_password()
    for track in tracks:
        assert assignment_next_for(track=track, user=annotator) is not None


def test_simulated_votes_can_fill_every_comparison(small_world):
    tracks = seed_demo_tracks(annotator_usernames=[])

    created = simulate_votes(tracks=tracks, raters=3, seed=1, votes_per_comparison=3)

    assert created == 2 * 12 * 3
    assert set(TrackItem.objects.values_list("votes", flat=True)) == {3}


def _ours_win_rate() -> float:
    ours = Video.objects.filter(method__role=Method.Role.OURS).values_list("pk", flat=True)
    ours_ids = set(ours)
    wins = total = 0
    for judgment in Judgment.objects.filter(is_repeat=False).select_related("comparison"):
        a_is_ours = judgment.comparison.video_a_id in ours_ids
        b_is_ours = judgment.comparison.video_b_id in ours_ids
        if a_is_ours == b_is_ours:
            continue  # baseline against baseline
        total += 1
        wins += judgment.choice == ("A" if a_is_ours else "B")
    return wins / total


def test_careful_raters_choose_ours_against_a_baseline_about_eighty_percent(annotator):
    _catalog(identities=4, prompts=4)  # 48 comparisons per track, 32 of them ours against a baseline
    tracks = seed_demo_tracks(annotator_usernames=[])

    simulate_votes(tracks=tracks, raters=3, seed=11, votes_per_comparison=3)

    assert 0.7 <= _ours_win_rate() <= 0.9


def test_the_same_seed_gives_the_same_choices(small_world):
    tracks = seed_demo_tracks(annotator_usernames=[])

    def run(seed: int) -> set[tuple[int, str, str]]:
        with transaction.atomic():
            simulate_votes(tracks=tracks, raters=3, seed=seed)
            choices = set(Judgment.objects.values_list("comparison_id", "rater__user__username", "choice"))
            transaction.set_rollback(True)  # the next run starts from the same empty tracks
        return choices

    first, second, other = run(5), run(5), run(6)
    assert first == second
    assert first != other


def test_careless_simulated_raters_click_left_or_at_random(small_world):
    tracks = seed_demo_tracks(annotator_usernames=[])

    simulate_votes(tracks=tracks, raters=2, seed=3, careless=("left", "random"))

    left = Judgment.objects.filter(rater__user__username="sim-careless-1")
    assert left.exists() and all(j.choice == j.shown_left for j in left)
    assert Judgment.objects.filter(rater__user__username="sim-careless-2").exists()
    with pytest.raises(ValueError, match="sloppy"):
        simulate_votes(tracks=tracks, raters=1, seed=3, careless=("sloppy",))
