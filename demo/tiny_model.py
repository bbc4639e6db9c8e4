"""A tiny, randomly initialised Wan2.2 TI2V-style pipeline, written like real weights with save_pretrained.

The configs follow diffusers' own fast tests for Wan2.2 TI2V-5B (tests/pipelines/wan/test_wan_22.py):
VAE with 48 latent channels, patch 2 and a spatial factor of 16; a two-layer transformer. Those tests load
their tokenizer and text encoder from the Hub; here both are made from nothing, so no network is ever
needed: a byte-level BPE tokenizer with no merges (every UTF-8 byte is one token) and a small UMT5 encoder
whose width is the transformer's text_dim. The folder then loads through exactly the code that loads real
weights. It is ~400 KiB; build it when needed rather than keep it, because the saved tokenizer is tied to
the transformers major version.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from generation.backends.wan_random import tokenizer_offline

TEXT_DIM = 32
# The tokenizer's own limit; the pipeline is called with max_sequence_length from the method settings.
TOKENIZER_MAX_LENGTH = 512
LORA_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]


def transformer_tiny(*, heads: int = 2) -> Any:
    from diffusers import WanTransformer3DModel

    return WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=heads,
        attention_head_dim=12,
        in_channels=48,
        out_channels=48,
        text_dim=TEXT_DIM,
        freq_dim=256,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
    )


def pipeline_tiny(*, seed: int = 0) -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanPipeline
    from transformers import UMT5Config, UMT5EncoderModel

    torch.manual_seed(seed)
    vae = AutoencoderKLWan(
        base_dim=3,
        z_dim=48,
        in_channels=12,
        out_channels=12,
        is_residual=True,
        patch_size=2,
        latents_mean=[0.0] * 48,
        latents_std=[1.0] * 48,
        dim_mult=[1, 1, 1, 1],
        num_res_blocks=1,
        scale_factor_spatial=16,
        scale_factor_temporal=4,
        temperal_downsample=[False, True, True],
    )
    scheduler = UniPCMultistepScheduler(
        prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=5.0
    )
    tokenizer = tokenizer_offline(model_max_length=TOKENIZER_MAX_LENGTH)
    text_encoder = UMT5EncoderModel(
        UMT5Config(
            vocab_size=len(tokenizer),
            d_model=TEXT_DIM,
            d_kv=8,
            d_ff=37,
            num_layers=2,
            num_heads=4,
            relative_attention_num_buckets=8,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
            decoder_start_token_id=tokenizer.pad_token_id,
        )
    )
    return WanPipeline(
        transformer=transformer_tiny(),
        vae=vae,
        scheduler=scheduler,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        transformer_2=None,
        boundary_ratio=None,
        expand_timesteps=True,  # the TI2V-5B mode: text-to-video, and image-to-video with the same weights
    )


def lora_save(transformer: Any, directory: Path, *, rank: int = 4, seed: int = 1) -> Path:
    """A random LoRA on the attention projections of ``transformer``; returns the weights file."""
    import torch
    from diffusers import WanPipeline
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    torch.manual_seed(seed)
    # init_lora_weights=False: random B as well as A, so the LoRA visibly changes the output.
    config = LoraConfig(r=rank, lora_alpha=rank, target_modules=LORA_TARGETS, init_lora_weights=False)
    transformer.add_adapter(config, adapter_name="tiny")
    layers = get_peft_model_state_dict(transformer, adapter_name="tiny")
    transformer.delete_adapters("tiny")
    WanPipeline.save_lora_weights(directory, transformer_lora_layers=layers)
    return directory / "pytorch_lora_weights.safetensors"


def tiny_model_write(directory: Path, *, lora_directory: Path | None = None, seed: int = 0) -> None:
    """Write the tiny pipeline to ``directory`` and, when asked, a LoRA that fits it."""
    pipe = pipeline_tiny(seed=seed)
    directory.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(directory)
    if lora_directory is not None:
        lora_save(pipe.transformer, lora_directory, seed=seed + 1)
