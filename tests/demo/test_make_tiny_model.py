from __future__ import annotations

import json
import socket

import pytest
from django.core.management import CommandError, call_command

from generation.backends import diffusers_backend
from generation.backends.diffusers_backend import model_shape


def test_the_tiny_model_loads_offline_through_the_code_that_loads_real_weights(tiny_model, monkeypatch):
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("loading the model tried to open a network connection")

    # Whatever this process imported before, a hub lookup here would fail the test. (The worker tests run
    # their workers with HF_HUB_OFFLINE=1 from the start.)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    diffusers_backend.pipeline_free()
    index = json.loads((tiny_model.folder / "model_index.json").read_text())
    assert (index["_class_name"], index["expand_timesteps"]) == ("WanPipeline", True)

    shape = model_shape(str(tiny_model.folder))
    assert (shape.temporal, shape.spatial, shape.rope_max) == (4, 32, 32)
    loaded = diffusers_backend.pipeline_for(shape, None)
    pipe = loaded.pipe
    assert pipe.__class__.__name__ == "WanPipeline"
    assert pipe.text_encoder.config.d_model == pipe.transformer.config.text_dim == 32
    assert pipe.vae.config.z_dim == 48 and pipe.vae.dtype.is_floating_point
    assert pipe.scheduler.config.flow_shift == 5.0 and pipe.scheduler.config.use_flow_sigmas
    # Byte-level tokens: every UTF-8 byte is one token, and the text ends with </s>.
    assert pipe.tokenizer("hé")["input_ids"][-1] == pipe.tokenizer.eos_token_id
    assert len(pipe.tokenizer("hé")["input_ids"]) == 4


def test_it_writes_a_fitting_lora_beside_the_model_when_asked(tmp_path):
    call_command("make_tiny_model", str(tmp_path / "wan"), "--lora")
    assert (tmp_path / "wan" / "model_index.json").is_file()
    assert (tmp_path / "wan-lora" / "pytorch_lora_weights.safetensors").is_file()


def test_it_refuses_to_overwrite_a_pipeline(tiny_model):
    with pytest.raises(CommandError, match="already holds a pipeline"):
        call_command("make_tiny_model", str(tiny_model.folder))
