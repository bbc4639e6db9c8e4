"""metrics_of_video as the metrics task's service calls it: which outcomes, and failures kept per metric."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_django.fixtures import Settings

from generation.metrics.compute import ReferenceMedia, metrics_of_video
from generation.metrics.definitions import METRICS


def test_every_metric_of_a_video_comes_back_in_the_definitions_order(
    settings: Settings, astronaut_video: Path, astronaut_references: list[ReferenceMedia]
) -> None:
    settings.TEXT_ALIGNMENT_MODEL = ""

    outcomes = metrics_of_video(
        video_path=astronaut_video, references=astronaut_references, prompt_text="a smile"
    )

    assert [outcome.definition.spec.name for outcome in outcomes] == list(METRICS)
    assert [outcome.status for outcome in outcomes] == ["computed"] * 4 + ["unavailable"]
    assert all(outcome.value is None for outcome in outcomes if outcome.status != "computed")


def test_only_the_named_metrics_are_computed(astronaut_video: Path) -> None:
    outcomes = metrics_of_video(video_path=astronaut_video, references=[], prompt_text="", names=["flicker"])

    assert [outcome.definition.spec.name for outcome in outcomes] == ["flicker"]


def test_an_unknown_metric_name_is_refused_naming_it(astronaut_video: Path) -> None:
    with pytest.raises(ValueError, match="unknown metrics: sharpness"):
        metrics_of_video(
            video_path=astronaut_video, references=[], prompt_text="", names=["flicker", "sharpness"]
        )


def test_a_file_that_is_no_video_fails_every_metric_with_the_reason_instead_of_raising(
    settings: Settings, tmp_path: Path
) -> None:
    settings.TEXT_ALIGNMENT_MODEL = ""
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 100)

    outcomes = {
        outcome.definition.spec.name: outcome
        for outcome in metrics_of_video(video_path=broken, references=[], prompt_text="")
    }

    assert outcomes.pop("text_alignment").status == "unavailable"  # known before any decoding
    assert {outcome.status for outcome in outcomes.values()} == {"failed"}
    assert all(outcome.note.startswith("The video could not be decoded: ") for outcome in outcomes.values())
    assert all(len(outcome.note) <= 300 for outcome in outcomes.values())


def test_a_reference_that_cannot_be_read_fails_face_identity_only(
    astronaut_video: Path, tmp_path: Path
) -> None:
    missing = ReferenceMedia(path=tmp_path / "gone.png", is_clip=False, viewpoint="front")

    outcomes = {
        outcome.definition.spec.name: outcome
        for outcome in metrics_of_video(
            video_path=astronaut_video,
            references=[missing],
            prompt_text="",
            names=["face_identity", "identity_consistency"],
        )
    }

    assert outcomes["face_identity"].status == "failed"
    assert outcomes["face_identity"].note.startswith("Failed: FileNotFoundError")
    assert outcomes["identity_consistency"].status == "computed"
