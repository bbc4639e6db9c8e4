from __future__ import annotations

import pytest

from generation.models import Method
from tests.conftest import TinyModel
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
