"""Face identity and identity consistency with dlib's face recognition network.

dlib's HOG detector (no upsampling) finds faces, the 5-point landmark model aligns them and the ResNet
network of ``face_recognition_models`` turns each into a 128-number descriptor, trained so that one
person's faces lie within L2 distance 0.6. The 68-point landmark model in that package is never loaded:
its training data forbid commercial use. Models are loaded once per process.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import face_recognition_models
import numpy as np

from generation.metrics.definitions import MetricDefinition, MetricOutcome
from generation.metrics.frames import decode_frames, evenly_spaced, read_image, scaled_size, video_shape
from lib.hashing import sha256_file

# Viewpoints as steps of yaw, from the camera at the person's left to the camera at their right.
# "Left" follows generation.models.Reference.Viewpoint: where the camera stands relative to the person's
# front. With the camera at the person's left, their nose points to the image's left.
VIEWPOINT_STEPS: dict[str, int] = {
    "profile_left": -2,
    "three_quarter_left": -1,
    "front": 0,
    "three_quarter_right": 1,
    "profile_right": 2,
}


@dataclass(frozen=True)
class ReferenceMedia:
    path: Path  # an image (PNG/JPEG) or a video clip of the identity
    is_clip: bool
    viewpoint: str  # generation.models.Reference.Viewpoint value; "unknown" when not tagged


@dataclass(frozen=True)
class Face:
    """The largest face found on one picture."""

    descriptor: np.ndarray  # 128 floats
    # Nose offset from the eyes' midpoint along the eye line, in eye distances: 0 frontal, < 0 when the
    # nose points to the image's left.
    yaw_ratio: float
    area: int


@dataclass(frozen=True)
class ReferenceFaces:
    """The descriptors of one reference (a clip gives one per sampled frame with a face)."""

    viewpoint: str
    descriptors: tuple[np.ndarray, ...]


@dataclass(frozen=True)
class _Models:
    detector: Any
    landmarks: Any
    network: Any


def model_files() -> tuple[Path, ...]:
    """The model files the descriptors depend on (the HOG detector is built into dlib)."""
    return (
        Path(face_recognition_models.pose_predictor_five_point_model_location()),
        Path(face_recognition_models.face_recognition_model_location()),
    )


@functools.cache
def model_hash() -> str:
    """sha256 over the model files' names and sha256 digests: a changed file changes the definition."""
    lines = "".join(f"{path.name} {sha256_file(path)}\n" for path in model_files())
    return hashlib.sha256(lines.encode()).hexdigest()


@functools.cache
def _models() -> _Models:
    # dlib and OpenCV are imported where they are used: web processes import this module (through the
    # metrics' definitions) but never compute a metric, and need neither library in memory.
    import dlib

    landmarks_file, network_file = model_files()
    return _Models(
        detector=dlib.get_frontal_face_detector(),
        landmarks=dlib.shape_predictor(str(landmarks_file)),
        network=dlib.face_recognition_model_v1(str(network_file)),
    )


def yaw_ratio(points: np.ndarray) -> float:
    """How far the nose sits off the eyes' midpoint, along the eye line, in eye distances.

    ``points``: the 5 landmarks as (x, y) rows, as dlib's 5-point model gives them (two corners of one
    eye, two of the other, the base of the nose). Projecting on the eye line makes it independent of roll.
    """
    eye_a, eye_b = points[0:2].mean(axis=0), points[2:4].mean(axis=0)
    left, right = (eye_a, eye_b) if eye_a[0] <= eye_b[0] else (eye_b, eye_a)
    axis = right - left
    length2 = float(axis @ axis)
    if length2 == 0.0:
        return 0.0
    return float((points[4] - (left + right) / 2) @ axis / length2)


def viewpoint_of(ratio: float, *, three_quarter: float, profile: float) -> str:
    """The viewpoint a face's yaw ratio stands for (thresholds on ``abs(ratio)``)."""
    size = abs(ratio)
    if size < three_quarter:
        return "front"
    side = "left" if ratio < 0 else "right"
    return f"profile_{side}" if size >= profile else f"three_quarter_{side}"


def largest_face(rgb: np.ndarray, *, upsample: int) -> Face | None:
    """The descriptor of the largest face the detector finds on an RGB uint8 picture, if any."""
    models = _models()
    rgb = np.ascontiguousarray(rgb)
    boxes = list(models.detector(rgb, upsample))
    if not boxes:
        return None
    box = max(boxes, key=lambda found: found.area())
    shape = models.landmarks(rgb, box)
    points = np.array([(point.x, point.y) for point in shape.parts()], dtype=np.float64)
    descriptor = np.array(models.network.compute_face_descriptor(rgb, shape, 0), dtype=np.float64)
    descriptor.flags.writeable = False
    return Face(descriptor=descriptor, yaw_ratio=yaw_ratio(points), area=int(box.area()))


def faces_of_frames(frames: Sequence[np.ndarray], *, upsample: int) -> list[Face | None]:
    return [largest_face(frame, upsample=upsample) for frame in frames]


def reference_faces(reference: ReferenceMedia, *, settings: Mapping[str, Any]) -> ReferenceFaces:
    """The descriptors of a reference; cached per file (and its modification) for the process's life."""
    stat = os.stat(reference.path)
    return _reference_faces(
        str(reference.path),
        stat.st_mtime_ns,
        stat.st_size,
        reference.is_clip,
        reference.viewpoint,
        int(settings["reference_clip_frames"]),
        int(settings["reference_long_side"]),
        int(settings["upsample"]),
    )


@functools.lru_cache(maxsize=256)
def _reference_faces(
    path: str,
    _mtime_ns: int,
    _size: int,
    is_clip: bool,
    viewpoint: str,
    clip_frames: int,
    long_side: int,
    upsample: int,
) -> ReferenceFaces:
    if is_clip:
        shape = video_shape(Path(path))
        size = scaled_size(shape.width, shape.height, long_side=long_side)
        pictures = list(
            decode_frames(Path(path), {size: evenly_spaced(clip_frames, shape.num_frames)})[size].values()
        )
    else:
        image = read_image(Path(path))
        height, width = image.shape[:2]
        size = scaled_size(width, height, long_side=long_side)
        if size != (width, height):
            import cv2

            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        pictures = [image]
    found = [face for face in faces_of_frames(pictures, upsample=upsample) if face is not None]
    return ReferenceFaces(viewpoint=viewpoint, descriptors=tuple(face.descriptor for face in found))


def _distances(face: Face, descriptors: Sequence[np.ndarray]) -> float:
    return float(np.min(np.linalg.norm(np.stack(descriptors) - face.descriptor, axis=1)))


def face_identity(
    faces: Sequence[Face | None], references: Sequence[ReferenceFaces], *, definition: MetricDefinition
) -> MetricOutcome:
    """Distance from each sampled frame's face to the nearest reference face; the value is their mean."""
    settings = definition.settings
    found = [face for face in faces if face is not None]
    with_face = [reference for reference in references if reference.descriptors]
    base: dict[str, Any] = {
        "frames_sampled": len(faces),
        "frames_with_face": len(found),
        "face_rate": len(found) / len(faces) if faces else 0.0,
        "references": len(references),
        "references_with_face": len(with_face),
    }
    if not found:
        note = f"No face found on any of the {len(faces)} sampled frames."
        return MetricOutcome(definition=definition, status="no_face", details=base, note=note)
    if not references:
        note = "The identity has no reference media to compare with."
        return MetricOutcome(definition=definition, status="no_face", details=base, note=note)
    if not with_face:
        note = f"None of the {len(references)} references shows a face the detector finds."
        return MetricOutcome(definition=definition, status="no_face", details=base, note=note)
    every = [descriptor for reference in with_face for descriptor in reference.descriptors]
    distances = np.array([_distances(face, every) for face in found])
    threshold = float(settings["threshold"])
    details = {
        **base,
        "mean": float(distances.mean()),
        "worst_decile": float(np.quantile(distances, float(settings["worst_quantile"]))),
        "match_rate": float((distances < threshold).mean()),
        "min": float(distances.min()),
        "max": float(distances.max()),
        "threshold": threshold,
    }
    viewpoints = [
        viewpoint_of(
            face.yaw_ratio,
            three_quarter=float(settings["yaw_ratio_three_quarter"]),
            profile=float(settings["yaw_ratio_profile"]),
        )
        for face in found
    ]
    details["frame_viewpoints"] = dict(Counter(viewpoints))
    tagged = [reference for reference in with_face if reference.viewpoint in VIEWPOINT_STEPS]
    if tagged:
        nearest = []
        for face, viewpoint in zip(found, viewpoints, strict=True):
            gaps = [
                abs(VIEWPOINT_STEPS[reference.viewpoint] - VIEWPOINT_STEPS[viewpoint]) for reference in tagged
            ]
            closest = [ref for ref, gap in zip(tagged, gaps, strict=True) if gap == min(gaps)]
            nearest.append(min(_distances(face, reference.descriptors) for reference in closest))
        details["nearest_viewpoint_mean"] = float(np.mean(nearest))
    note = ""
    if len(with_face) < len(references):
        skipped = len(references) - len(with_face)
        note = f"{skipped} of the {len(references)} references showed no face the detector finds; skipped."
    return MetricOutcome(
        definition=definition, status="computed", value=details["mean"], details=details, note=note
    )


def identity_consistency(faces: Sequence[Face | None], *, definition: MetricDefinition) -> MetricOutcome:
    """Mean L2 distance of the frames' face descriptors to their mean descriptor."""
    found = [face for face in faces if face is not None]
    details: dict[str, Any] = {
        "frames_sampled": len(faces),
        "frames_with_face": len(found),
        "face_rate": len(found) / len(faces) if faces else 0.0,
    }
    if len(found) < 2:
        note = f"A face was found on {len(found)} of the {len(faces)} sampled frames; at least 2 are needed."
        return MetricOutcome(definition=definition, status="no_face", details=details, note=note)
    descriptors = np.stack([face.descriptor for face in found])
    spread = np.linalg.norm(descriptors - descriptors.mean(axis=0), axis=1)
    details.update({"mean": float(spread.mean()), "max": float(spread.max())})
    return MetricOutcome(definition=definition, status="computed", value=details["mean"], details=details)
