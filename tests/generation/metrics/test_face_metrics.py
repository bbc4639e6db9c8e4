"""Face identity and identity consistency of whole videos, through metrics_of_video."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from generation.metrics import face
from generation.metrics.compute import ReferenceMedia, metric_definitions, metrics_of_video
from generation.metrics.definitions import MetricOutcome
from tests.generation.metrics.media import astronaut, texture, write_mp4

FACE_METRICS = {"face_identity", "identity_consistency"}


def face_outcomes(video: Path, references: list[ReferenceMedia]) -> dict[str, MetricOutcome]:
    outcomes = metrics_of_video(video_path=video, references=references, prompt_text="", names=FACE_METRICS)
    return {outcome.definition.spec.name: outcome for outcome in outcomes}


def test_a_video_of_the_astronaut_is_close_to_her_references_on_every_frame(
    astronaut_video: Path, astronaut_references: list[ReferenceMedia]
) -> None:
    outcomes = face_outcomes(astronaut_video, astronaut_references)

    identity = outcomes["face_identity"]
    assert identity.status == "computed"
    assert identity.details["frames_sampled"] == 5  # every frame of a 5-frame video
    assert identity.details["face_rate"] == 1.0
    assert identity.value is not None and identity.value < 0.6
    assert identity.value == identity.details["mean"]
    assert identity.details["mean"] <= identity.details["worst_decile"] < 0.6
    assert identity.details["match_rate"] == 1.0
    assert identity.seconds > 0
    # The same face drifting over the frames: the descriptors barely spread.
    consistency = outcomes["identity_consistency"]
    assert consistency.status == "computed"
    assert consistency.value is not None and consistency.value < 0.15


def test_a_video_of_the_astronaut_is_far_from_grace_hoppers_reference(
    astronaut_video: Path, grace_hopper_reference: ReferenceMedia
) -> None:
    identity = face_outcomes(astronaut_video, [grace_hopper_reference])["face_identity"]

    assert identity.status == "computed"
    assert identity.value is not None and identity.value > 0.6
    assert identity.details["match_rate"] == 0.0


def test_the_distance_is_to_the_nearest_reference(
    astronaut_video: Path, astronaut_references: list[ReferenceMedia], grace_hopper_reference: ReferenceMedia
) -> None:
    alone = face_outcomes(astronaut_video, astronaut_references[:1])["face_identity"]
    with_another = face_outcomes(astronaut_video, [grace_hopper_reference, astronaut_references[0]])[
        "face_identity"
    ]

    assert with_another.value == pytest.approx(alone.value)


def test_a_video_without_a_face_gives_no_face_outcomes_with_a_note(
    tmp_path: Path, astronaut_references: list[ReferenceMedia]
) -> None:
    still = texture(320, 288)
    video = write_mp4(tmp_path / "texture.mp4", [still] * 5)

    outcomes = face_outcomes(video, astronaut_references)

    assert {outcome.status for outcome in outcomes.values()} == {"no_face"}
    assert outcomes["face_identity"].value is None
    assert outcomes["face_identity"].details["face_rate"] == 0.0
    assert outcomes["face_identity"].note == "No face found on any of the 5 sampled frames."
    assert "0 of the 5 sampled frames" in outcomes["identity_consistency"].note


def test_the_face_rate_counts_the_frames_that_show_a_face(
    tmp_path: Path, astronaut_references: list[ReferenceMedia]
) -> None:
    background = texture(320, 288)
    with_face = background.copy()
    with_face[30:270, 20:250] = astronaut()[20:260, 110:340]
    video = write_mp4(tmp_path / "half.mp4", [with_face, background, with_face, background])

    identity = face_outcomes(video, astronaut_references)["face_identity"]

    assert identity.status == "computed"
    assert (identity.details["frames_with_face"], identity.details["face_rate"]) == (2, 0.5)


def test_references_without_a_face_are_skipped_with_a_note(
    astronaut_video: Path, astronaut_references: list[ReferenceMedia], faceless_reference: ReferenceMedia
) -> None:
    identity = face_outcomes(astronaut_video, [faceless_reference, astronaut_references[0]])["face_identity"]

    assert identity.status == "computed"
    assert identity.value is not None and identity.value < 0.6
    assert identity.details["references_with_face"] == 1
    assert identity.note == "1 of the 2 references showed no face the detector finds; skipped."


def test_references_that_all_lack_a_face_give_no_face_saying_so(
    astronaut_video: Path, faceless_reference: ReferenceMedia
) -> None:
    outcomes = face_outcomes(astronaut_video, [faceless_reference])

    assert outcomes["face_identity"].status == "no_face"
    assert outcomes["face_identity"].note == "None of the 1 references shows a face the detector finds."
    # Consistency needs no reference.
    assert outcomes["identity_consistency"].status == "computed"


def test_an_identity_without_references_gives_no_face_saying_so(astronaut_video: Path) -> None:
    identity = face_outcomes(astronaut_video, [])["face_identity"]

    assert identity.status == "no_face"
    assert identity.note == "The identity has no reference media to compare with."


def test_a_reference_clip_gives_descriptors_from_its_frames(
    astronaut_video: Path, media_folder: Path
) -> None:
    clip = ReferenceMedia(path=astronaut_video, is_clip=True, viewpoint="unknown")

    found = face.reference_faces(
        clip, settings={"reference_clip_frames": 4, "reference_long_side": 1280, "upsample": 0}
    )
    identity = face_outcomes(astronaut_video, [clip])["face_identity"]

    assert len(found.descriptors) == 4
    assert identity.status == "computed"
    assert identity.value is not None and identity.value < 0.2


def test_the_nearest_viewpoint_distance_uses_the_reference_tagged_nearest_to_the_frames_pose(
    astronaut_video: Path, astronaut_references: list[ReferenceMedia], grace_hopper_reference: ReferenceMedia
) -> None:
    """The video's face is frontal: with the astronaut tagged front, the nearest viewpoint is hers; tagged
    as a profile while Grace Hopper is tagged front, it is Grace Hopper's, although hers stays nearest."""
    definition = metric_definitions()["face_identity"]
    faces = face.faces_of_frames(list(decode_all(astronaut_video)), upsample=0)
    collins, hopper = (
        face.reference_faces(reference, settings=definition.settings)
        for reference in (astronaut_references[0], grace_hopper_reference)
    )

    def identity(collins_viewpoint: str, hopper_viewpoint: str) -> MetricOutcome:
        references = [
            replace(collins, viewpoint=collins_viewpoint),
            replace(hopper, viewpoint=hopper_viewpoint),
        ]
        return face.face_identity(faces, references, definition=definition)

    untagged, right, wrong = (
        identity("unknown", "unknown"),
        identity("front", "profile_left"),
        identity("profile_left", "front"),
    )

    assert "nearest_viewpoint_mean" not in untagged.details
    assert right.details["frame_viewpoints"] == {"front": 5}
    assert right.details["nearest_viewpoint_mean"] == pytest.approx(right.value)
    assert right.details["nearest_viewpoint_mean"] < 0.6
    assert wrong.value == pytest.approx(right.value)
    assert wrong.details["nearest_viewpoint_mean"] > 0.6


def decode_all(video: Path) -> list[np.ndarray]:
    with av.open(str(video)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def test_the_yaw_ratio_follows_the_nose_and_mirrors_with_the_picture() -> None:
    picture = astronaut()
    frontal = face.largest_face(picture, upsample=0)
    mirrored = face.largest_face(np.ascontiguousarray(picture[:, ::-1]), upsample=0)
    # Eye corners at x 0–10 and 30–40 and the nose a quarter of the eye distance to the left of their
    # midpoint; then the same face rolled by 30°.
    turned = np.array([[10, 0], [0, 0], [30, 0], [40, 0], [12.5, 12]], dtype=float)
    angle = np.radians(30)
    rolled = turned @ np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])

    assert frontal is not None and mirrored is not None
    assert abs(frontal.yaw_ratio) < 0.15
    assert mirrored.yaw_ratio == pytest.approx(-frontal.yaw_ratio, abs=0.03)
    assert face.yaw_ratio(turned) == pytest.approx(-0.25)
    assert face.yaw_ratio(rolled) == pytest.approx(-0.25)
    assert face.yaw_ratio(turned * [-1, 1]) == pytest.approx(0.25)  # mirrored: nose to the right


@pytest.mark.parametrize(
    ("ratio", "viewpoint"),
    [
        (0.0, "front"),
        (0.1, "front"),
        (-0.3, "three_quarter_left"),
        (0.3, "three_quarter_right"),
        (-1.2, "profile_left"),
        (0.9, "profile_right"),
    ],
)
def test_a_yaw_ratio_maps_to_a_viewpoint(ratio: float, viewpoint: str) -> None:
    assert face.viewpoint_of(ratio, three_quarter=0.15, profile=0.85) == viewpoint


def test_a_photograph_stored_sideways_is_turned_upright_as_its_exif_orientation_says(tmp_path: Path) -> None:
    sideways = Image.fromarray(astronaut()).rotate(90, expand=True)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    sideways.save(tmp_path / "tagged.jpg", exif=exif, quality=90)
    sideways.save(tmp_path / "untagged.jpg", quality=90)
    settings = metric_definitions()["face_identity"].settings

    tagged, untagged = (
        face.reference_faces(
            ReferenceMedia(path=tmp_path / name, is_clip=False, viewpoint="front"), settings=settings
        )
        for name in ("tagged.jpg", "untagged.jpg")
    )

    assert len(tagged.descriptors) == 1
    assert untagged.descriptors == ()  # the detector finds no sideways face
