from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.management import call_command

from generation.models import Method
from tests.factories import MethodFactory

# Tiny shapes keep a CPU render well under a second (generation-notes.md).
TINY_SETTINGS = {
    "width": 32,
    "height": 32,
    "num_frames": 9,
    "fps": 8,
    "num_inference_steps": 2,
    "guidance_scale": 5.0,
    "flow_shift": 5.0,
    "negative_prompt": "blurry, static",
    "batch_size": 2,
    # The text encoder's cost grows with the padded length: 128 tokens fit every test prompt.
    "max_sequence_length": 128,
}


@dataclass(frozen=True)
class TinyModel:
    folder: Path
    lora: Path  # the weights file of a LoRA that fits
    bad_lora: Path  # a LoRA made for a transformer with other attention sizes


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> TinyModel:
    """The tiny pipeline, written once per test session by the real command, with nothing downloaded."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    root = tmp_path_factory.mktemp("tiny-wan")
    call_command("make_tiny_model", str(root / "model"), "--lora", str(root / "lora"))
    from generation.tiny_model import lora_save, transformer_tiny

    bad = lora_save(transformer_tiny(heads=3), root / "bad-lora")
    return TinyModel(
        folder=root / "model", lora=root / "lora" / "pytorch_lora_weights.safetensors", bad_lora=bad
    )


@pytest.fixture
def tiny_method(db: None, tiny_model: TinyModel) -> Method:
    return MethodFactory(
        name="tiny-wan",
        role=Method.Role.OURS,
        backend=Method.Backend.DIFFUSERS,
        checkpoint=str(tiny_model.folder),
        revision="tiny-wan-ti2v (random weights)",
        settings=dict(TINY_SETTINGS),
    )
