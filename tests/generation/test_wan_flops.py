"""The FLOP count behind bench/generate.py's MFU, against a hand count and against torch's own counter."""

from __future__ import annotations

import pytest

from generation.backends.wan_flops import (
    WanShape,
    mfu,
    peak_bf16_flops,
    wan_forward_flops,
    wan_video_flops,
)
from generation.backends.wan_random import TRANSFORMER_TI2V_5B, transformer_config

PUBLISHED = {"frames": 121, "height": 704, "width": 1280, "text_tokens": 512}
# bench/generate.py's CPU shape: 32×32 pixels, 5 frames, 128 text tokens, the 2-block build.
REDUCED = {"frames": 5, "height": 32, "width": 32, "text_tokens": 128}


def _shape(config: dict) -> WanShape:
    return WanShape.of(config, spatial=16, temporal=4, per_token_timesteps=True)


def test_the_forward_count_matches_a_hand_count_at_the_reduced_shape():
    # d = 3072, f = 14336, text T = 128; 5 frames → 2 latent frames, 32 px → 2 latent px → 1 patch: L = 2.
    # A block: 12·L·d² = 226,492,416; 4·T·d² = 4,831,838,208; 4·L²·d = 49,152; 4·L·T·d = 3,145,728;
    #   4·L·d·f = 352,321,536; in all 5,413,847,040, twice for 2 blocks: 10,827,694,080.
    # Outside: patch embedding 2·L·(48·4)·d = 2,359,296; text embedding 2·T·(4096·d + d²) = 5,637,144,576;
    #   per-token time embedding 2·L·(256·d + 7·d²) = 267,386,880; output 2·L·d·(48·4) = 2,359,296;
    #   in all 5,909,250,048.
    hand = 10_827_694_080 + 5_909_250_048
    assert hand == 16_736_944_128
    shape = _shape(transformer_config(reduced=True))
    assert shape.tokens(frames=5, height=32, width=32) == 2
    assert wan_forward_flops(shape, **REDUCED) == hand
    # 2 steps, both guidance passes.
    assert wan_video_flops(shape, **REDUCED, steps=2, guidance=5.0) == 4 * hand
    assert wan_video_flops(shape, **REDUCED, steps=2, guidance=1.0) == 2 * hand


@pytest.mark.parametrize(("reduced", "size"), [(True, REDUCED), (False, PUBLISHED)])
def test_the_count_is_what_torch_counts_on_the_model_itself(reduced, size):
    """torch's FlopCounterMode runs the real WanTransformer3DModel on meta tensors (no memory, no time)
    with attention as plain matrix products, and counts every product and convolution."""
    import torch
    from diffusers import WanTransformer3DModel
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    config = transformer_config(reduced=reduced)
    with torch.device("meta"):
        model = WanTransformer3DModel(**config)
    latent = ((size["frames"] - 1) // 4 + 1, size["height"] // 16, size["width"] // 16)
    video = torch.empty(1, 48, *latent, device="meta")
    tokens = latent[0] * latent[1] // 2 * latent[2] // 2
    timesteps = torch.empty(1, tokens, device="meta")  # TI2V: a timestep per token
    text = torch.empty(1, size["text_tokens"], 4096, device="meta")
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        model(hidden_states=video, timestep=timesteps, encoder_hidden_states=text, return_dict=False)
    assert counter.get_total_flops() == wan_forward_flops(_shape(config), **size)


def test_the_published_shape_costs_what_the_generation_notes_say():
    shape = _shape(TRANSFORMER_TI2V_5B)
    assert shape.tokens(frames=121, height=704, width=1280) == 27_280
    forward = wan_forward_flops(shape, **PUBLISHED)
    # The notes' 517 TFLOP is the 30 blocks; TI2V's per-token time embedding adds 3.65 TFLOP.
    assert forward == 520_654_782_726_144
    assert forward == pytest.approx(517e12, rel=0.01)
    video = wan_video_flops(shape, **PUBLISHED, steps=50, guidance=5.0)
    assert video == pytest.approx(52e15, rel=0.01)  # "about 52 PFLOP per video"


def test_mfu_is_the_achieved_flop_rate_over_the_device_peak():
    video = 52_065_478_272_614_400  # 50 steps × 2 passes × 520,654,782,726,144
    # The goal, 80 s a video on an H100 (989 TFLOP/s): 650.8 TFLOP/s achieved, 65.8 % of the peak.
    assert mfu(flops=video, seconds=80, peak=989e12) == pytest.approx(0.6580, abs=1e-4)
    # 52.6 s at full utilisation, the notes' "52 s per video".
    assert mfu(flops=video, seconds=video / 989e12, peak=989e12) == pytest.approx(1.0)
    assert mfu(flops=video, seconds=80, peak=None) is None


@pytest.mark.parametrize(
    ("name", "peak"),
    [
        ("NVIDIA H100 80GB HBM3", 989e12),
        ("NVIDIA H100 PCIe", 756e12),
        ("NVIDIA H100 NVL", 835e12),
        ("NVIDIA H200", 989e12),
        ("NVIDIA A100-SXM4-80GB", 312e12),
        ("NVIDIA GeForce RTX 4090", 165.2e12),
        ("Tesla T4", None),
        (None, None),
    ],
)
def test_the_peak_is_read_from_the_name_torch_reports(name, peak):
    assert peak_bf16_flops(name) == peak
