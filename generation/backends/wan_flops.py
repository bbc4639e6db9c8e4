"""What a Wan render costs in arithmetic, and what share of a GPU's peak a measured render achieved (MFU).

Used by bench/generate.py to turn a measured time into a model FLOP utilisation; nothing here imports
torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class WanShape:
    """The sizes a transformer forward's cost depends on (a diffusers WanTransformer3DModel config and
    the video's shape)."""

    layers: int
    width: int  # heads × head dimension
    ffn: int
    in_channels: int
    out_channels: int
    text_dim: int
    freq_dim: int
    patch: tuple[int, int, int]  # (frames, height, width) of a latent patch
    spatial: int  # pixels per latent side (the VAE's factor)
    temporal: int  # frames per latent frame after the first
    per_token_timesteps: bool  # Wan2.2 TI2V (expand_timesteps): every token gets its own timestep

    @classmethod
    def of(
        cls, config: Mapping[str, Any], *, spatial: int, temporal: int, per_token_timesteps: bool
    ) -> WanShape:
        return cls(
            layers=int(config["num_layers"]),
            width=int(config["num_attention_heads"]) * int(config["attention_head_dim"]),
            ffn=int(config["ffn_dim"]),
            in_channels=int(config["in_channels"]),
            out_channels=int(config["out_channels"]),
            text_dim=int(config["text_dim"]),
            freq_dim=int(config["freq_dim"]),
            patch=(int(config["patch_size"][0]), int(config["patch_size"][1]), int(config["patch_size"][2])),
            spatial=spatial,
            temporal=temporal,
            per_token_timesteps=per_token_timesteps,
        )

    def tokens(self, *, frames: int, height: int, width: int) -> int:
        """Video tokens: latent frames × latent rows × latent columns, divided by the patch."""
        latent_frames = (frames - 1) // self.temporal + 1
        return (
            latent_frames
            // self.patch[0]
            * (height // self.spatial // self.patch[1])
            * (width // self.spatial // self.patch[2])
        )


def wan_forward_flops(shape: WanShape, *, frames: int, height: int, width: int, text_tokens: int) -> int:
    """FLOPs of one transformer forward for one video (a multiply-add counts 2), matrix products only.

    With L video tokens, T text tokens (Wan pads every text to max_sequence_length), width d, feed-forward
    width f, P = channels × patch volume in and out, each of the ``layers`` blocks computes

    - self-attention: q, k, v and output projections, 4 · 2Ld² = 8Ld²; scores QKᵀ and their use on V,
      2 · 2L²d = 4L²d;
    - cross-attention to the text: q and output projections over the video, 4Ld²; k and v over the text,
      4Td²; scores and values, 4LTd;
    - feed-forward d → f → d: 4Ldf;

    so 12Ld² + 4Td² + 4L²d + 4LTd + 4Ldf per block. Outside the blocks: the patch embedding (a
    convolution whose stride is its kernel: a matrix product) 2L·P_in·d; the text embedding
    text_dim → d → d, 2T(text_dim·d + d²); the time embedding freq_dim → d → d and its projection to the
    six modulation vectors d → 6d, 2R(freq_dim·d + 7d²), with R = L rows in Wan2.2 TI2V (every token
    carries its own timestep, so that an image-conditioned first frame can sit at t = 0) and R = 1
    otherwise; the output projection 2L·d·P_out. Norms, modulation, RoPE and the scheduler are elementwise
    and not counted.

    At Wan2.2 TI2V-5B's published shape (704×1280, 121 frames: L = 31 · 22 · 40 = 27,280; T = 512) the
    blocks make 517.0 TFLOP, the figure in shared/generation-notes.md, and the per-token time embedding
    adds 3.65 TFLOP (the other embeddings 0.09): 520.7 TFLOP, as torch's FlopCounterMode counts on the
    model itself (tests/generation/test_wan_flops.py).
    """
    tokens = shape.tokens(frames=frames, height=height, width=width)
    d, f, t = shape.width, shape.ffn, text_tokens
    block = 12 * tokens * d * d + 4 * t * d * d + 4 * tokens * tokens * d + 4 * tokens * t * d
    block += 4 * tokens * d * f
    patch_volume = shape.patch[0] * shape.patch[1] * shape.patch[2]
    time_rows = tokens if shape.per_token_timesteps else 1
    outside = (
        2 * tokens * shape.in_channels * patch_volume * d
        + 2 * t * (shape.text_dim * d + d * d)
        + 2 * time_rows * (shape.freq_dim * d + 7 * d * d)
        + 2 * tokens * d * shape.out_channels * patch_volume
    )
    return shape.layers * block + outside


def wan_video_flops(
    shape: WanShape, *, frames: int, height: int, width: int, text_tokens: int, steps: int, guidance: float
) -> int:
    """Transformer FLOPs of one video: a forward per step, two with classifier-free guidance (the
    pipeline runs the unconditioned pass whenever guidance > 1). The VAE decode (about 4 % more at the
    published shape) and the text encoder (< 0.1 %) are not counted."""
    passes = 2 if guidance > 1 else 1
    return (
        steps
        * passes
        * wan_forward_flops(shape, frames=frames, height=height, width=width, text_tokens=text_tokens)
    )


# Dense bf16 tensor-core peak, FLOP/s, by a part of the name torch reports, most specific first.
# Sources, the vendor's datasheets (whose headline figures are "with sparsity", twice the dense ones):
# H100 SXM 1,979 sparse → 989 dense; H100 NVL 1,671 → 835; H100 PCIe 1,513 → 756; H200 (SXM and NVL
# list the same) 1,979 → 989; A100 312 dense; RTX 4090 165.2 dense with FP32 accumulation (Ada Lovelace
# architecture whitepaper, appendix; 330 is with FP16 accumulation, which PyTorch's bf16 matmuls do not use).
PEAK_BF16_FLOPS: tuple[tuple[str, float], ...] = (
    ("H200", 989e12),
    ("H100 NVL", 835e12),
    ("H100 PCIe", 756e12),
    ("H100", 989e12),
    ("A100", 312e12),
    ("RTX 4090", 165.2e12),
)


def peak_bf16_flops(device_name: str | None) -> float | None:
    """The device's dense bf16 peak, or None for a device not in the table (or no device)."""
    if not device_name:
        return None
    for part, peak in PEAK_BF16_FLOPS:
        if part.lower() in device_name.lower():
            return peak
    return None


def mfu(*, flops: float, seconds: float, peak: float | None) -> float | None:
    """Model FLOP utilisation: the FLOP/s achieved (``flops`` of useful work in ``seconds``) over the peak."""
    if peak is None or seconds <= 0:
        return None
    return flops / seconds / peak
