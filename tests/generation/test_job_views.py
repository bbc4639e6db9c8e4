from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from generation import media
from generation.models import GenerationJob, Method, Video
from generation.services import generation_job_create, generation_render
from tests.factories import IdentityFactory, MethodFactory, PromptFactory, gradient_frames, make_track
from tests.generation.test_import_catalog import write_mp4

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def demo_method(db: None) -> Method:
    # The procedural backend needs no model: the pages can be tried without torch doing any work.
    return MethodFactory(
        name="cartoon",
        backend=Method.Backend.PROCEDURAL,
        settings={"width": 32, "height": 32, "num_frames": 4, "fidelity": 0.6, "control": 0.8},
    )


def _job(method: Method, seeds: int = 2) -> GenerationJob:
    return generation_job_create(
        method=method, identities=[IdentityFactory()], prompts=[PromptFactory()], seeds=seeds
    )


@pytest.mark.parametrize("name", ["job_list", "job_new", "video_upload"])
def test_an_outsider_gets_a_404_from_the_generation_pages(outsider_client, name):
    assert outsider_client.get(reverse(f"generation:{name}")).status_code == 404


def test_the_job_list_shows_progress_and_polls_while_a_job_runs(admin_client, demo_method):
    job = _job(demo_method)
    page = admin_client.get(reverse("generation:job_list"))
    assert page.status_code == 200
    html = page.content.decode()
    assert f"#{job.pk}" in html and "0 / 2" in html
    assert 'hx-trigger="every 2s"' in html


def test_the_job_list_answers_htmx_with_the_table_alone(admin_client, demo_method):
    _job(demo_method)
    fragment = admin_client.get(reverse("generation:job_list"), **HTMX).content.decode()
    assert fragment.lstrip().startswith('<section class="card" id="job-table"')
    assert "<html" not in fragment


def test_the_job_list_stops_polling_when_every_job_has_finished(admin_client, demo_method):
    job = _job(demo_method, seeds=1)
    generation_render(item_ids=list(job.items.values_list("pk", flat=True)))
    fragment = admin_client.get(reverse("generation:job_list"), **HTMX).content.decode()
    assert "1 / 1" in fragment
    assert "hx-trigger" not in fragment


def test_launching_a_job_queues_its_videos_once_the_job_is_committed(
    admin_client, demo_method, django_capture_on_commit_callbacks
):
    identities = [IdentityFactory(), IdentityFactory()]
    prompt = PromptFactory()
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(
            reverse("generation:job_new"),
            {
                "method": demo_method.pk,
                "identities": [i.pk for i in identities],
                "prompts": [prompt.pk],
                "seeds": "3, 17",
                "settings": '{"num_frames": 2}',
            },
        )
    job = GenerationJob.objects.get()
    assert response.status_code == 302 and response.url == reverse("generation:job_detail", args=[job.pk])
    assert (job.seeds, job.settings, job.items.count()) == ([3, 17], {"num_frames": 2}, 4)
    assert len(callbacks) == 2  # one task per (identity, prompt) batch of seeds


@pytest.mark.parametrize("asked", [False, True])
def test_the_launch_form_asks_whether_a_methods_videos_are_paired_with_each_other(
    admin_client, demo_method, asked
):
    track = make_track(methods=2)
    form = {
        "method": demo_method.pk,
        "identities": [IdentityFactory().pk],
        "prompts": [PromptFactory().pk],
        "seeds": "2",
        "extend_track": track.pk,
    }
    if asked:
        form["extend_same_method_pairs"] = "on"
    assert (
        "Also pair this method&#x27;s videos with each other"
        in admin_client.get(reverse("generation:job_new")).content.decode()
    )

    admin_client.post(reverse("generation:job_new"), form)

    job = GenerationJob.objects.get()
    assert (job.extend_track_id, job.extend_same_method_pairs) == (track.pk, asked)


def test_a_job_that_cannot_be_rendered_is_refused_on_the_form(admin_client):
    method = MethodFactory(name="lost", backend=Method.Backend.DIFFUSERS, checkpoint="/nonexistent/model")
    response = admin_client.post(
        reverse("generation:job_new"),
        {
            "method": method.pk,
            "identities": [IdentityFactory().pk],
            "prompts": [PromptFactory().pk],
            "seeds": "1",
        },
    )
    assert response.status_code == 400
    assert "model folder /nonexistent/model does not exist" in response.content.decode()
    assert not GenerationJob.objects.exists()


def test_the_launch_form_states_the_bounds_and_refuses_a_setting_beyond_them(admin_client, demo_method):
    assert "width ≤ 4096" in admin_client.get(reverse("generation:job_new")).content.decode()
    response = admin_client.post(
        reverse("generation:job_new"),
        {
            "method": demo_method.pk,
            "identities": [IdentityFactory().pk],
            "prompts": [PromptFactory().pk],
            "seeds": "1",
            "settings": '{"width": 100000}',
        },
    )
    assert response.status_code == 400
    assert "setting &#x27;width&#x27; must be at most 4096, got 100000" in response.content.decode()
    assert not GenerationJob.objects.exists()


def test_the_job_page_shows_a_failed_video_with_its_error_and_a_retry_button(admin_client, demo_method):
    job = _job(demo_method, seeds=1)
    demo_method.settings = {"width": 33}
    demo_method.save()
    generation_render(item_ids=list(job.items.values_list("pk", flat=True)))

    fragment = admin_client.get(reverse("generation:job_detail", args=[job.pk]), **HTMX).content.decode()
    assert fragment.lstrip().startswith('<div id="job-panel"')
    assert "width and height must be even for H.264, got 33×256" in fragment
    item = job.items.get()
    assert reverse("generation:item_retry", args=[item.pk]) in fragment

    demo_method.settings = {"width": 32, "height": 32, "num_frames": 4, "fidelity": 0.6}
    demo_method.save()
    response = admin_client.post(reverse("generation:item_retry", args=[item.pk]))
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.status == "queued"


def test_the_cancel_button_cancels_the_queued_videos(admin_client, demo_method):
    job = _job(demo_method)
    response = admin_client.post(reverse("generation:job_cancel", args=[job.pk]))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == GenerationJob.Status.CANCELLED
    assert (
        "Cancel job" not in admin_client.get(reverse("generation:job_detail", args=[job.pk])).content.decode()
    )


def _upload(client, path: Path, **fields):
    data = {
        "method": MethodFactory(name="baseline-x").pk,
        "identity": IdentityFactory().pk,
        "prompt": PromptFactory().pk,
        "seed": 5,
        "file": SimpleUploadedFile(path.name, path.read_bytes(), content_type="video/mp4"),
        **fields,
    }
    return client.post(reverse("generation:video_upload"), data)


def test_an_uploaded_h264_video_joins_the_catalog(admin_client, tmp_path):
    response = _upload(admin_client, write_mp4(tmp_path / "baseline.mp4", shade=40))
    assert response.status_code == 302
    video = Video.objects.get()
    assert (video.origin, video.seed, video.codec, video.method.name) == ("imported", 5, "h264", "baseline-x")


def test_an_upload_browsers_cannot_play_is_refused_like_an_import(admin_client, tmp_path):
    response = _upload(admin_client, write_mp4(tmp_path / "mp4v.mp4", shade=50, codec="mpeg4"))
    assert response.status_code == 400
    assert "is mpeg4 video, which browsers do not play" in response.content.decode()
    assert not Video.objects.exists()


def test_a_truncated_upload_whose_first_frames_decode_is_refused_and_nothing_is_stored(
    admin_client, tmp_path
):
    # +faststart puts the index first, so the first half of the file opens and its first frames decode.
    stored = media.encode_mp4(gradient_frames(count=48, size=64, shade=70), fps=8)
    whole = media.media_path(stored).read_bytes()
    media.delete_stored([stored])
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(whole[: len(whole) // 2])
    files_before = sorted(Path(settings.MEDIA_ROOT).rglob("*"))

    response = _upload(admin_client, truncated)

    assert response.status_code == 400
    assert "truncated.mp4 breaks off after" in response.content.decode()
    assert "the file is truncated or damaged" in response.content.decode()
    assert not Video.objects.exists()
    assert sorted(Path(settings.MEDIA_ROOT).rglob("*")) == files_before


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ('{"fidelity": NaN}', "fidelity"),
        ('{"fidelity": Infinity}', "fidelity"),
        ('{"fidelity": -Infinity}', "fidelity"),
        ('{"fidelity": 1e400}', "fidelity"),
        ('{"style": "a\\u0000b"}', "style"),
        ('{"extra": {"inner": [1, 1e400]}}', "extra.inner[1]"),
        ('{"a\\u0000b": 1}', "a\\x00b"),
    ],
)
def test_a_setting_postgresql_cannot_store_is_a_form_error_naming_it(
    admin_client, demo_method, overrides, named
):
    response = admin_client.post(
        reverse("generation:job_new"),
        {
            "method": demo_method.pk,
            "identities": [IdentityFactory().pk],
            "prompts": [PromptFactory().pk],
            "seeds": "1",
            "settings": overrides,
        },
    )
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert list(errors) == ["settings"] and named in errors["settings"][0]
    assert not GenerationJob.objects.exists()
