from __future__ import annotations

import pytest

from annotate.models import Comparison, TrackItem
from generation.models import Method, Video
from generation.selectors import job_track_shape_warnings
from generation.services import generation_job_create, generation_render
from tests.factories import MethodFactory, make_track

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("same_method_pairs", [False, True])
def test_a_finished_job_that_names_a_track_adds_comparisons_of_its_videos(
    django_capture_on_commit_callbacks, same_method_pairs
):
    track = make_track(methods=2)  # one case, two methods: one comparison
    identity, prompt = track.comparisons.get().identity, track.comparisons.get().prompt
    method = MethodFactory(
        backend=Method.Backend.PROCEDURAL,
        settings={"width": 32, "height": 32, "num_frames": 4, "fidelity": 0.6, "control": 0.8},
    )
    job = generation_job_create(
        method=method,
        identities=[identity],
        prompts=[prompt],
        seeds=2,
        extend_track_id=track.pk,
        extend_same_method_pairs=same_method_pairs,
    )

    with django_capture_on_commit_callbacks(execute=True):
        generation_render(item_ids=list(job.items.values_list("pk", flat=True)))

    new = set(Video.objects.filter(method=method).values_list("pk", flat=True))
    assert len(new) == 2
    # Each new video against the two already there; the two new seeds against each other only when asked.
    assert TrackItem.objects.filter(track=track).count() == 1 + 2 * 2 + int(same_method_pairs)
    for comparison in Comparison.objects.filter(track_items__track=track):
        assert (comparison.identity_id, comparison.prompt_id) == (identity.pk, prompt.pk)


def test_a_job_without_a_track_builds_no_comparison(django_capture_on_commit_callbacks):
    track = make_track(methods=2)
    comparison = track.comparisons.get()
    method = MethodFactory(
        backend=Method.Backend.PROCEDURAL, settings={"width": 32, "height": 32, "num_frames": 4}
    )
    job = generation_job_create(
        method=method, identities=[comparison.identity], prompts=[comparison.prompt], seeds=1
    )

    with django_capture_on_commit_callbacks(execute=True):
        generation_render(item_ids=list(job.items.values_list("pk", flat=True)))

    assert Comparison.objects.count() == 1


def test_the_job_page_warns_when_the_videos_it_adds_to_a_track_differ_in_size(
    django_capture_on_commit_callbacks, admin_client
):
    track = make_track(methods=2)  # 32×32 videos at 8 fps
    comparison = track.comparisons.get()
    method = MethodFactory(
        backend=Method.Backend.PROCEDURAL, settings={"width": 64, "height": 32, "num_frames": 4}
    )
    job = generation_job_create(
        method=method,
        identities=[comparison.identity],
        prompts=[comparison.prompt],
        seeds=1,
        extend_track_id=track.pk,
    )
    page = admin_client.get(f"/generation/{job.pk}/").content.decode()
    assert "not paired with each other" in page and "differ in what a rater sees" not in page

    with django_capture_on_commit_callbacks(execute=True):
        generation_render(item_ids=list(job.items.values_list("pk", flat=True)))

    warnings = job_track_shape_warnings(job=job)
    assert len(warnings) == 1 and "64×32" in warnings[0] and "32×32" in warnings[0]  # and the frame rate
    assert (
        "Compared videos differ in what a rater sees"
        in admin_client.get(f"/generation/{job.pk}/").content.decode()
    )
