from __future__ import annotations

import pytest

from generation.errors import GenerationError
from generation.models import GenerationJob, Video
from generation.services import generation_item_retry, generation_job_create, generation_render
from tests.factories import IdentityFactory, PromptFactory

pytestmark = pytest.mark.django_db


def test_a_failed_video_retried_after_the_cause_is_fixed_is_made(
    tiny_method, tiny_model, django_capture_on_commit_callbacks
):
    tiny_method.lora_path = str(tiny_model.bad_lora)
    tiny_method.save()
    job = generation_job_create(
        method=tiny_method, identities=[IdentityFactory()], prompts=[PromptFactory()], seeds=1
    )
    item = job.items.get()
    generation_render(item_ids=[item.pk])
    item.refresh_from_db()
    assert item.status == "failed"

    tiny_method.lora_path = str(tiny_model.lora)
    tiny_method.save()
    with django_capture_on_commit_callbacks() as callbacks:
        generation_item_retry(item=item)
    job.refresh_from_db()
    item.refresh_from_db()
    assert (item.status, item.attempts, item.error) == ("queued", 0, "")
    assert (job.status, job.error, job.finished_at) == (GenerationJob.Status.QUEUED, "", None)
    assert len(callbacks) == 1  # one render task is queued once the retry commits

    generation_render(item_ids=[item.pk])
    job.refresh_from_db()
    assert job.status == GenerationJob.Status.DONE
    assert Video.objects.get().settings["lora_path"] == str(tiny_model.lora)


def test_only_a_failed_video_can_be_retried(tiny_method):
    job = generation_job_create(
        method=tiny_method, identities=[IdentityFactory()], prompts=[PromptFactory()], seeds=1
    )
    with pytest.raises(GenerationError, match="only a failed video can be retried"):
        generation_item_retry(item=job.items.get())
