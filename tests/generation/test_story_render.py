from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import av
import numpy as np
import pytest
from django.conf import settings
from PIL import Image

from generation.errors import GenerationError
from generation.models import GenerationJob, Story, StoryRendering, StoryShot, Video
from generation.services import generation_job_create, generation_render, reference_create
from tests.factories import IdentityFactory, PromptFactory

pytestmark = pytest.mark.django_db

# The same picture decoded from two H.264 files differs by the encoding error: about 6 levels (mean
# absolute difference) for the tiny model's noise-like 32×32 frames; two unrelated frames differ by ~30.
SAME_FRAME_TOLERANCE = 10.0


# Each asks for another action the cartoon backend draws (waves, talks, turns, nods, shakes its head).
SHOT_TEXTS = (
    "She opens the door and waves hello to a neighbour.",
    "She walks down the street, talking on the phone.",
    "She turns to look back over her shoulder.",
    "She nods at a friend across the cafe.",
    "She shakes her head and laughs.",
)


def story_make(slug: str = "walk-home", shots: int = 3, *, identity=None) -> Story:
    story = Story.objects.create(slug=slug, identity=identity or IdentityFactory(), title=slug)
    for position in range(1, shots + 1):
        text = SHOT_TEXTS[position - 1]
        prompt = PromptFactory(full_text=text, differential_text=text, action=text)
        StoryShot.objects.create(story=story, position=position, prompt=prompt)
    return story


def with_primary_reference(identity, folder: Path) -> None:
    Image.new("RGB", (48, 40), (200, 40, 40)).save(folder / f"{identity.slug}.png")
    reference_create(
        identity=identity, kind="portrait", source=folder / f"{identity.slug}.png", is_primary=True
    )


def decoded(video: Video) -> np.ndarray:
    with av.open(str(Path(settings.MEDIA_ROOT) / video.file.name)) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])


def render_story(method, story: Story, mode: str, seeds=1) -> GenerationJob:
    job = generation_job_create(method=method, stories=[story], story_mode=mode, seeds=seeds)
    generation_render(item_ids=list(job.items.values_list("pk", flat=True)), worker="test:1")
    job.refresh_from_db()
    return job


@pytest.mark.parametrize("mode", ["independent", "autoregressive_no_references"])
def test_a_three_shot_story_renders_its_shots_in_order_each_recording_story_position_and_settings(
    tiny_method, tmp_path, mode
):
    story = story_make()
    with_primary_reference(story.identity, tmp_path)

    job = render_story(tiny_method, story, mode)

    assert job.status == GenerationJob.Status.DONE, job.error
    rendering = StoryRendering.objects.get(story=story, method=tiny_method)
    assert (rendering.seed, rendering.mode) == (0, mode)
    shots = rendering.shot_videos()
    prompts = story.shot_prompts()
    assert [video.shot for video in shots] == [1, 2, 3]
    for position, (video, prompt) in enumerate(zip(shots, prompts, strict=True), start=1):
        assert (video.identity, video.prompt, video.seed) == (story.identity, prompt, 0)
        s = video.settings
        assert (s["story"], s["position"], s["story_mode"]) == (story.slug, position, mode)
        assert (s["num_frames"], s["width"], s["height"], s["num_inference_steps"]) == (9, 32, 32, 2)
        assert s["prompt"] == prompt.shown_text
        assert s["base_model"] == tiny_method.checkpoint and s["mode"] == "image-to-video"
    item = job.items.get()
    assert (item.rendering, item.video, item.step, item.steps_total) == (rendering, rendering.joined, 6, 6)


def test_in_the_autoregressive_mode_each_shot_begins_with_the_last_frame_of_the_one_before(
    tiny_method, tmp_path
):
    story = story_make()
    with_primary_reference(story.identity, tmp_path)

    render_story(tiny_method, story, "autoregressive_no_references")

    shots = [decoded(video) for video in StoryRendering.objects.get().shot_videos()]
    for before, after in pairwise(shots):
        seam = np.abs(before[-1].astype(float) - after[0].astype(float)).mean()
        assert seam < SAME_FRAME_TOLERANCE
        # Not a still: the generated continuation follows the frame it starts from.
        assert np.abs(after[0].astype(float) - after[1].astype(float)).mean() > SAME_FRAME_TOLERANCE
    videos = StoryRendering.objects.get().shot_videos()
    assert [v.settings["conditioning"] for v in videos] == [
        "reference as the first frame",
        "previous shot's last frame as the first frame",
        "previous shot's last frame as the first frame",
    ]
    assert [v.settings["pipeline"] for v in videos[1:]] == ["WanImageToVideoPipeline"] * 2


def test_independent_shots_do_not_start_from_the_previous_shot(tiny_method):
    story = story_make()

    render_story(tiny_method, story, "independent")

    shots = [decoded(video) for video in StoryRendering.objects.get().shot_videos()]
    assert np.abs(shots[0][-1].astype(float) - shots[1][0].astype(float)).mean() > SAME_FRAME_TOLERANCE
    assert {v.settings["mode"] for v in StoryRendering.objects.get().shot_videos()} == {"text-to-video"}


def test_the_joined_file_plays_every_shot_one_after_the_other(tiny_method, tmp_path):
    story = story_make()
    with_primary_reference(story.identity, tmp_path)

    render_story(tiny_method, story, "autoregressive_no_references")

    rendering = StoryRendering.objects.get()
    joined = rendering.joined
    assert joined is not None and joined.shot is None
    assert joined.prompt == story.shot_prompts()[0]
    shots = rendering.shot_videos()
    assert joined.num_frames == sum(video.num_frames for video in shots) == 27
    assert rendering.shot_starts == [0.0, 9 / 8, 18 / 8]
    assert joined.codec == "h264"
    frames, parts = decoded(joined), [decoded(video) for video in shots]
    for start, part in zip((0, 9, 18), parts, strict=True):
        assert np.abs(frames[start].astype(float) - part[0].astype(float)).mean() < SAME_FRAME_TOLERANCE
    # Without the references, the continued shots say so; the first one is made from them.
    assert [video.settings["references"] for video in shots] == [True, False, False]
    assert [video.settings["reference_sha256"] != "" for video in shots] == [True, False, False]


def test_a_rendering_already_in_the_catalog_is_not_made_again(tiny_method):
    story = story_make()
    render_story(tiny_method, story, "independent")

    with pytest.raises(GenerationError, match="every requested story rendering is already in the catalog"):
        generation_job_create(method=tiny_method, stories=[story], story_mode="independent", seeds=1)
    job = generation_job_create(
        method=tiny_method, stories=[story], story_mode="autoregressive_no_references", seeds=1
    )
    assert job.items.count() == 1


def test_wan_refuses_to_continue_a_shot_with_the_references_naming_the_mode_it_can_render(tiny_method):
    story = story_make()

    with pytest.raises(
        GenerationError, match="it cannot also use the references; choose autoregressive_no_references"
    ):
        generation_job_create(method=tiny_method, stories=[story], story_mode="autoregressive", seeds=1)
    assert not GenerationJob.objects.exists()
