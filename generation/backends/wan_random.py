"""Wan2.2 TI2V-5B built from its published configuration with random weights, to measure render speed.

Speed depends on the architecture, the dtypes and the shape, never on the weights' values, and no weights
can be downloaded here: so the transformer, the VAE and the text encoder are built at their real sizes and
filled with random numbers, on the device, in the dtypes the worker loads real weights in (bf16, the
transformer's ``_keep_in_fp32_modules`` in float32 as ``from_pretrained`` keeps them, the VAE in float32).
The pipeline renders through ``DiffusersBackend(pipeline=BuiltPipeline(...))``: the worker's own code.

For measurement only. Its checkpoint name, :data:`RANDOM_WEIGHTS_CHECKPOINT`, is refused for every method
(``diffusers_backend.model_shape``): a video made with it would be noise shown to annotators.

Full size (``reduced=False``) needs a GPU: 5.0 B transformer parameters (10 GB in bf16), 5.7 B in the
UMT5-XXL encoder (11.4 GB), 0.7 B in the VAE (2.8 GB in float32). ``reduced=True`` keeps every width and
the VAE whole but builds 2 transformer blocks and 2 encoder layers, with an encoder vocabulary the size of
the offline tokenizer (259) instead of 256,384: that embedding alone would be 1.05 B parameters, and token
ids change nothing but which rows are read. About 1.5 B parameters then, 4.4 GB (the float32 VAE is 2.8 of
them): two shared CPU cores build it in 10 to 20 s and render a small shape through the whole pipeline.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

RANDOM_WEIGHTS_PREFIX = "random-weights:"
RANDOM_WEIGHTS_CHECKPOINT = RANDOM_WEIGHTS_PREFIX + "wan2.2-ti2v-5b"

# The transformer of Wan2.2 TI2V-5B in diffusers' names (WanTransformer3DModel). Values: the official
# config (Wan2.2's wan/configs/wan_ti2v_5B.py: dim 3072 = 24 heads × 128, ffn_dim 14336, num_layers 30,
# in_dim = out_dim 48 latent channels, patch_size (1, 2, 2), text_dim 4096, freq_dim 256, eps 1e-6,
# qk_norm, cross_attn_norm), as in Wan-AI/Wan2.2-TI2V-5B-Diffusers/transformer/config.json; no image
# cross-attention (image_dim, added_kv_proj_dim None: TI2V conditions on an image as the first frame).
# rope_max_seq_len 1024: the class default, which real configs keep. Checked by the test that counts
# 4,999,787,712 parameters (the published "5B").
TRANSFORMER_TI2V_5B: dict[str, Any] = {
    "patch_size": (1, 2, 2),
    "num_attention_heads": 24,
    "attention_head_dim": 128,
    "in_channels": 48,
    "out_channels": 48,
    "text_dim": 4096,
    "freq_dim": 256,
    "ffn_dim": 14336,
    "num_layers": 30,
    "cross_attn_norm": True,
    "qk_norm": "rms_norm_across_heads",
    "eps": 1e-6,
    "image_dim": None,
    "added_kv_proj_dim": None,
    "rope_max_seq_len": 1024,
}

# The Wan2.2 VAE (AutoencoderKLWan): encoder width 160, decoder width 256, 48 latent channels, dim_mult
# [1, 2, 4, 4], 2 residual blocks per stage, temporal downsampling in the last two stages (4×), residual
# up/down sampling, and a 2×2 pixel patch outside (12 = 3 colours × 4): 16× spatially in all. Values: the
# official Wan2_2_VAE (wan/modules/vae2_2.py: dim 160, dec_dim 256, z_dim 48, dim_mult [1, 2, 4, 4],
# num_res_blocks 2, temperal_downsample [False, True, True]) as in
# Wan-AI/Wan2.2-TI2V-5B-Diffusers/vae/config.json. 704,688,668 parameters (test).
VAE_2_2: dict[str, Any] = {
    "base_dim": 160,
    "decoder_base_dim": 256,
    "z_dim": 48,
    "dim_mult": [1, 2, 4, 4],
    "num_res_blocks": 2,
    "attn_scales": [],
    "temperal_downsample": [False, True, True],
    "is_residual": True,
    "in_channels": 12,
    "out_channels": 12,
    "patch_size": 2,
    "scale_factor_spatial": 16,
    "scale_factor_temporal": 4,
}
# The per-channel latent statistics hard-coded in the official Wan2_2_VAE (wan/modules/vae2_2.py, `mean`
# and `std`); the pipeline un-normalises latents with them before decoding. They are not in the installed
# diffusers (its defaults are Wan2.1's 16 channels), so they are written out here.
VAE_2_2_LATENTS_MEAN = [
    -0.2289, -0.0052, -0.1323, -0.2339, -0.2799, 0.0174, 0.1838, 0.1557,
    -0.1382, 0.0542, 0.2813, 0.0891, 0.1570, -0.0098, 0.0375, -0.1825,
    -0.2246, -0.1207, -0.0698, 0.5109, 0.2665, -0.2108, -0.2158, 0.2502,
    -0.2055, -0.0322, 0.1109, 0.1567, -0.0729, 0.0899, -0.2799, -0.1230,
    -0.0313, -0.1649, 0.0117, 0.0723, -0.2839, -0.2083, -0.0520, 0.3748,
    0.0152, 0.1957, 0.1433, -0.2944, 0.3573, -0.0548, -0.1681, -0.0667,
]  # fmt: skip
VAE_2_2_LATENTS_STD = [
    0.4765, 1.0364, 0.4514, 1.1677, 0.5313, 0.4990, 0.4818, 0.5013,
    0.8158, 1.0344, 0.5894, 1.0901, 0.6885, 0.6165, 0.8454, 0.4978,
    0.5759, 0.3523, 0.7135, 0.6804, 0.5833, 1.4146, 0.8986, 0.5659,
    0.7069, 0.5338, 0.4889, 0.4917, 0.4069, 0.4999, 0.6866, 0.4093,
    0.5709, 0.6065, 0.6415, 0.4944, 0.5726, 1.2042, 0.5458, 1.6887,
    0.3971, 1.0600, 0.3943, 0.5537, 0.5444, 0.4089, 0.7468, 0.7744,
]  # fmt: skip

# The text encoder, UMT5-XXL's encoder (google/umt5-xxl config.json: d_model 4096, d_ff 10240, d_kv 64,
# 64 heads, 24 layers, vocabulary 256,384, gated-GELU feed-forward, 32 relative-position buckets over a
# distance of 128, eps 1e-6, untied embeddings), which Wan2.2 uses unchanged.
UMT5_XXL: dict[str, Any] = {
    "vocab_size": 256384,
    "d_model": 4096,
    "d_kv": 64,
    "d_ff": 10240,
    "num_layers": 24,
    "num_heads": 64,
    "relative_attention_num_buckets": 32,
    "relative_attention_max_distance": 128,
    "feed_forward_proj": "gated-gelu",
    "layer_norm_epsilon": 1e-6,
    "tie_word_embeddings": False,
}
# Wan pads every text to 512 tokens; the tokenizer's own limit.
TEXT_LENGTH = 512
# Blocks of the transformer and layers of the text encoder in the reduced (CPU) build.
REDUCED_LAYERS = 2
# The scale of the random weights: small enough that 30 residual blocks in bf16 stay finite.
WEIGHT_STD = 0.02
RANDOM_BLOCK = 1_048_573  # a prime just under 2**20


def tokenizer_offline(*, model_max_length: int = TEXT_LENGTH) -> Any:
    """A tokenizer built from nothing: byte-level BPE with no merges (each UTF-8 byte is a token), with T5's
    special tokens where T5 has them (pad 0, eos 1, unk 2) and ``</s>`` closing every text.

    UMT5's SentencePiece model cannot be downloaded. The Wan pipeline pads every text to
    ``max_sequence_length`` tokens before the encoder reads it, so which ids a text gets changes no cost;
    a text is only longer in tokens here (a byte each) when checked against that limit.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "</s>", "<unk>"]
    vocab = {token: index for index, token in enumerate(specials)}
    for symbol in sorted(pre_tokenizers.ByteLevel.alphabet()):
        vocab[symbol] = len(vocab)
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tokenizer.decoder = decoders.ByteLevel()
    # T5 tokenizers end every text with </s>; the Wan pipeline counts on it for the sequence length.
    tokenizer.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", vocab["</s>"])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        model_max_length=model_max_length,
    )


@contextmanager
def _parameters_on_meta(torch: Any) -> Iterator[None]:
    """Modules built inside get their parameters on the meta device and their buffers where they are made.

    A 5 B-parameter model then builds in a second: nothing is allocated or initialised (the modules'
    own Kaiming initialisation runs on meta tensors), while buffers computed at construction (the rotary
    tables) keep their values. The technique of accelerate's ``init_empty_weights(include_buffers=False)``.
    """
    register = torch.nn.Module.register_parameter

    def on_meta(module: Any, name: str, param: Any) -> None:
        register(module, name, param)
        # One already on meta is one being tied to another module's (UMT5's embeddings): kept as it is.
        if param is not None and param.device.type != "meta":
            kind = type(param)
            module._parameters[name] = kind(param.to("meta"), requires_grad=param.requires_grad)

    torch.nn.Module.register_parameter = on_meta
    try:
        yield
    finally:
        torch.nn.Module.register_parameter = register


def _materialise(model: Any, *, device: Any, dtype: Any, keep_fp32: list[str], seed: int) -> Any:
    """Give every meta parameter random values on ``device``: weights from normal(0, WEIGHT_STD), scales
    (1-D, the norms') ones, biases zeros. Parameters of the ``keep_fp32`` modules stay in float32, as
    ``from_pretrained`` keeps them (the same rule: a module's or parameter's name among the dotted parts of
    the parameter's name, so ``scale_shift_table`` too).

    The random numbers are drawn once, a block of RANDOM_BLOCK, and repeated through each weight: drawing
    the reduced build's 1.5 B numbers one by one takes a shared CPU 10-20 s, copying a block costs little
    more than touching the memory. The block's length is prime, so no row of a weight (widths are
    multiples of 64) repeats another.
    """
    torch = _torch()
    generator = torch.Generator(device=device).manual_seed(seed)
    blocks = {
        kind: torch.empty(RANDOM_BLOCK, dtype=kind, device=device).normal_(
            0.0, WEIGHT_STD, generator=generator
        )
        for kind in {dtype, torch.float32}
    }
    made: dict[int, Any] = {}  # by the meta parameter's id: a parameter tied to another stays tied
    for path, module in model.named_modules():
        for name, param in list(module._parameters.items()):
            if param is None:
                continue
            if id(param) not in made:
                parts = [*path.split("."), name] if path else [name]
                wanted = torch.float32 if any(part in keep_fp32 for part in parts) else dtype
                made[id(param)] = torch.nn.Parameter(
                    _random(param.shape, name, wanted, blocks), requires_grad=False
                )
            module._parameters[name] = made[id(param)]
    for qualified, buffer in list(model.named_buffers()):
        *path, name = qualified.split(".")
        owner = model.get_submodule(".".join(path)) if path else model
        owner._buffers[name] = buffer.to(device)
    return model.eval()


def _random(shape: Any, name: str, dtype: Any, blocks: dict[Any, Any]) -> Any:
    torch = _torch()
    block = blocks[dtype]
    value = torch.empty(shape, dtype=dtype, device=block.device)
    if name == "bias":
        return value.zero_()
    if value.dim() <= 1:
        return value.fill_(1.0)
    flat = value.view(-1)
    whole, rest = divmod(flat.numel(), RANDOM_BLOCK)
    flat[: whole * RANDOM_BLOCK].view(whole, RANDOM_BLOCK).copy_(block.expand(whole, -1))
    flat[whole * RANDOM_BLOCK :].copy_(block[:rest])
    return value


def _torch() -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    return torch


def transformer_config(*, reduced: bool) -> dict[str, Any]:
    return {**TRANSFORMER_TI2V_5B, "num_layers": REDUCED_LAYERS if reduced else 30}


def pipeline_random(*, device: str = "cuda", reduced: bool = False, seed: int = 0) -> Any:
    """Wan2.2 TI2V-5B (text-to-video mode, ``expand_timesteps``) with random weights on ``device``:
    the transformer and text encoder in bf16, the VAE in float32, as the worker runs real weights."""
    torch = _torch()
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanPipeline, WanTransformer3DModel
    from transformers import UMT5Config, UMT5EncoderModel

    tokenizer = tokenizer_offline()
    with _parameters_on_meta(torch):
        transformer = WanTransformer3DModel(**transformer_config(reduced=reduced))
        vae = AutoencoderKLWan(
            **VAE_2_2, latents_mean=list(VAE_2_2_LATENTS_MEAN), latents_std=list(VAE_2_2_LATENTS_STD)
        )
        text_config = dict(UMT5_XXL)
        if reduced:
            text_config.update(num_layers=REDUCED_LAYERS, vocab_size=len(tokenizer))
        text_encoder = UMT5EncoderModel(
            UMT5Config(
                **text_config,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
                decoder_start_token_id=tokenizer.pad_token_id,
            )
        )
    _materialise(
        transformer,
        device=device,
        dtype=torch.bfloat16,
        keep_fp32=list(getattr(transformer, "_keep_in_fp32_modules", None) or []),
        seed=seed,
    )
    # The VAE in float32 whatever the transformer runs in, as the worker keeps it (bf16 decoding bands).
    _materialise(vae, device=device, dtype=torch.float32, keep_fp32=[], seed=seed)
    # transformers keeps UMT5's "wo" in float32 only for float16 loads: in bf16 the whole encoder is bf16.
    _materialise(text_encoder, device=device, dtype=torch.bfloat16, keep_fp32=[], seed=seed)
    # Wan2.2 TI2V-5B's scheduler (scheduler/scheduler_config.json): UniPC with flow prediction, shift 5.
    scheduler = UniPCMultistepScheduler(
        prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=5.0, num_train_timesteps=1000
    )
    return WanPipeline(
        transformer=transformer,
        vae=vae,
        scheduler=scheduler,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        transformer_2=None,
        boundary_ratio=None,
        expand_timesteps=True,
    )
