"""Dynamic degree and flicker on synthetic videos whose motion is known."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from generation.metrics.compute import metrics_of_video
from generation.metrics.definitions import MetricOutcome
from tests.generation.metrics.media import pan_video, texture, write_mp4


def motion(video: Path) -> dict[str, MetricOutcome]:
    outcomes = metrics_of_video(
        video_path=video, references=[], prompt_text="", names={"dynamic_degree", "flicker"}
    )
    return {outcome.definition.spec.name: outcome for outcome in outcomes}


def test_a_pan_of_3_pixels_a_frame_measures_3_pixels_a_frame(tmp_path: Path) -> None:
    video = pan_video(tmp_path / "pan.mp4", height=128, width=160, frames=12, step=3)

    degree = motion(video)["dynamic_degree"]

    assert degree.status == "computed"
    assert degree.details["px_per_frame"] == pytest.approx(3.0, rel=0.1)
    # Frames this small are not scaled: the value is the same motion over the frame diagonal.
    assert (degree.details["flow_width"], degree.details["flow_height"]) == (160, 128)
    assert degree.value == pytest.approx(degree.details["px_per_frame"] / math.hypot(160, 128))


def test_a_larger_video_is_measured_scaled_down_and_reported_at_its_own_size(tmp_path: Path) -> None:
    video = pan_video(tmp_path / "pan.mp4", height=512, width=640, frames=12, step=6)

    degree = motion(video)["dynamic_degree"]

    assert (degree.details["flow_width"], degree.details["flow_height"]) == (320, 256)
    assert degree.details["px_per_frame"] == pytest.approx(6.0, rel=0.1)
    # Normalised by the diagonal, the figure does not depend on the size it was measured at.
    assert degree.value == pytest.approx(6.0 / math.hypot(640, 512), rel=0.1)


def test_a_still_video_has_no_motion_and_no_flicker(tmp_path: Path) -> None:
    video = write_mp4(tmp_path / "still.mp4", [texture(128, 160)] * 8)

    outcomes = motion(video)

    assert outcomes["dynamic_degree"].details["px_per_frame"] < 0.1
    assert outcomes["flicker"].status == "computed"
    assert outcomes["flicker"].value is not None and outcomes["flicker"].value < 0.005


def test_frames_alternating_between_black_and_white_flicker_at_the_top_of_the_scale(tmp_path: Path) -> None:
    black, white = np.zeros((64, 64, 3), np.uint8), np.full((64, 64, 3), 255, np.uint8)
    video = write_mp4(tmp_path / "alternating.mp4", [black, white] * 4)

    flicker = motion(video)["flicker"]

    assert flicker.value is not None and flicker.value > 0.95
    assert flicker.details["pairs"] == 7


def test_a_video_of_one_frame_has_no_pair_to_measure(tmp_path: Path) -> None:
    video = write_mp4(tmp_path / "one.mp4", [texture(64, 64)])

    outcomes = motion(video)

    assert {outcome.status for outcome in outcomes.values()} == {"failed"}
    assert outcomes["flicker"].note == "The video has fewer than 2 frames."
