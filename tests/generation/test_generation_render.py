from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

from generation.errors import GenerationError
from generation.media import probe_video
from generation.models import GenerationItem, GenerationJob, Video
from generation.services import generation_job_create, generation_render
from tests.factories import IdentityFactory, PromptFactory

pytestmark = pytest.mark.django_db


def _media_files() -> set[str]:
    return {p.name for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()}


def test_a_job_renders_two_seeds_into_playable_videos_with_full_metadata(tiny_method):
    identity, prompt = IdentityFactory(), PromptFactory()
    job = generation_job_create(method=tiny_method, identities=[identity], prompts=[prompt], seeds=2)
    items = list(job.items.order_by("seed"))
    generation_render(item_ids=[item.pk for item in items], worker="test:1")

    job.refresh_from_db()
    assert job.status == GenerationJob.Status.DONE
    videos = list(Video.objects.filter(method=tiny_method).order_by("seed"))
    assert [v.seed for v in videos] == [0, 1]
    for video in videos:
        info = probe_video(Path(settings.MEDIA_ROOT) / video.file.name)
        assert (info.codec, info.width, info.height, info.num_frames, info.fps) == ("h264", 32, 32, 9, 8.0)
        s = video.settings
        assert s["base_model"] == str(tiny_method.checkpoint)
        assert s["revision"] == "tiny-wan-ti2v (random weights)"
        assert (s["scheduler"], s["num_inference_steps"], s["guidance_scale"], s["flow_shift"]) == (
            "UniPCMultistepScheduler",
            2,
            5.0,
            5.0,
        )
        assert (s["num_frames"], s["fps"], s["width"], s["height"]) == (9, 8, 32, 32)
        assert s["negative_prompt"] == "blurry, static"
        assert s["prompt"] == prompt.shown_text
        assert s["mode"] == "text-to-video"
    for item in GenerationItem.objects.filter(job=job):
        assert (item.status, item.attempts, item.step, item.steps_total) == ("done", 1, 2, 2)
        assert item.video is not None and item.worker == "test:1"
    assert videos[0].sha256 != videos[1].sha256


def test_a_method_with_a_lora_records_the_lora_and_its_sha256(tiny_method, tiny_model):
    from lib.hashing import sha256_file

    tiny_method.lora_path = str(tiny_model.lora)
    tiny_method.lora_sha256 = sha256_file(tiny_model.lora)
    tiny_method.save()
    job = generation_job_create(
        method=tiny_method, identities=[IdentityFactory()], prompts=[PromptFactory()], seeds=[7]
    )
    generation_render(item_ids=list(job.items.values_list("pk", flat=True)))

    video = Video.objects.get(method=tiny_method)
    assert (video.seed, video.settings["seed"]) == (7, 7)
    assert video.settings["lora_path"] == str(tiny_model.lora)
    assert video.settings["lora_sha256"] == tiny_method.lora_sha256


def test_the_primary_reference_conditions_an_image_to_video_render(tiny_method, tmp_path):
    from PIL import Image

    from generation.services import reference_create

    identity = IdentityFactory()
    Image.new("RGB", (48, 40), (200, 40, 40)).save(tmp_path / "face.png")
    reference = reference_create(
        identity=identity, kind="portrait", source=tmp_path / "face.png", is_primary=True
    )
    job = generation_job_create(method=tiny_method, identities=[identity], prompts=[PromptFactory()], seeds=1)
    generation_render(item_ids=list(job.items.values_list("pk", flat=True)))

    video = Video.objects.get(method=tiny_method, identity=identity)
    assert video.settings["mode"] == "image-to-video"
    assert video.settings["pipeline"] == "WanImageToVideoPipeline"
    assert video.settings["reference_sha256"] == reference.sha256


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"checkpoint": "/nonexistent/wan-model"}, "model folder /nonexistent/wan-model does not exist"),
        ({"checkpoint": "EMPTY"}, "is not a diffusers pipeline folder (no model_index.json)"),
        ({"settings": {"num_frames": 10}}, "num_frames must be of the form 4k+1 for this model"),
        ({"settings": {"width": 48}}, "width and height must be multiples of 32 for this model"),
    ],
)
def test_a_job_that_cannot_be_rendered_is_refused_before_anything_is_written(
    tiny_method, tmp_path, change, message
):
    if change.get("checkpoint") == "EMPTY":
        (tmp_path / "not-a-pipeline").mkdir()
        (tmp_path / "not-a-pipeline" / "weights.bin").write_bytes(b"\0" * 16)
        change = {"checkpoint": str(tmp_path / "not-a-pipeline")}
    for field, value in change.items():
        setattr(tiny_method, field, {**tiny_method.settings, **value} if field == "settings" else value)
    tiny_method.save()
    before = _media_files()

    with pytest.raises(GenerationError, match=re.escape(message)):
        generation_job_create(
            method=tiny_method, identities=[IdentityFactory()], prompts=[PromptFactory()], seeds=1
        )
    assert not GenerationJob.objects.exists()
    assert not Video.objects.exists()
    assert _media_files() == before


def _render_failing(method, *, prompt=None) -> GenerationJob:
    job = generation_job_create(
        method=method, identities=[IdentityFactory()], prompts=[prompt or PromptFactory()], seeds=2
    )
    generation_render(item_ids=list(job.items.values_list("pk", flat=True)))
    job.refresh_from_db()
    return job


def test_a_lora_that_does_not_fit_fails_the_videos_with_a_clear_error_and_stores_nothing(
    tiny_method, tiny_model
):
    tiny_method.lora_path = str(tiny_model.bad_lora)
    tiny_method.save()
    before = _media_files()

    job = _render_failing(tiny_method)

    assert job.status == GenerationJob.Status.FAILED
    assert "does not fit this model: size mismatch" in job.error
    assert {item.status for item in job.items.all()} == {"failed"}
    assert all("does not fit this model" in item.error for item in job.items.all())
    assert not Video.objects.exists()
    assert _media_files() == before


def test_a_prompt_longer_than_the_text_encoder_takes_fails_with_a_clear_error(tiny_method):
    long_prompt = PromptFactory(task="full", full_text="a cartoon person waving " * 30)
    before = _media_files()

    job = _render_failing(tiny_method, prompt=long_prompt)

    assert job.status == GenerationJob.Status.FAILED
    assert "the prompt is 720 tokens long; the text encoder takes at most 128" in job.error
    assert not Video.objects.exists()
    assert _media_files() == before


def test_a_model_folder_gone_by_the_time_the_worker_starts_fails_the_job(tiny_method, tmp_path):
    job = generation_job_create(
        method=tiny_method, identities=[IdentityFactory()], prompts=[PromptFactory()], seeds=1
    )
    tiny_method.checkpoint = str(tmp_path / "moved-away")
    tiny_method.save()

    generation_render(item_ids=list(job.items.values_list("pk", flat=True)))

    job.refresh_from_db()
    assert job.status == GenerationJob.Status.FAILED
    assert job.error == f"model folder {tmp_path / 'moved-away'} does not exist"
    assert not Video.objects.exists()


def test_a_task_delivered_again_after_it_finished_renders_nothing_twice(tiny_method):
    job = generation_job_create(
        method=tiny_method, identities=[IdentityFactory()], prompts=[PromptFactory()], seeds=1
    )
    ids = list(job.items.values_list("pk", flat=True))
    generation_render(item_ids=ids)
    generation_render(item_ids=ids)

    assert Video.objects.count() == 1
    assert job.items.get().attempts == 1


def test_a_video_whose_worker_died_three_times_fails_instead_of_being_tried_again(tiny_method):
    job = generation_job_create(
        method=tiny_method, identities=[IdentityFactory()], prompts=[PromptFactory()], seeds=1
    )
    # Three deliveries took the item and never came back (the worker was killed each time).
    job.items.update(status="running", attempts=3)

    generation_render(item_ids=list(job.items.values_list("pk", flat=True)))

    item = job.items.get()
    job.refresh_from_db()
    assert item.status == "failed"
    assert item.error.startswith("gave up after 3 attempts: the worker stopped each time")
    assert job.status == GenerationJob.Status.FAILED
    assert not Video.objects.exists()


def test_a_video_handed_back_after_its_worker_died_is_rendered_by_the_next_worker(tiny_method):
    job = generation_job_create(
        method=tiny_method, identities=[IdentityFactory()], prompts=[PromptFactory()], seeds=1
    )
    job.items.update(status="running", attempts=1, worker="dead-worker:1")

    generation_render(item_ids=list(job.items.values_list("pk", flat=True)), worker="next-worker:2")

    item = job.items.get()
    assert (item.status, item.attempts, item.worker) == ("done", 2, "next-worker:2")
