from __future__ import annotations

import json
import re
import shutil
from itertools import pairwise

import numpy as np
import pytest

from generation.errors import GenerationError
from generation.models import GenerationItem, GenerationJob, Method, StoryRendering, Video
from generation.services import generation_job_create, generation_render
from tests.factories import IdentityFactory, MethodFactory, PromptFactory
from tests.generation.test_story_render import SAME_FRAME_TOLERANCE, decoded, story_make

pytestmark = pytest.mark.django_db

CARTOON = {"width": 32, "height": 32, "num_frames": 6, "fps": 8}


@pytest.fixture
def cartoon_method() -> Method:
    return MethodFactory(name="cartoon", backend=Method.Backend.PROCEDURAL, settings=dict(CARTOON))


def test_the_cartoon_backend_continues_each_shot_from_the_last_frame_of_the_one_before(cartoon_method):
    story = story_make(shots=3)

    job = generation_job_create(
        method=cartoon_method, stories=[story], story_mode="autoregressive", seeds=[4]
    )
    generation_render(item_ids=list(job.items.values_list("pk", flat=True)))

    job.refresh_from_db()
    assert job.status == GenerationJob.Status.DONE, job.error
    rendering = StoryRendering.objects.get()
    shots = rendering.shot_videos()
    assert [(v.shot, v.seed, v.settings["position"], v.settings["story"]) for v in shots] == [
        (1, 4, 1, story.slug),
        (2, 4, 2, story.slug),
        (3, 4, 3, story.slug),
    ]
    frames = [decoded(video) for video in shots]
    for before, after in pairwise(frames):
        assert np.abs(before[-1].astype(float) - after[0].astype(float)).mean() < SAME_FRAME_TOLERANCE
    assert rendering.joined is not None and rendering.joined.num_frames == 18
    assert rendering.shot_starts == [0.0, 0.75, 1.5]
    assert {video.settings["fidelity"] for video in shots} == {1.0}


def test_without_the_references_the_cartoon_holds_the_identity_less_well_after_the_first_shot(cartoon_method):
    story = story_make(shots=3)

    job = generation_job_create(
        method=cartoon_method, stories=[story], story_mode="autoregressive_no_references", seeds=[4]
    )
    generation_render(item_ids=list(job.items.values_list("pk", flat=True)))

    shots = StoryRendering.objects.get().shot_videos()
    assert [video.settings["fidelity"] for video in shots] == [1.0, 0.6, 0.6]
    assert [video.settings["references"] for video in shots] == [False, False, False]  # it has none


def test_a_story_job_makes_one_item_per_story_and_seed_and_leaves_clips_alone(cartoon_method):
    stories = [story_make("one"), story_make("two", shots=2)]

    job = generation_job_create(method=cartoon_method, stories=stories, story_mode="independent", seeds=2)

    items = list(job.items.order_by("story__slug", "seed"))
    assert [(item.story.slug, item.seed) for item in items] == [
        ("one", 0),
        ("one", 1),
        ("two", 0),
        ("two", 1),
    ]
    assert [item.prompt for item in items[:1]] == [stories[0].shot_prompts()[0]]
    assert (job.story_mode, set(job.stories.all())) == ("independent", set(stories))


@pytest.mark.parametrize(
    ("request_kind", "message"),
    [
        ("no stories", "choose at least one story"),
        ("one shot", "story lonely has 1 shot(s); a story needs at least 2"),
        (
            "bad mode",
            "the story mode must be one of independent, autoregressive, autoregressive_no_references",
        ),
        ("with prompts", "a story job renders the stories' own identities and shot prompts"),
        ("imported", "does not generate videos (imported videos are uploaded instead)"),
        ("no seeds", "give a number of seeds or a list of seeds"),
    ],
)
def test_a_story_job_that_cannot_be_rendered_is_refused_with_nothing_written(
    cartoon_method, request_kind, message
):
    kwargs = {"method": cartoon_method, "stories": [story_make()], "story_mode": "autoregressive", "seeds": 1}
    if request_kind == "no stories":
        kwargs["stories"] = []
    elif request_kind == "one shot":
        kwargs["stories"] = [story_make("lonely", shots=1)]
    elif request_kind == "bad mode":
        kwargs["story_mode"] = "sideways"
    elif request_kind == "with prompts":
        kwargs["prompts"] = [PromptFactory()]
    elif request_kind == "imported":
        kwargs["method"] = MethodFactory(name="elsewhere", backend=Method.Backend.IMPORTED)
    elif request_kind == "no seeds":
        kwargs["seeds"] = None

    with pytest.raises(GenerationError, match=re.escape(message)):
        generation_job_create(**kwargs)
    assert not GenerationJob.objects.exists() and not GenerationItem.objects.exists()


def test_an_autoregressive_story_needs_a_model_that_can_start_from_an_image(tiny_method, tmp_path):
    folder = tmp_path / "t2v-only"
    shutil.copytree(tiny_method.checkpoint, folder)
    index = json.loads((folder / "model_index.json").read_text())
    (folder / "model_index.json").write_text(json.dumps({**index, "expand_timesteps": False}))
    tiny_method.checkpoint = str(folder)
    tiny_method.save()
    story = story_make()

    with pytest.raises(
        GenerationError, match=r"cannot render autoregressive stories: .* is a text-to-video model"
    ):
        generation_job_create(method=tiny_method, stories=[story], story_mode="autoregressive", seeds=1)
    # Each shot from its prompt alone needs no image input.
    job = generation_job_create(method=tiny_method, stories=[story], story_mode="independent", seeds=1)
    assert job.items.count() == 1


def test_a_clip_job_still_makes_one_item_per_identity_prompt_and_seed(cartoon_method):
    job = generation_job_create(
        method=cartoon_method,
        identities=[IdentityFactory()],
        prompts=[PromptFactory(), PromptFactory(action="waves")],
        seeds=1,
    )
    generation_render(item_ids=list(job.items.values_list("pk", flat=True)))

    assert [(item.status, item.error, item.story) for item in job.items.all()] == [("done", "", None)] * 2
    assert Video.objects.filter(rendering__isnull=True).count() == 2
