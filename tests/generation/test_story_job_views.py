from __future__ import annotations

import pytest
from django.urls import reverse

from generation.models import GenerationJob, Method
from generation.services import generation_job_create, generation_render
from tests.factories import IdentityFactory, MethodFactory
from tests.generation.test_story_render import story_make

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def cartoon(db: None) -> Method:
    return MethodFactory(
        name="cartoon",
        backend=Method.Backend.PROCEDURAL,
        settings={"width": 32, "height": 32, "num_frames": 12, "fps": 8},
    )


def test_the_launch_form_queues_story_renderings(admin_client, cartoon):
    story = story_make("rain")

    page = admin_client.get(reverse("generation:job_new"))
    assert "Stories" in page.content.decode() and "rain" in page.content.decode()
    response = admin_client.post(
        reverse("generation:job_new"),
        {"method": cartoon.pk, "stories": [story.pk], "story_mode": "autoregressive", "seeds": "2"},
        follow=True,
    )

    job = GenerationJob.objects.get()
    assert (job.story_mode, job.items.count()) == ("autoregressive", 2)
    assert f"Job {job.pk} queued: 2 story renderings." in response.content.decode()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"story_mode": "independent"}, "Choose at least one story for the story mode, or no story mode."),
        ({"stories": "STORY"}, "Choose how the stories&#x27; shots are made."),
        (
            {"stories": "STORY", "story_mode": "independent", "identities": "IDENTITY"},
            "leave identities empty",
        ),
        (
            {"stories": "SHORT", "story_mode": "independent"},
            "story short has 1 shot(s); a story needs at least 2",
        ),
    ],
)
def test_a_story_launch_that_cannot_run_is_answered_400_naming_what_is_wrong(
    admin_client, cartoon, fields, message
):
    values = {
        "STORY": story_make("rain").pk,
        "SHORT": story_make("short", shots=1).pk,
        "IDENTITY": IdentityFactory().pk,
    }
    data = {"method": cartoon.pk, "seeds": "1", **{key: values.get(v, v) for key, v in fields.items()}}

    response = admin_client.post(reverse("generation:job_new"), data)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not GenerationJob.objects.exists()


def test_the_job_page_lists_each_rendering_with_its_shots_and_joined_file(admin_client, cartoon):
    story = story_make("rain", shots=3)
    job = generation_job_create(method=cartoon, stories=[story], story_mode="independent", seeds=1)
    generation_render(item_ids=list(job.items.values_list("pk", flat=True)))

    fragment = admin_client.get(reverse("generation:job_detail", args=[job.pk]), **HTMX).content.decode()

    assert "<html" not in fragment
    assert "Story renderings" in fragment and "story rain · independent" in fragment
    item = job.items.get()
    rendering = item.rendering
    assert rendering is not None, item.error
    links = [fragment.index(reverse("media", args=[video.file.name])) for video in rendering.shot_videos()]
    assert links == sorted(links) and len(links) == 3
    assert "shot 1" in fragment and "shot 3" in fragment
    assert reverse("media", args=[rendering.joined.file.name]) in fragment
