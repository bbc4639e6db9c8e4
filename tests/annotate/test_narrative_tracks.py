"""Narrative tracks: comparisons of two renderings of one story (their joined files), and what clip
tracks never pair."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from annotate.errors import TrackSetupError
from annotate.models import Assignment, Comparison, Track
from annotate.services import track_comparisons_count, track_create
from generation.models import Video
from tests.factories import (
    IdentityFactory,
    MethodFactory,
    make_narrative_track,
    make_story,
    make_story_rendering,
    make_video,
)

pytestmark = pytest.mark.django_db


def _joined(rendering) -> Video:
    return rendering.videos.get(shot__isnull=True)


def test_the_story_rendering_factory_makes_shot_videos_and_a_joined_file_with_shot_starts():
    story = make_story(shots=3)
    rendering = make_story_rendering(story=story, method=MethodFactory(), frames=[8, 12, 4])

    shots = rendering.shot_videos()
    assert [v.shot for v in shots] == [1, 2, 3]
    assert [v.prompt_id for v in shots] == [p.pk for p in story.shot_prompts()]
    assert [v.num_frames for v in shots] == [8, 12, 4]
    joined = rendering.joined
    assert joined is not None and joined.prompt_id == story.shot_prompts()[0].pk
    assert joined.num_frames == 24
    assert rendering.shot_starts == [0.0, 1.0, 2.5]


def test_a_narrative_track_pairs_joined_files_of_two_methods_of_the_same_seed():
    story = make_story()
    ours, baseline = MethodFactory(), MethodFactory()
    ours_0 = make_story_rendering(story=story, method=ours, seed=0)
    make_story_rendering(story=story, method=ours, seed=1)
    base_0 = make_story_rendering(story=story, method=baseline, seed=0)

    track = track_create(
        name="narrative",
        kind=Track.Kind.CONTINUITY,
        identities=[story.identity],
        prompts=[],
        methods=[ours, baseline],
    )

    comparison = track.comparisons.get()  # seed 0 against seed 0 only: seed 1 has no partner of its seed
    assert {comparison.video_a_id, comparison.video_b_id} == {_joined(ours_0).pk, _joined(base_0).pk}
    assert comparison.identity_id == story.identity_id
    assert track.is_narrative and track.items_total == 1


def test_methods_that_share_no_seed_have_every_pair_of_their_renderings_compared():
    story = make_story()
    ours, baseline = MethodFactory(), MethodFactory()
    for seed in (1, 2):
        make_story_rendering(story=story, method=ours, seed=seed)
    make_story_rendering(story=story, method=baseline, seed=5)

    counted = track_comparisons_count(
        kind=Track.Kind.IDENTITY_CONSISTENCY,
        identities=[story.identity],
        prompts=[],
        methods=[ours, baseline],
    )
    track = track_create(
        name="every pair",
        kind=Track.Kind.IDENTITY_CONSISTENCY,
        identities=[story.identity],
        prompts=[],
        methods=[ours, baseline],
    )

    assert counted == track.items_total == 2
    paired = set(track.comparisons.values_list("video_a__shot", "video_b__shot"))
    assert paired == {(None, None)}  # joined files only, never a shot video


def test_renderings_of_different_stories_are_never_paired():
    identity = IdentityFactory()
    ours, baseline = MethodFactory(), MethodFactory()
    make_story_rendering(story=make_story(identity=identity), method=ours)
    make_story_rendering(story=make_story(identity=identity), method=baseline)

    with pytest.raises(TrackSetupError, match="two renderings of the same story by different methods"):
        track_create(
            name="apart",
            kind=Track.Kind.BODY_CONSISTENCY,
            identities=[identity],
            prompts=[],
            methods=[ours, baseline],
        )
    assert not Track.objects.exists() and not Comparison.objects.exists()


def test_a_narrative_track_without_renderings_is_refused_with_a_clear_message():
    identity, methods = IdentityFactory(), [MethodFactory(), MethodFactory()]
    for method in methods:  # clips of the identity exist, but no story was rendered
        make_video(method=method, identity=identity, frames=4, size=32)

    with pytest.raises(TrackSetupError, match="No story of these identities has a rendering"):
        track_create(
            name="nothing",
            kind=Track.Kind.NARRATIVE_ADHERENCE,
            identities=[identity],
            prompts=[],
            methods=methods,
        )
    assert not Track.objects.exists()


def test_a_clip_track_never_pairs_videos_of_story_renderings():
    story = make_story()
    methods = [MethodFactory(), MethodFactory()]
    for method in methods:
        make_story_rendering(story=story, method=method)
    prompts = story.shot_prompts()

    with pytest.raises(TrackSetupError, match="give no comparison"):
        track_create(
            name="clips",
            kind=Track.Kind.IDENTITY_FIDELITY,
            identities=[story.identity],
            prompts=prompts,
            methods=methods,
        )
    assert track_comparisons_count(identities=[story.identity], prompts=prompts, methods=methods) == 0


def test_the_creation_page_counts_narrative_comparisons_and_refuses_a_track_without_renderings(
    admin_client: Client,
):
    story = make_story()
    methods = [MethodFactory(), MethodFactory()]
    for method in methods:
        make_story_rendering(story=story, method=method)
    lonely = IdentityFactory()
    chosen = {
        "kind": "continuity",
        "identities": [story.identity_id],
        "prompts": [],
        "methods": [m.pk for m in methods],
    }

    preview = admin_client.post(reverse("manage_tracks:new_preview"), chosen, headers={"HX-Request": "true"})
    assert "These choices make <strong>1 narrative comparison</strong>" in preview.content.decode()
    assert "<html" not in preview.content.decode()

    form = {
        **chosen,
        "identities": [lonely.pk],
        "name": "no renderings",
        "vote_mode": "fixed",
        "votes_needed": 3,
        "min_watch_fraction": 1,
        "lease_minutes": 10,
        "gold_rate": 0,
        "repeat_rate": 0,
    }
    response = admin_client.post(reverse("manage_tracks:new"), form)
    assert response.status_code == 400
    assert "No story of these identities has a rendering by these methods" in response.content.decode()
    assert not Track.objects.exists()


def test_the_work_page_of_a_narrative_track_gives_the_player_both_sides_shots_and_the_prompts(
    annotator_client: Client, annotator
):
    track = make_narrative_track(
        kind=Track.Kind.CONTINUITY, annotators=[annotator], frames=([8, 8, 8], [4, 8, 12])
    )
    comparison = track.comparisons.get()
    story = comparison.video_a.rendering.story

    body = annotator_client.get(reverse("annotate:track_work", args=[track.pk])).content.decode()

    assignment = Assignment.objects.get(item__track=track)
    a, b = comparison.video_a.rendering.shot_starts, comparison.video_b.rendering.shot_starts
    left, right = (a, b) if assignment.shown_left == "A" else (b, a)
    assert f'data-shots-left="{" ".join(map(str, left))}"' in body
    assert f'data-shots-right="{" ".join(map(str, right))}"' in body
    assert body.count('class="shot-btn') == 3
    for prompt in story.shot_prompts():
        assert prompt.full_text in body
    for method in (comparison.video_a.method, comparison.video_b.method):
        assert method.name not in body
    assert "Which video flows better from shot to shot" in body


def test_an_identity_question_of_a_story_shows_every_reference_and_no_prompt(
    annotator_client: Client, annotator
):
    track = make_narrative_track(kind=Track.Kind.IDENTITY_CONSISTENCY, annotators=[annotator])
    story = track.comparisons.get().video_a.rendering.story

    response = annotator_client.get(
        reverse("annotate:track_work", args=[track.pk]), headers={"HX-Request": "true"}
    )

    fragment = response.content.decode()
    assert "<html" not in fragment and 'id="comparison-panel"' in fragment
    assert fragment.count('class="reference"') == 2  # the face and the full-body references
    assert "shot-strip" in fragment
    for prompt in story.shot_prompts():
        assert prompt.full_text not in fragment
