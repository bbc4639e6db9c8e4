"""Every automatic metric of one video file, on the CPU: the function the metrics task's service calls.

Pure functions of files: no database. The video is decoded once; each metric takes the frames it needs
at the size it needs (see the settings below, which are part of each metric's definition digest).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from generation.metrics import face, motion, text
from generation.metrics.definitions import (
    DYNAMIC_DEGREE,
    FACE_IDENTITY,
    FLICKER,
    IDENTITY_CONSISTENCY,
    METRICS,
    TEXT_ALIGNMENT,
    MetricDefinition,
    MetricOutcome,
)
from generation.metrics.face import ReferenceMedia
from generation.metrics.frames import (
    Size,
    VideoShape,
    consecutive_pairs,
    decode_frames,
    evenly_spaced,
    scaled_size,
    video_shape,
)

__all__ = ["ReferenceMedia", "metric_definitions", "metrics_of_video"]

logger = logging.getLogger(__name__)

# Face detection runs once on these frames for both face metrics (so both definitions carry them). The
# published shape (704×1280) is not scaled down: the HOG detector misses faces under about 80 pixels, and
# it costs ~70 ms a frame there. 32 frames (~150 ms each with the descriptor) keep a video near 6 s.
FACE_FRAMES: dict[str, Any] = {
    "frames": 32,
    "long_side": 1280,
    "detector": "dlib HOG",
    "upsample": 0,
    "landmarks": "dlib 5-point",
}
FACE_IDENTITY_SETTINGS: dict[str, Any] = {
    **FACE_FRAMES,
    "threshold": 0.6,
    "worst_quantile": 0.9,
    "reference_clip_frames": 4,
    "reference_long_side": 1280,
    "yaw_ratio_three_quarter": 0.15,
    "yaw_ratio_profile": 0.85,
}
# Flow and flicker share pairs of neighbouring frames, scaled to a short side of 256 pixels (DIS takes
# ~10 ms a pair there; a pan measures within 5 % of its true speed, tests/generation/metrics).
MOTION_FRAMES: dict[str, Any] = {"pairs": 60, "short_side": 256}
DYNAMIC_DEGREE_SETTINGS: dict[str, Any] = {**MOTION_FRAMES, "flow_preset": "medium", "top_fraction": 0.05}
FLICKER_SETTINGS: dict[str, Any] = dict(MOTION_FRAMES)
TEXT_ALIGNMENT_SETTINGS: dict[str, Any] = {"frames": 8, "short_side": 256}


def metric_definitions() -> dict[str, MetricDefinition]:
    """The current definition of every metric (name → definition): version, model file sha256, settings."""
    face_hash = face.model_hash()
    return {
        FACE_IDENTITY.name: MetricDefinition(FACE_IDENTITY, face_hash, dict(FACE_IDENTITY_SETTINGS)),
        IDENTITY_CONSISTENCY.name: MetricDefinition(IDENTITY_CONSISTENCY, face_hash, dict(FACE_FRAMES)),
        DYNAMIC_DEGREE.name: MetricDefinition(DYNAMIC_DEGREE, "", dict(DYNAMIC_DEGREE_SETTINGS)),
        FLICKER.name: MetricDefinition(FLICKER, "", dict(FLICKER_SETTINGS)),
        TEXT_ALIGNMENT.name: MetricDefinition(
            TEXT_ALIGNMENT, text.model_hash(text.model_folder()), dict(TEXT_ALIGNMENT_SETTINGS)
        ),
    }


def metrics_of_video(
    *,
    video_path: Path,
    references: Sequence[ReferenceMedia],
    prompt_text: str,
    names: Collection[str] | None = None,
) -> list[MetricOutcome]:
    """Every metric (or those named) of one video file; never raises for a video without faces
    (status "no_face", with a note) or for text alignment without weights (status "unavailable").

    A metric whose computation raises (an undecodable file, say) gives a "failed" outcome naming the
    error, so one metric never hides the others. Each outcome's ``seconds`` is its own computation plus an
    equal share of the decoding (and, for the face metrics, of the face detection they share).
    """
    unknown = set(names or ()) - set(METRICS)
    if unknown:
        raise ValueError(f"unknown metrics: {', '.join(sorted(unknown))}")
    definitions = {
        name: definition
        for name, definition in metric_definitions().items()
        if names is None or name in names
    }
    run = _Run(video_path=video_path, definitions=definitions)
    outcomes: dict[str, MetricOutcome] = {}
    folder = text.model_folder()
    if TEXT_ALIGNMENT.name in definitions and (folder is None or not folder.is_dir()):
        # Known before decoding anything: no weights, no frames needed.
        outcomes[TEXT_ALIGNMENT.name] = text.text_alignment(
            [], prompt_text, folder=folder, definition=definitions[TEXT_ALIGNMENT.name]
        )
    decoding = [name for name in definitions if name not in outcomes]
    try:
        run.decode(decoding)
    except Exception as error:
        logger.exception("decoding %s for metrics failed", video_path)
        note = _error_note("The video could not be decoded", error)
        for name in decoding:
            outcomes[name] = MetricOutcome(definition=definitions[name], status="failed", note=note)
        decoding = []
    shared = run.decode_seconds / len(decoding) if decoding else 0.0

    face_names = [name for name in (FACE_IDENTITY.name, IDENTITY_CONSISTENCY.name) if name in decoding]
    faces: list[face.Face | None] = []
    face_error: Exception | None = None
    shared_face = 0.0
    if face_names:
        started = time.perf_counter()
        try:
            settings = definitions[face_names[0]].settings
            faces = face.faces_of_frames(run.frames(face_names[0]), upsample=int(settings["upsample"]))
        except Exception as error:
            logger.exception("face detection on %s failed", video_path)
            face_error = error
        shared_face = (time.perf_counter() - started) / len(face_names)

    def measure(name: str, compute: Callable[[MetricDefinition], MetricOutcome], extra: float = 0.0) -> None:
        started = time.perf_counter()
        definition = definitions[name]
        try:
            outcome = compute(definition)
        except Exception as error:
            logger.exception("metric %s of %s failed", name, video_path)
            outcome = MetricOutcome(definition=definition, status="failed", note=_error_note("Failed", error))
        seconds = time.perf_counter() - started + shared + extra
        outcomes[name] = dataclasses.replace(outcome, seconds=seconds)

    for name in face_names:
        if face_error is not None:
            note = _error_note("Face detection failed", face_error)
            outcome = MetricOutcome(definition=definitions[name], status="failed", note=note)
            outcomes[name] = dataclasses.replace(outcome, seconds=shared + shared_face)
        elif name == FACE_IDENTITY.name:
            measure(
                name,
                lambda definition: face.face_identity(
                    faces,
                    [
                        face.reference_faces(reference, settings=definition.settings)
                        for reference in references
                    ],
                    definition=definition,
                ),
                shared_face,
            )
        else:
            measure(
                name, lambda definition: face.identity_consistency(faces, definition=definition), shared_face
            )
    if DYNAMIC_DEGREE.name in decoding:
        measure(
            DYNAMIC_DEGREE.name,
            lambda definition: motion.dynamic_degree(
                run.pairs(DYNAMIC_DEGREE.name), scale=run.scale(DYNAMIC_DEGREE.name), definition=definition
            ),
        )
    if FLICKER.name in decoding:
        measure(
            FLICKER.name, lambda definition: motion.flicker(run.pairs(FLICKER.name), definition=definition)
        )
    if TEXT_ALIGNMENT.name in decoding:
        measure(
            TEXT_ALIGNMENT.name,
            lambda definition: text.text_alignment(
                run.frames(TEXT_ALIGNMENT.name), prompt_text, folder=folder, definition=definition
            ),
        )
    return [outcomes[name] for name in definitions]


def _error_note(what: str, error: Exception) -> str:
    return f"{what}: {error.__class__.__name__}: {error}"[:300]


class _Run:
    """The frames each metric of one video asks for, decoded in one pass."""

    def __init__(self, *, video_path: Path, definitions: dict[str, MetricDefinition]) -> None:
        self.video_path = video_path
        self.definitions = definitions
        self.shape: VideoShape | None = None
        self.decode_seconds = 0.0
        self._sizes: dict[str, Size] = {}
        self._indices: dict[str, list[int]] = {}
        self._pairs: dict[str, list[tuple[int, int]]] = {}
        self._decoded: dict[Size, dict[int, np.ndarray]] = {}

    def decode(self, names: Collection[str]) -> None:
        if not names:
            return
        started = time.perf_counter()
        shape = self.shape = video_shape(self.video_path)
        wanted: dict[Size, set[int]] = {}
        for name in names:
            settings = self.definitions[name].settings
            if name in (DYNAMIC_DEGREE.name, FLICKER.name):
                size = scaled_size(shape.width, shape.height, short_side=int(settings["short_side"]))
                pairs = consecutive_pairs(int(settings["pairs"]), shape.num_frames)
                self._pairs[name] = pairs
                indices = [index for pair in pairs for index in pair]
            elif name == TEXT_ALIGNMENT.name:
                size = scaled_size(shape.width, shape.height, short_side=int(settings["short_side"]))
                indices = evenly_spaced(int(settings["frames"]), shape.num_frames)
            else:
                size = scaled_size(shape.width, shape.height, long_side=int(settings["long_side"]))
                indices = evenly_spaced(int(settings["frames"]), shape.num_frames)
            self._sizes[name] = size
            self._indices[name] = indices
            wanted.setdefault(size, set()).update(indices)
        self._decoded = decode_frames(self.video_path, wanted)
        self.decode_seconds = time.perf_counter() - started

    def frames(self, name: str) -> list[np.ndarray]:
        decoded = self._decoded[self._sizes[name]]
        return [decoded[index] for index in self._indices[name] if index in decoded]

    def pairs(self, name: str) -> list[motion.Pair]:
        decoded = self._decoded[self._sizes[name]]
        return [(decoded[a], decoded[b]) for a, b in self._pairs[name] if a in decoded and b in decoded]

    def scale(self, name: str) -> float:
        assert self.shape is not None
        return self._sizes[name][0] / self.shape.width
