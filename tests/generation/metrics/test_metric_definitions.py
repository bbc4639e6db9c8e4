"""A metric's definition digest changes with anything that changes its values, and nothing else."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pytest

from generation.metrics import face
from generation.metrics.compute import metric_definitions
from generation.metrics.definitions import METRICS, MetricDefinition
from lib.hashing import sha256_file


def test_every_metric_has_a_current_definition() -> None:
    definitions = metric_definitions()

    assert list(definitions) == list(METRICS)
    assert all(definition.spec is METRICS[name] for name, definition in definitions.items())
    assert metric_definitions()["face_identity"].digest == definitions["face_identity"].digest


def test_the_face_metrics_carry_the_hash_of_the_model_files_they_use() -> None:
    lines = "".join(f"{path.name} {sha256_file(path)}\n" for path in face.model_files())
    definitions = metric_definitions()

    assert definitions["face_identity"].model_hash == hashlib.sha256(lines.encode()).hexdigest()
    assert definitions["identity_consistency"].model_hash == definitions["face_identity"].model_hash
    assert definitions["dynamic_degree"].model_hash == definitions["flicker"].model_hash == ""


def test_a_changed_model_file_changes_the_face_model_hash(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    files = (
        tmp_path / "shape_predictor_5_face_landmarks.dat",
        tmp_path / "dlib_face_recognition_resnet_model_v1.dat",
    )
    for path in files:
        path.write_bytes(b"weights")
    monkeypatch.setattr(face, "model_files", lambda: files)
    face.model_hash.cache_clear()
    before = face.model_hash()
    files[1].write_bytes(b"other weights")
    face.model_hash.cache_clear()

    assert face.model_hash() != before
    face.model_hash.cache_clear()  # the installed files' hash for the next test


@pytest.mark.parametrize(
    ("name", "setting", "value"),
    [
        ("face_identity", "frames", 16),
        ("face_identity", "threshold", 0.5),
        ("identity_consistency", "upsample", 1),
        ("dynamic_degree", "flow_preset", "fast"),
        ("flicker", "short_side", 360),
    ],
)
def test_changing_a_setting_changes_the_digest(name: str, setting: str, value: object) -> None:
    definition = metric_definitions()[name]
    changed = replace(definition, settings={**definition.settings, setting: value})

    assert definition.settings[setting] != value
    assert changed.digest != definition.digest


def test_a_new_version_or_model_file_changes_the_digest() -> None:
    definition = metric_definitions()["face_identity"]

    assert replace(definition, spec=replace(definition.spec, version="2")).digest != definition.digest
    assert replace(definition, model_hash="0" * 64).digest != definition.digest


def test_wording_that_does_not_change_values_keeps_the_digest() -> None:
    definition = metric_definitions()["flicker"]
    reworded = replace(definition, spec=replace(definition.spec, label="Flicker (new label)", summary="…"))

    assert reworded.digest == definition.digest
    assert MetricDefinition(definition.spec, "", dict(definition.settings)).digest == definition.digest
