"""Wan2.2 TI2V-5B with random weights renders through the worker's backend, for measurement only."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from generation.backends.base import RenderRequest
from generation.backends.diffusers_backend import BuiltPipeline, DiffusersBackend, Speed, speed_default
from generation.backends.wan_random import (
    RANDOM_WEIGHTS_CHECKPOINT,
    TRANSFORMER_TI2V_5B,
    UMT5_XXL,
    VAE_2_2,
    _materialise,
    _parameters_on_meta,
)
from generation.errors import GenerationError
from generation.models import GenerationItem
from generation.services import generation_job_create, generation_render
from tests.generation.conftest import TINY_SETTINGS

BUILT = "random-weights:tiny"


@pytest.fixture
def built() -> BuiltPipeline:
    from demo.tiny_model import pipeline_tiny

    # The tiny test pipeline, in memory: the same weights as the tiny_model folder (seed 0).
    return BuiltPipeline(name=BUILT, pipe=pipeline_tiny(seed=0))


def _request(checkpoint: str, seeds: list[int], **changes: Any) -> RenderRequest:
    return RenderRequest(
        method_name="bench",
        settings={**DiffusersBackend().settings_for({}, TINY_SETTINGS), **changes},
        prompt="a person waves",
        seeds=seeds,
        checkpoint=checkpoint,
    )


def test_the_published_configuration_builds_at_the_published_sizes():
    import torch
    from diffusers import AutoencoderKLWan, WanTransformer3DModel
    from transformers import UMT5Config, UMT5EncoderModel

    with _parameters_on_meta(torch):  # nothing allocated: only the configs against the installed classes
        transformer = WanTransformer3DModel(**TRANSFORMER_TI2V_5B)
        vae = AutoencoderKLWan(**VAE_2_2)
        text_encoder = UMT5EncoderModel(UMT5Config(**UMT5_XXL))

    def count(model: Any) -> int:
        return sum(p.numel() for p in model.parameters())

    # The published "5B"; the 2.2 VAE; UMT5-XXL's encoder (Wan's 11.4 GB umt5-xxl-enc-bf16.pth).
    assert (count(transformer), count(vae), count(text_encoder)) == (
        4_999_787_712,
        704_688_668,
        5_680_910_336,
    )
    # The encoder reads its input embedding from the shared table, as the real checkpoint does.
    assert text_encoder.encoder.embed_tokens.weight is text_encoder.shared.weight


def test_random_weights_take_the_dtypes_the_worker_loads_real_weights_in(tmp_path):
    import torch
    from diffusers import WanTransformer3DModel

    small = {**TRANSFORMER_TI2V_5B, "num_attention_heads": 2, "attention_head_dim": 16, "ffn_dim": 64}
    small.update(num_layers=2, text_dim=32)
    with _parameters_on_meta(torch):
        model = WanTransformer3DModel(**small)
    _materialise(model, device="cpu", dtype=torch.bfloat16, keep_fp32=model._keep_in_fp32_modules, seed=0)
    # The same model saved and loaded as the worker loads a model folder in bf16.
    model.save_pretrained(tmp_path)
    loaded = WanTransformer3DModel.from_pretrained(tmp_path, dtype=torch.bfloat16)

    dtypes = {name: p.dtype for name, p in model.named_parameters()}
    assert dtypes == {name: p.dtype for name, p in loaded.named_parameters()}
    assert dtypes["blocks.0.attn1.to_q.weight"] == torch.bfloat16
    assert dtypes["blocks.0.scale_shift_table"] == dtypes["blocks.0.norm2.weight"] == torch.float32
    assert all(p.device.type == "cpu" for p in model.parameters())
    weight = model.blocks[0].attn1.to_q.weight.float()
    assert weight.std().item() == pytest.approx(0.02, rel=0.1)
    assert model.blocks[0].attn1.to_q.bias.abs().sum() == 0
    # The rotary tables, computed at construction, are the ordinary model's.
    assert torch.equal(model.rope.freqs_cos, WanTransformer3DModel(**small).rope.freqs_cos)


def test_a_built_pipeline_renders_through_the_worker_code_the_frames_a_model_folder_gives(built, tiny_model):
    steps: list[int] = []
    request = _request(BUILT, [0, 1])
    backend = DiffusersBackend(pipeline=built)
    clips = backend.render(
        RenderRequest(**{**request.__dict__, "progress": lambda step, total: steps.append(step)})
    )
    assert [clip.shape for clip in clips] == [(9, 32, 32, 3)] * 2
    assert all(clip.dtype == np.uint8 for clip in clips)
    assert steps == [1, 2]  # one call for both seeds (batch_size 2)
    described = backend.describe(request, 0)
    assert (described["base_model"], described["pipeline"]) == (BUILT, "WanPipeline")
    # The same weights saved to a folder, loaded and rendered by a worker's backend: the same frames.
    folder = DiffusersBackend().render(_request(str(tiny_model.folder), [0, 1]))
    assert all(np.array_equal(a, b) for a, b in zip(clips, folder, strict=True))


def test_a_built_backend_renders_only_its_own_pipeline_and_without_a_lora(built, tiny_model):
    backend = DiffusersBackend(pipeline=built)
    with pytest.raises(GenerationError, match="renders only its built pipeline"):
        backend.render(_request(str(tiny_model.folder), [0]))
    with_lora = RenderRequest(**{**_request(BUILT, [0]).__dict__, "lora_path": str(tiny_model.lora)})
    with pytest.raises(GenerationError, match="without a LoRA"):
        backend.render(with_lora)


def test_the_worker_backend_refuses_random_weights():
    with pytest.raises(GenerationError, match="names random weights, which only measure render speed"):
        DiffusersBackend().render(_request(RANDOM_WEIGHTS_CHECKPOINT, [0]))


@pytest.mark.django_db
def test_a_method_stored_with_random_weights_fails_its_render_and_makes_no_video(tiny_method):
    from tests.factories import IdentityFactory, PromptFactory

    job = generation_job_create(
        method=tiny_method, identities=[IdentityFactory()], prompts=[PromptFactory()], seeds=1
    )
    # Written past the checks (a raw update): the render itself still refuses.
    type(tiny_method).objects.filter(pk=tiny_method.pk).update(checkpoint=RANDOM_WEIGHTS_CHECKPOINT)
    generation_render(item_ids=list(job.items.values_list("pk", flat=True)), worker="test:1")
    item = GenerationItem.objects.get(job=job)
    assert item.status == "failed" and item.video is None
    assert "names random weights" in item.error


def test_the_transformer_blocks_are_compiled_once_per_pipeline(built, monkeypatch):
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(
        built.pipe.transformer, "compile_repeated_blocks", lambda **options: calls.append(options)
    )
    for _ in range(2):
        DiffusersBackend(pipeline=built, speed=Speed(compile=True)).render(_request(BUILT, [0]))
    assert calls == [{"fullgraph": True, "dynamic": False}]


def test_a_decode_out_of_memory_is_tiled_and_tiling_is_off_again_afterwards(built, monkeypatch):
    import torch

    vae = built.pipe.vae
    decode, tiled = vae.decode, []

    def short_of_memory(*args: Any, **kwargs: Any) -> Any:
        if not vae.use_tiling:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        tiled.append(True)
        return decode(*args, **kwargs)

    monkeypatch.setattr(vae, "decode", short_of_memory)
    clips = DiffusersBackend(pipeline=built).render(_request(BUILT, [0, 1]))
    assert len(clips) == 2 and tiled == [True, True]  # each video decoded tiled, none sampled twice
    assert not vae.use_tiling
    with pytest.raises(torch.OutOfMemoryError):
        DiffusersBackend(pipeline=built, speed=Speed(vae_tiling="never")).render(
            _request(BUILT, [0], batch_size=1)
        )


@pytest.mark.parametrize(
    ("attention", "allowed"),
    [
        ("default", {"cudnn", "flash", "efficient", "math"}),
        ("cudnn", {"cudnn", "flash", "efficient", "math"}),
        ("flash", {"flash", "efficient", "math"}),
        ("math", {"math"}),
    ],
)
def test_the_sampling_runs_with_the_attention_kernels_chosen(built, attention, allowed):
    import torch

    seen: list[set[str]] = []

    def kernels(step: int, total: int) -> None:  # called inside the pipeline, at each step
        backends = torch.backends.cuda
        enabled = {
            "cudnn": backends.cudnn_sdp_enabled(),
            "flash": backends.flash_sdp_enabled(),
            "efficient": backends.mem_efficient_sdp_enabled(),
            "math": backends.math_sdp_enabled(),
        }
        seen.append({name for name, on in enabled.items() if on})

    request = RenderRequest(**{**_request(BUILT, [0]).__dict__, "progress": kernels})
    clip = DiffusersBackend(pipeline=built, speed=Speed(attention=attention)).render(request)[0]
    assert seen == [allowed, allowed] and clip.shape == (9, 32, 32, 3)
    assert torch.backends.cuda.flash_sdp_enabled()  # as it was, once the render is over


def test_the_worker_is_fast_by_default_on_a_gpu_and_plain_on_a_cpu(monkeypatch):
    for name in (
        "GENERATION_ATTENTION",
        "GENERATION_COMPILE",
        "GENERATION_VAE_TILING",
        "GENERATION_ASYNC_COPY",
    ):
        monkeypatch.delenv(name, raising=False)
    assert speed_default(cuda=True) == Speed(
        attention="cudnn", compile=True, vae_tiling="oom", async_copy=True
    )
    assert speed_default(cuda=False) == Speed(
        attention="default", compile=False, vae_tiling="oom", async_copy=False
    )
    monkeypatch.setenv("GENERATION_COMPILE", "0")
    monkeypatch.setenv("GENERATION_ATTENTION", "flash")
    assert speed_default(cuda=True) == Speed(attention="flash", compile=False, async_copy=True)
    monkeypatch.setenv("GENERATION_ATTENTION", "fastest")
    with pytest.raises(ValueError, match="attention must be one of"):
        speed_default(cuda=True)
