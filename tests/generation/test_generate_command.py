from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from generation.management.commands import generate
from generation.models import GenerationItem, GenerationJob, Method
from generation.services import generation_render
from tests.factories import IdentityFactory, MethodFactory, PromptFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def cartoon(db: None) -> Method:
    return MethodFactory(
        name="cartoon",
        backend=Method.Backend.PROCEDURAL,
        settings={"width": 32, "height": 32, "num_frames": 4, "fidelity": 0.6, "control": 0.8},
    )


def test_it_launches_identities_times_prompts_times_seeds(cartoon):
    IdentityFactory(slug="ada"), IdentityFactory(slug="bo")
    PromptFactory(slug="beach"), PromptFactory(slug="snow")
    out = StringIO()
    call_command(
        "generate",
        "--method",
        "cartoon",
        "--identities",
        "all",
        "--prompts",
        "beach",
        "--seeds",
        "3",
        stdout=out,
    )

    job = GenerationJob.objects.get()
    assert out.getvalue() == f"Job {job.pk}: 6 videos queued for cartoon.\n"
    assert job.seeds == [0, 1, 2]
    assert set(job.items.values_list("identity__slug", flat=True)) == {"ada", "bo"}


def test_with_wait_it_follows_the_job_to_the_end(cartoon, monkeypatch):
    IdentityFactory(slug="ada"), PromptFactory(slug="beach")

    def a_worker_meanwhile(seconds: float) -> None:
        generation_render(
            item_ids=list(GenerationItem.objects.filter(status="queued").values_list("pk", flat=True))
        )

    monkeypatch.setattr(generate.time, "sleep", a_worker_meanwhile)
    out = StringIO()
    call_command(
        "generate", "--method", "cartoon", "--identities", "ada", "--prompts", "beach",
        "--seeds", "5,9", "--wait", stdout=out,
    )  # fmt: skip
    lines = out.getvalue().splitlines()
    assert lines[1].startswith("job ") and "queued: 0/2 videos done" in lines[1]
    assert "done: 2/2 videos done" in lines[-1]


def test_it_names_the_slugs_it_does_not_know(cartoon):
    IdentityFactory(slug="ada"), PromptFactory(slug="beach")
    with pytest.raises(CommandError, match="no such identity: zed"):
        call_command(
            "generate", "--method", "cartoon", "--identities", "ada,zed", "--prompts", "all", "--seeds", "1"
        )
