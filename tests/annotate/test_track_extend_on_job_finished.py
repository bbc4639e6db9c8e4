from __future__ import annotations

import pytest

from annotate.models import Comparison, TrackItem
from generation.models import Method, Video
from generation.services import generation_job_create, generation_render
from tests.factories import MethodFactory, make_track

pytestmark = pytest.mark.django_db


def test_a_finished_job_that_names_a_track_adds_comparisons_of_its_videos(django_capture_on_commit_callbacks):
    track = make_track(methods=2)  # one case, two methods: one comparison
    identity, prompt = track.comparisons.get().identity, track.comparisons.get().prompt
    method = MethodFactory(
        backend=Method.Backend.PROCEDURAL,
        settings={"width": 32, "height": 32, "num_frames": 4, "fidelity": 0.6, "control": 0.8},
    )
    job = generation_job_create(
        method=method, identities=[identity], prompts=[prompt], seeds=2, extend_track_id=track.pk
    )

    with django_capture_on_commit_callbacks(execute=True):
        generation_render(item_ids=list(job.items.values_list("pk", flat=True)))

    new = set(Video.objects.filter(method=method).values_list("pk", flat=True))
    assert len(new) == 2
    # Each new video against the two already there, and the two new seeds against each other.
    assert TrackItem.objects.filter(track=track).count() == 1 + 2 * 2 + 1
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
