"""video_metrics_compute: a video's current metrics, stored once each, whatever happens to one of them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from generation.metrics.compute import metric_definitions
from generation.models import Identity, VideoMetric
from generation.services import metrics as metrics_service
from generation.services import (
    reference_create,
    video_degraded_copy,
    video_import_file,
    video_metrics_compute,
)
from tests.factories import IdentityFactory, MethodFactory, PromptFactory, make_video
from tests.generation.metrics.media import astronaut, face_video, grace_hopper

pytestmark = pytest.mark.django_db

NAMES = {"face_identity", "identity_consistency", "dynamic_degree", "flicker", "text_alignment"}


def rows_by_name(video_id: int) -> dict[str, VideoMetric]:
    return {row.name: row for row in VideoMetric.objects.filter(video_id=video_id)}


def patch_compute(monkeypatch: pytest.MonkeyPatch, wrapper: Callable[..., Any]) -> list[list[str]]:
    """Replace the metric code the service calls with ``wrapper(real, **kwargs)``; return the names asked."""
    real = metrics_service.metrics_of_video
    asked: list[list[str]] = []

    def compute(**kwargs: Any) -> Any:
        asked.append(sorted(kwargs["names"]))
        return wrapper(real, **kwargs)

    monkeypatch.setattr(metrics_service, "metrics_of_video", compute)
    return asked


def test_every_current_metric_of_a_video_is_stored_under_its_definition():
    video = make_video(frames=12)

    stored = video_metrics_compute(video_id=video.pk)

    definitions = metric_definitions()
    rows = rows_by_name(video.pk)
    assert set(rows) == NAMES == {row.name for row in stored}
    for name, row in rows.items():
        definition = definitions[name]
        assert (row.version, row.definition) == (definition.spec.version, definition.digest)
        assert (row.model_hash, row.settings) == (definition.model_hash, definition.settings)
        assert row.seconds >= 0
    # The gradient moves from frame to frame: the motion metrics have values.
    for name in ("dynamic_degree", "flicker"):
        assert rows[name].status == VideoMetric.Status.COMPUTED and rows[name].value is not None
    assert rows["flicker"].value > 0


def test_a_video_without_a_face_is_reported_as_such_not_as_a_failure():
    video = make_video()

    video_metrics_compute(video_id=video.pk)

    rows = rows_by_name(video.pk)
    for name in ("face_identity", "identity_consistency"):
        assert (rows[name].status, rows[name].value) == (VideoMetric.Status.NO_FACE, None)
        assert rows[name].note
    assert rows["text_alignment"].status == VideoMetric.Status.UNAVAILABLE


def test_computing_a_video_again_computes_nothing(monkeypatch):
    video = make_video()
    video_metrics_compute(video_id=video.pk)
    before = {row.pk: row.computed_at for row in VideoMetric.objects.filter(video=video)}
    asked = patch_compute(monkeypatch, lambda real, **kwargs: real(**kwargs))

    assert video_metrics_compute(video_id=video.pk) == []

    assert asked == []
    assert {row.pk: row.computed_at for row in VideoMetric.objects.filter(video=video)} == before


def test_a_redelivered_task_computes_only_the_metrics_that_have_no_row(monkeypatch):
    video = make_video()
    video_metrics_compute(video_id=video.pk)
    VideoMetric.objects.filter(video=video, name="flicker").delete()
    asked = patch_compute(monkeypatch, lambda real, **kwargs: real(**kwargs))

    stored = video_metrics_compute(video_id=video.pk)

    assert asked == [["flicker"]]
    assert [row.name for row in stored] == ["flicker"]
    assert VideoMetric.objects.filter(video=video).count() == len(NAMES)


def test_a_metric_that_raises_is_stored_as_failed_naming_the_error_and_the_others_are_stored(monkeypatch):
    def flicker_breaks(real: Callable[..., Any], **kwargs: Any) -> Any:
        if "flicker" in kwargs["names"]:
            raise RuntimeError("flicker exploded")
        return real(**kwargs)

    asked = patch_compute(monkeypatch, flicker_breaks)
    video = make_video()

    video_metrics_compute(video_id=video.pk)

    rows = rows_by_name(video.pk)
    assert set(rows) == NAMES
    assert (rows["flicker"].status, rows["flicker"].value) == (VideoMetric.Status.FAILED, None)
    assert rows["flicker"].note == "RuntimeError: flicker exploded"
    assert rows["dynamic_degree"].status == VideoMetric.Status.COMPUTED
    assert asked[0] == sorted(NAMES)  # all at once first, then one by one
    assert sorted(asked[1:]) == [[name] for name in sorted(NAMES)]


def test_two_computations_of_one_video_at_once_leave_one_row_per_definition(monkeypatch):
    video = make_video()

    def another_worker_finishes_first(real: Callable[..., Any], **kwargs: Any) -> Any:
        monkeypatch.setattr(metrics_service, "metrics_of_video", real)
        video_metrics_compute(video_id=video.pk)  # the other task, while this one computes
        return real(**kwargs)

    patch_compute(monkeypatch, another_worker_finishes_first)

    stored = video_metrics_compute(video_id=video.pk)

    assert {row.name for row in stored} == NAMES
    assert VideoMetric.objects.filter(video=video).count() == len(NAMES)


def test_a_gold_copy_and_a_deleted_video_get_no_metrics():
    video = make_video()
    copy = video_degraded_copy(video=video)

    assert video_metrics_compute(video_id=copy.pk) == []
    assert video_metrics_compute(video_id=10**12) == []
    assert not VideoMetric.objects.exists()


def identity_with(folder: Path, *, photograph: np.ndarray | None = None, clip: bool = False) -> Identity:
    """An identity whose one reference is ``photograph`` (an image) or, with ``clip``, a clip of the
    astronaut, stored in the catalog as an import stores them."""
    identity = IdentityFactory()
    if clip:
        source, kind = face_video(folder / f"{identity.slug}.mp4", frames=3), "video"
    else:
        source, kind = folder / f"{identity.slug}.png", "face"
        Image.fromarray(photograph).save(source)
    reference_create(identity=identity, kind=kind, source=source, is_primary=True)
    return identity


@pytest.mark.parametrize(
    ("reference", "same_person"),
    [("astronaut photograph", True), ("astronaut clip", True), ("grace hopper photograph", False)],
)
def test_the_face_metric_compares_the_video_with_its_identitys_references(tmp_path, reference, same_person):
    photograph = grace_hopper() if reference.startswith("grace") else astronaut()
    identity = identity_with(tmp_path, photograph=photograph, clip=reference.endswith("clip"))
    video = video_import_file(
        source=face_video(tmp_path / "video.mp4", frames=6),
        method=MethodFactory(),
        identity=identity,
        prompt=PromptFactory(),
        seed=0,
    )

    video_metrics_compute(video_id=video.pk)

    row = VideoMetric.objects.get(video=video, name="face_identity")
    assert row.status == VideoMetric.Status.COMPUTED
    # dlib's rule: the same person below a distance of 0.6.
    assert (row.value < 0.6) == same_person, row.value
    assert VideoMetric.objects.get(video=video, name="identity_consistency").value < 0.15
