from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from generation.models import GenerationJob, Method
from tests.factories import MethodFactory
from tests.generation.test_story_render import story_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def cartoon(db: None) -> Method:
    return MethodFactory(
        name="cartoon",
        backend=Method.Backend.PROCEDURAL,
        settings={"width": 32, "height": 32, "num_frames": 12, "fps": 8},
    )


def test_it_launches_each_story_times_each_seed_in_the_mode_given(cartoon):
    story_make("rain"), story_make("beach", shots=2)
    out = StringIO()
    call_command(
        "generate", "--method", "cartoon", "--stories", "all", "--story-mode", "autoregressive",
        "--seeds", "2", stdout=out,
    )  # fmt: skip

    job = GenerationJob.objects.get()
    assert out.getvalue() == f"Job {job.pk}: 4 story renderings queued for cartoon.\n"
    assert job.story_mode == "autoregressive"
    assert sorted(job.items.values_list("story__slug", "seed")) == [
        ("beach", 0), ("beach", 1), ("rain", 0), ("rain", 1),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["--stories", "rain", "--seeds", "1"],
            "a story job needs --stories, --story-mode and --seeds: give --story-mode",
        ),
        (["--stories", "rain,fog", "--story-mode", "independent", "--seeds", "1"], "no such story: fog"),
        (
            ["--stories", "rain", "--story-mode", "independent", "--seeds", "1", "--prompts", "all"],
            "--stories renders the stories' own identities and shot prompts: leave out --prompts",
        ),
        (["--stories", "short", "--story-mode", "independent", "--seeds", "1"], "story short has 1 shot(s)"),
    ],
)
def test_a_story_launch_that_cannot_run_says_what_is_wrong(cartoon, arguments, message):
    story_make("rain"), story_make("short", shots=1)

    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call_command("generate", "--method", "cartoon", *arguments, stdout=StringIO())
    assert not GenerationJob.objects.exists()


def test_an_unknown_story_mode_is_refused_by_name(cartoon):
    story_make("rain")

    with pytest.raises(CommandError, match="invalid choice: 'sideways'"):
        call_command(
            "generate", "--method", "cartoon", "--stories", "rain", "--story-mode", "sideways", "--seeds", "1"
        )


def test_with_wait_it_follows_a_story_job_by_renderings(cartoon, monkeypatch):
    from generation.management.commands import generate
    from generation.models import GenerationItem
    from generation.services import generation_render

    story_make("rain")

    def a_worker_meanwhile(seconds: float) -> None:
        generation_render(
            item_ids=list(GenerationItem.objects.filter(status="queued").values_list("pk", flat=True))
        )

    monkeypatch.setattr(generate.time, "sleep", a_worker_meanwhile)
    out = StringIO()
    call_command(
        "generate", "--method", "cartoon", "--stories", "rain", "--story-mode", "independent",
        "--seeds", "1", "--wait", stdout=out,
    )  # fmt: skip

    assert "1/1 story renderings done" in out.getvalue()
