"""dlib's face model loads from its installed package with no network and tells people apart."""

from __future__ import annotations

import io
import itertools
import socket

import cv2
import numpy as np
import pytest
from PIL import Image

from generation.metrics import face
from tests.generation.metrics.media import astronaut, grace_hopper


def variants(picture: np.ndarray) -> dict[str, np.ndarray]:
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="JPEG", quality=20)
    return {
        "original": picture,
        "flipped": np.ascontiguousarray(picture[:, ::-1]),
        "darkened": (picture * 0.5).astype(np.uint8),
        "blurred": cv2.GaussianBlur(picture, (0, 0), 2.0),
        "jpeg_q20": np.asarray(Image.open(buffer).convert("RGB")),
    }


def descriptors(picture: np.ndarray) -> dict[str, np.ndarray]:
    found = {}
    for name, variant in variants(picture).items():
        detected = face.largest_face(variant, upsample=0)
        assert detected is not None, f"no face found on the {name} variant"
        found[name] = detected.descriptor
    return found


def test_the_face_model_loads_from_its_package_and_tells_two_people_apart_without_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network access in a test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    # Load from scratch with the network blocked, not the copy another test already loaded.
    face._models.cache_clear()
    face.model_hash.cache_clear()

    assert len(face.model_hash()) == 64
    collins, hopper = descriptors(astronaut()), descriptors(grace_hopper())

    assert all(vector.shape == (128,) for vector in (*collins.values(), *hopper.values()))
    for person in (collins, hopper):
        for name, vector in person.items():
            assert np.linalg.norm(vector - person["original"]) < 0.6, name
    for (name_a, a), (name_b, b) in itertools.product(collins.items(), hopper.items()):
        assert np.linalg.norm(a - b) > 0.6, (name_a, name_b)


def test_the_68_point_landmark_model_is_not_among_the_files_used() -> None:
    names = [path.name for path in face.model_files()]

    assert names == ["shape_predictor_5_face_landmarks.dat", "dlib_face_recognition_resnet_model_v1.dat"]
    assert all(path.is_file() for path in face.model_files())
