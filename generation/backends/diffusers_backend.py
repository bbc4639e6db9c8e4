"""Wan video pipelines from a local diffusers folder, with an optional LoRA.

torch and diffusers are imported inside functions, never at module level: a Celery prefork parent
imports this module, and any CUDA use there (even ``torch.cuda.is_available()``) breaks its forked
children. The pipeline is loaded in the child on its first task and kept for the next one while the model
folder stays the same; a LoRA is unloaded or swapped without reloading the base model. A pipeline built
in memory (``BuiltPipeline``: the random-weight Wan2.2 of bench/generate.py) renders through the same code.

On a GPU the worker renders with the choices of :class:`Speed` (bf16 transformer, float32 VAE, the
attention kernels to prefer, regional compilation of the transformer blocks, VAE tiling only after an
out-of-memory decode, frames copied to the host while the next seeds render); bench/README.md measures each.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from generation.backends.base import Backend, RenderRequest, blamed_on, number
from generation.backends.wan_random import RANDOM_WEIGHTS_PREFIX
from generation.errors import GenerationError, RenderCancelled
from lib.hashing import sha256_file

# Wan's published negative prompt (Wan2.1 / Wan2.2 sample configs), verbatim: the models were tuned with
# it. Its commas are full-width, as written in Chinese.
WAN_NEGATIVE_PROMPT = (
    "色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，低质量，"  # noqa: RUF001
    "JPEG压缩残留，丑陋的，残缺的，多余的手指，画得不好的手部，画得不好的脸部，畸形的，毁容的，形态畸形的肢体，"  # noqa: RUF001
    "手指融合，静止不动的画面，杂乱的背景，三条腿，背景人很多，倒着走"  # noqa: RUF001
)

# The published Wan2.2 TI2V-5B setup.
DEFAULTS: Mapping[str, Any] = {
    "width": 1280,
    "height": 704,
    "num_frames": 121,
    "fps": 24,
    "num_inference_steps": 50,
    "guidance_scale": 5.0,
    "flow_shift": 5.0,
    "negative_prompt": WAN_NEGATIVE_PROMPT,
    "max_sequence_length": 512,
    # Seeds per pipeline call. Halved automatically when the GPU runs out of memory.
    "batch_size": 2,
    # "auto": condition on the identity's primary reference whenever the model can (TI2V, I2V).
    "image_to_video": "auto",
    "lora_scale": 1.0,
}
PIPELINE_CLASSES = ("WanPipeline", "WanImageToVideoPipeline")
LORA_WEIGHT_NAME = "pytorch_lora_weights.safetensors"
ADAPTER_NAME = "method"


@dataclass(frozen=True)
class ModelShape:
    """What the configs in a model folder say about the sizes it accepts; read without loading weights."""

    folder: Path
    pipeline_class: str
    expand_timesteps: bool  # Wan2.2 TI2V: text-to-video and image-to-video with the same weights
    temporal: int  # frames per latent frame: frame counts are temporal·k + 1
    spatial: int  # pixels per transformer patch side: sizes are multiples of this
    rope_max: int | None  # latent positions per axis the rotary embedding covers

    @property
    def can_condition_on_image(self) -> bool:
        return self.pipeline_class == "WanImageToVideoPipeline" or self.expand_timesteps


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise GenerationError(f"{path} cannot be read as JSON ({error.__class__.__name__})") from error
    if not isinstance(data, dict):
        raise GenerationError(f"{path} is not a JSON object")
    return data


def model_shape(checkpoint: str) -> ModelShape:
    if not checkpoint:
        raise GenerationError("the method has no model folder (checkpoint)")
    if checkpoint.startswith(RANDOM_WEIGHTS_PREFIX):
        # Random weights render noise: they exist to measure speed (bench/generate.py --random-weights),
        # never to make videos that annotators would judge.
        raise GenerationError(
            f"{checkpoint!r} names random weights, which only measure render speed; a method needs a model "
            "folder with trained weights"
        )
    folder = Path(checkpoint).expanduser()
    if not folder.is_dir():
        raise GenerationError(f"model folder {folder} does not exist")
    if not (folder / "model_index.json").is_file():
        raise GenerationError(f"{folder} is not a diffusers pipeline folder (no model_index.json)")
    index = _read_json(folder / "model_index.json")
    pipeline_class = index.get("_class_name", "")
    if pipeline_class not in PIPELINE_CLASSES:
        raise GenerationError(
            f"{folder} holds a {pipeline_class or 'nameless'} pipeline; "
            f"supported: {', '.join(PIPELINE_CLASSES)}"
        )
    for part in ("transformer", "vae", "text_encoder", "tokenizer", "scheduler"):
        if not (folder / part).is_dir():
            raise GenerationError(f"{folder} is not a complete Wan pipeline folder (no {part}/)")
    vae = _read_json(folder / "vae" / "config.json") if (folder / "vae" / "config.json").is_file() else {}
    transformer_config = folder / "transformer" / "config.json"
    transformer = _read_json(transformer_config) if transformer_config.is_file() else {}
    patch = transformer.get("patch_size") or [1, 2, 2]
    return ModelShape(
        folder=folder.resolve(),
        pipeline_class=pipeline_class,
        expand_timesteps=bool(index.get("expand_timesteps", False)),
        temporal=int(vae.get("scale_factor_temporal", 4)),
        spatial=int(vae.get("scale_factor_spatial", 8)) * int(patch[1]),
        rope_max=transformer.get("rope_max_seq_len"),
    )


def lora_file(lora_path: str) -> Path:
    """The weights file of a LoRA given as a file or as the folder ``save_lora_weights`` wrote."""
    path = Path(lora_path).expanduser()
    if path.is_dir():
        path = path / LORA_WEIGHT_NAME
    if not path.is_file():
        raise GenerationError(f"LoRA file {path} does not exist")
    return path.resolve()


def lora_digest(path: Path) -> str:
    """The sha256 of a LoRA file, hashed again only when the file changed: a launch or a save of a method
    checks it, and a LoRA of a gigabyte takes seconds to hash."""
    stat = path.stat()
    return _digest_of(path, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _digest_of(path: Path, size: int, mtime_ns: int) -> str:
    return sha256_file(path)


@dataclass(frozen=True)
class Sampling:
    width: int
    height: int
    num_frames: int
    fps: int
    steps: int
    guidance: float
    flow_shift: float
    negative_prompt: str
    max_sequence_length: int
    batch_size: int
    image_to_video: bool | str
    lora_scale: float


def sampling_from(settings: Mapping[str, Any], shape: ModelShape) -> Sampling:
    """The sampling settings, checked against what the model accepts (diffusers would silently round)."""
    sampling = Sampling(
        width=number(settings, "width", minimum=1),
        height=number(settings, "height", minimum=1),
        num_frames=number(settings, "num_frames", minimum=1),
        fps=number(settings, "fps", minimum=1),
        steps=number(settings, "num_inference_steps", minimum=1),
        guidance=number(settings, "guidance_scale", kind=float, minimum=0),
        flow_shift=number(settings, "flow_shift", kind=float, minimum=0),
        negative_prompt=str(settings.get("negative_prompt") or ""),
        max_sequence_length=number(settings, "max_sequence_length", minimum=1),
        batch_size=number(settings, "batch_size", minimum=1),
        image_to_video=settings.get("image_to_video", "auto"),
        lora_scale=number(settings, "lora_scale", kind=float),
    )
    t = shape.temporal
    if (sampling.num_frames - 1) % t:
        below = (sampling.num_frames - 1) // t * t + 1
        raise GenerationError(
            f"num_frames must be of the form {t}k+1 for this model (for example {below} or {below + t}), "
            f"got {sampling.num_frames}"
        )
    if sampling.width % shape.spatial or sampling.height % shape.spatial:
        raise GenerationError(
            f"width and height must be multiples of {shape.spatial} for this model, "
            f"got {sampling.width}×{sampling.height}"
        )
    if shape.rope_max:
        latent = (
            (sampling.num_frames - 1) // t + 1,
            sampling.height // shape.spatial,
            sampling.width // shape.spatial,
        )
        if max(latent) > shape.rope_max:
            raise GenerationError(
                f"this model covers at most {shape.rope_max} latent positions per axis (rope_max_seq_len); "
                f"{sampling.width}×{sampling.height}×{sampling.num_frames} needs {max(latent)}"
            )
    if sampling.image_to_video not in (True, False, "auto"):
        raise GenerationError('setting "image_to_video" must be true, false or "auto"')
    if sampling.image_to_video is True and not shape.can_condition_on_image:
        raise GenerationError(f"{shape.folder} is a text-to-video model: it cannot condition on an image")
    if sampling.image_to_video is False and shape.pipeline_class == "WanImageToVideoPipeline":
        raise GenerationError(f"{shape.folder} is an image-to-video model: it needs the reference image")
    return sampling


def _image_mode(
    shape: ModelShape, sampling: Sampling, reference: Path | None, start_frame: Any = None
) -> bool:
    if start_frame is not None:
        return True  # a continued shot is image-to-video from the previous shot's last frame
    wanted = sampling.image_to_video
    if wanted == "auto":
        wanted = shape.can_condition_on_image and (
            reference is not None or shape.pipeline_class == "WanImageToVideoPipeline"
        )
    if wanted and reference is None:
        raise GenerationError("this model conditions on the identity's primary reference, and it has none")
    return bool(wanted)


# --- how the GPU is spent ---------------------------------------------------------------------------------

ATTENTION_CHOICES = ("cudnn", "flash", "efficient", "math", "default")
VAE_TILING_CHOICES = ("oom", "always", "never")


@dataclass(frozen=True)
class Speed:
    """How a render spends the device; none of it changes what the model computes beyond rounding.

    Each choice is measured alone by bench/generate.py (its flags) and kept only where it helps
    (bench/README.md has the figures). The defaults on a CUDA GPU are :func:`speed_default`'s; the CPU
    path renders as it always did (no compilation, torch's own attention, a plain copy of the frames).
    """

    # The scaled-dot-product-attention kernels to prefer, in torch's priority order: "cudnn" (cuDNN's
    # fused attention, then flash, then memory-efficient, then math), "flash" (FlashAttention-2, then
    # memory-efficient, then math), "efficient", "math", or "default" (torch chooses).
    attention: str = "default"
    # Regional torch.compile of the transformer's repeated blocks (diffusers' compile_repeated_blocks): one
    # block's code compiled once per process and shape, reused by all 30 blocks.
    compile: bool = False
    # The VAE decodes a video whole; "oom" tiles it only after a whole decode ran out of memory (tiling
    # costs time and can show seams), "always" tiles every decode, "never" lets the error through.
    vae_tiling: str = "oom"
    # Frames (uint8 on the device) go to pinned host memory on a side stream, so that the next seeds'
    # work is queued at once instead of after the copy.
    async_copy: bool = False

    def __post_init__(self) -> None:
        if self.attention not in ATTENTION_CHOICES:
            raise ValueError(
                f"attention must be one of {', '.join(ATTENTION_CHOICES)}, got {self.attention!r}"
            )
        if self.vae_tiling not in VAE_TILING_CHOICES:
            raise ValueError(
                f"vae_tiling must be one of {', '.join(VAE_TILING_CHOICES)}, got {self.vae_tiling!r}"
            )


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    return default if not value else value in ("1", "true", "yes", "on")


def speed_default(*, cuda: bool) -> Speed:
    """The worker's choices: fast on a CUDA GPU, the plain path on a CPU. Each can be overridden by the
    worker's environment (GENERATION_ATTENTION, GENERATION_COMPILE, GENERATION_VAE_TILING,
    GENERATION_ASYNC_COPY), for instance to turn compilation off where it fails."""
    base = Speed(attention="cudnn", compile=True, async_copy=True) if cuda else Speed()
    return Speed(
        attention=os.environ.get("GENERATION_ATTENTION", "").strip() or base.attention,
        compile=_env_flag("GENERATION_COMPILE", base.compile),
        vae_tiling=os.environ.get("GENERATION_VAE_TILING", "").strip() or base.vae_tiling,
        async_copy=_env_flag("GENERATION_ASYNC_COPY", base.async_copy),
    )


def _attention(speed: Speed) -> contextlib.AbstractContextManager[Any]:
    if speed.attention == "default":
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    order = {
        "cudnn": [
            SDPBackend.CUDNN_ATTENTION,
            SDPBackend.FLASH_ATTENTION,
            SDPBackend.EFFICIENT_ATTENTION,
            SDPBackend.MATH,
        ],
        "flash": [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH],
        "efficient": [SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH],
        "math": [SDPBackend.MATH],
    }[speed.attention]
    # Math stays last in every list: the VAE's single-head attention (640 and 1,024 channels a head) fits
    # no fused kernel and must still run.
    return sdpa_kernel(order, set_priority=True)


# --- the pipeline kept in this worker process ------------------------------------------------------------


@dataclass
class _Loaded:
    folder: Path
    pipe: Any
    device: str
    dtype: str
    image_pipe: Any = None
    lora: tuple[Path, str] | None = None  # (weights file, sha256)
    compiled: bool = False  # compile_repeated_blocks has run on this pipeline's transformer


_loaded: _Loaded | None = None


def _torch() -> Any:
    # Local files only, always: a model folder never needs the network, and a worker must not hang on it.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    return torch


def pipeline_free() -> None:
    """Drop the kept pipeline and give its memory back (also before loading another model)."""
    global _loaded
    if _loaded is None:
        return
    _loaded = None
    gc.collect()
    torch = _torch()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _load(folder: Path, pipeline_class: str) -> _Loaded:
    torch = _torch()
    import diffusers

    # Workers log to files: per-component loading bars would only clutter them.
    diffusers.utils.logging.disable_progress_bar()
    cuda = torch.cuda.is_available()
    dtype = torch.bfloat16 if cuda else torch.float32
    # The Wan VAE is kept in float32 whatever the transformer runs in: bf16 decoding shows banding.
    vae = diffusers.AutoencoderKLWan.from_pretrained(
        folder, subfolder="vae", dtype=torch.float32, local_files_only=True
    )
    pipe = getattr(diffusers, pipeline_class).from_pretrained(
        folder, vae=vae, dtype=dtype, local_files_only=True
    )
    device = "cuda" if cuda else "cpu"
    pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    return _Loaded(folder=folder, pipe=pipe, device=device, dtype=str(dtype).removeprefix("torch."))


def _compiled(loaded: _Loaded, speed: Speed) -> None:
    """Compile the transformer's repeated blocks once for this pipeline (so once per worker process: the
    pipeline is kept). torch compiles at the first forward of each shape (tens of seconds, not counted in
    a job's seconds per step, which start at the first step's end); dynamic=False keeps each shape's
    kernels specialised (a method renders one shape) rather than recompiling them for symbolic sizes. A
    LoRA loaded, unloaded or rescaled later changes the blocks, and torch recompiles them."""
    if speed.compile and not loaded.compiled:
        import torch._dynamo

        # A block that fails to compile (no Triton for this GPU, an operator dynamo cannot trace) runs
        # eagerly, with torch's warning in the log, rather than failing every render of the worker.
        torch._dynamo.config.suppress_errors = True
        loaded.pipe.transformer.compile_repeated_blocks(fullgraph=True, dynamic=False)
        loaded.compiled = True


@dataclass
class BuiltPipeline:
    """A Wan pipeline already in memory, rendered as if ``name`` were its model folder: requests must name
    it as their checkpoint. Only code builds one (bench/generate.py's random weights); a method cannot."""

    name: str
    pipe: Any
    loaded: _Loaded | None = field(default=None, repr=False)

    def shape(self) -> ModelShape:
        pipe = self.pipe
        vae, transformer = pipe.vae.config, pipe.transformer.config
        return ModelShape(
            folder=Path(self.name),
            pipeline_class=pipe.__class__.__name__,
            expand_timesteps=bool(pipe.config.get("expand_timesteps", False)),
            temporal=int(vae.get("scale_factor_temporal") or 4),
            spatial=int(vae.get("scale_factor_spatial") or 8) * int(transformer.patch_size[1]),
            rope_max=transformer.get("rope_max_seq_len"),
        )

    def as_loaded(self) -> _Loaded:
        if self.loaded is None:
            torch, transformer = _torch(), self.pipe.transformer
            for component in self.pipe.components.values():
                if isinstance(component, torch.nn.Module):
                    component.eval()  # as from_pretrained leaves them: no dropout in a render
            self.pipe.set_progress_bar_config(disable=True)
            self.loaded = _Loaded(
                folder=Path(self.name),
                pipe=self.pipe,
                device=transformer.device.type,
                dtype=str(transformer.dtype).removeprefix("torch."),
            )
        return self.loaded


def _lora_error(path: Path, error: Exception) -> GenerationError:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    mismatches = [line for line in lines if line.startswith("size mismatch")]
    if mismatches:
        detail = f"{mismatches[0]} (and {len(mismatches) - 1} more)" if len(mismatches) > 1 else mismatches[0]
    else:
        detail = lines[0] if lines else error.__class__.__name__
    return GenerationError(f"LoRA {path} does not fit this model: {detail[:500]}")


def _with_lora(loaded: _Loaded, lora: tuple[Path, str] | None, scale: float) -> None:
    if loaded.lora != lora:
        if loaded.lora is not None:
            loaded.pipe.unload_lora_weights()  # restores the base weights exactly
            loaded.lora = None
        if lora is not None:
            try:
                loaded.pipe.load_lora_weights(str(lora[0]), adapter_name=ADAPTER_NAME)
            except (RuntimeError, ValueError, KeyError) as error:
                pipeline_free()  # a half-applied adapter must not leak into the next render
                raise _lora_error(lora[0], error) from error
            if ADAPTER_NAME not in loaded.pipe.get_list_adapters().get("transformer", []):
                # diffusers only warns when no key matches: the render would silently be the base model.
                pipeline_free()
                raise GenerationError(f"LoRA {lora[0]} has no weights for this model's transformer")
            loaded.lora = lora
    if lora is not None:
        loaded.pipe.set_adapters([ADAPTER_NAME], [scale])


def pipeline_for(shape: ModelShape, lora: tuple[Path, str] | None, lora_scale: float = 1.0) -> _Loaded:
    global _loaded
    if _loaded is not None and _loaded.folder != shape.folder:
        pipeline_free()
    if _loaded is None:
        _loaded = _load(shape.folder, shape.pipeline_class)
    _with_lora(_loaded, lora, lora_scale)
    assert _loaded is not None
    return _loaded


def _image_pipeline(loaded: _Loaded) -> Any:
    if loaded.pipe.__class__.__name__ == "WanImageToVideoPipeline":
        return loaded.pipe
    if loaded.image_pipe is None:
        import diffusers

        # The same modules, weights and LoRA: TI2V-5B is one model for both modes.
        loaded.image_pipe = diffusers.WanImageToVideoPipeline.from_pipe(loaded.pipe)
        loaded.image_pipe.set_progress_bar_config(disable=True)
    return loaded.image_pipe


def _token_count(pipe: Any, text: str) -> int:
    from diffusers.pipelines.wan.pipeline_wan import prompt_clean

    # The pipeline cleans the text before tokenising it; count what the encoder will actually see.
    return len(pipe.tokenizer(prompt_clean(text), add_special_tokens=True, verbose=False)["input_ids"])


def _with_shift(pipe: Any, shift: float) -> None:
    config = pipe.scheduler.config
    if "flow_shift" in config and config["flow_shift"] != shift:
        pipe.scheduler = pipe.scheduler.__class__.from_config(config, flow_shift=shift)


def _reference_image(path: Path, width: int, height: int) -> Any:
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        # Cropped to the video's aspect ratio first: a plain resize would squash the face.
        return ImageOps.fit(image.convert("RGB"), (width, height), Image.Resampling.LANCZOS)


def _start_image(frame: np.ndarray, width: int, height: int) -> Any:
    from PIL import Image

    image = Image.fromarray(np.ascontiguousarray(frame, dtype=np.uint8))
    # The previous shot has the same settings, so its frame already has the size: no resampling.
    return image if image.size == (width, height) else image.resize((width, height), Image.Resampling.LANCZOS)


@contextlib.contextmanager
def _tiled(vae: Any) -> Iterator[None]:
    vae.enable_tiling()
    try:
        yield
    finally:
        vae.disable_tiling()


class DiffusersBackend(Backend):
    """Renders Wan pipelines: the one of the request's model folder, kept in this process, or
    ``pipeline`` when one is given (a built pipeline, for measurement). ``speed`` defaults to the
    worker's choices for the device (:func:`speed_default`)."""

    name: ClassVar[str] = "diffusers"
    defaults: ClassVar[Mapping[str, Any]] = DEFAULTS

    def __init__(self, *, pipeline: BuiltPipeline | None = None, speed: Speed | None = None) -> None:
        self.built = pipeline
        self._speed = speed
        self._copy_stream: Any = None

    @property
    def speed(self) -> Speed:
        if self._speed is None:
            # Decided at the first render, in the worker's child process: never touch CUDA at import.
            self._speed = speed_default(cuda=_torch().cuda.is_available())
        return self._speed

    def _shape(self, checkpoint: str) -> ModelShape:
        if self.built is None:
            return model_shape(checkpoint)
        if checkpoint != self.built.name:
            raise GenerationError(f"this backend renders only its built pipeline {self.built.name!r}")
        return self.built.shape()

    def _pipeline(self, shape: ModelShape, lora: tuple[Path, str] | None, scale: float) -> _Loaded:
        if self.built is None:
            loaded = pipeline_for(shape, lora, scale)
        elif lora is not None:
            raise GenerationError("a built pipeline renders without a LoRA")
        else:
            loaded = self.built.as_loaded()
        _compiled(loaded, self.speed)
        return loaded

    def _kept(self) -> _Loaded | None:
        return self.built.as_loaded() if self.built is not None else _loaded

    def pipeline(self) -> Any:
        """The pipeline this backend renders with (None before a model folder's first render)."""
        kept = self._kept()
        return kept.pipe if kept is not None else None

    def check(
        self, *, checkpoint: str, lora_path: str, lora_sha256: str, settings: Mapping[str, Any]
    ) -> None:
        with blamed_on("checkpoint"):
            shape = self._shape(checkpoint)
        with blamed_on("settings"):
            sampling_from(settings, shape)
        if lora_path:
            with blamed_on("lora_path"):
                path = lora_file(lora_path)
            digest = lora_digest(path)
            if lora_sha256 and lora_sha256.lower() != digest:
                raise GenerationError(
                    f"the LoRA file {path} has sha256 {digest}, not {lora_sha256.lower()}", "lora_sha256"
                )

    def check_continuation(self, *, checkpoint: str, settings: Mapping[str, Any], references: bool) -> None:
        shape = self._shape(checkpoint)
        if not shape.can_condition_on_image:
            raise GenerationError(
                f"{shape.folder} is a text-to-video model: an autoregressive story needs image-to-video "
                "(a Wan2.2 TI2V or a Wan image-to-video model folder)"
            )
        if settings.get("image_to_video") is False:
            raise GenerationError(
                'an autoregressive story needs image-to-video, but the setting "image_to_video" is false'
            )
        if references:
            # Wan's image-to-video takes one image, the first frame, which a continued shot takes from the
            # previous one (stock diffusers refuses a CLIP embedding of another image beside it).
            raise GenerationError(
                "Wan image-to-video takes one image, the first frame, which a continued shot takes from the "
                "previous shot: it cannot also use the references; choose autoregressive_no_references"
            )

    def _lora(self, request: RenderRequest) -> tuple[Path, str] | None:
        if not request.lora_path:
            return None
        path = lora_file(request.lora_path)
        if (
            self.built is None
            and _loaded is not None
            and _loaded.lora is not None
            and _loaded.lora[0] == path
        ):
            digest = _loaded.lora[1]  # hashing a large LoRA again for every batch would waste seconds
        else:
            digest = lora_digest(path)
        if request.lora_sha256 and request.lora_sha256.lower() != digest:
            raise GenerationError(
                f"LoRA {path} has sha256 {digest}, but the method expects {request.lora_sha256.lower()}"
            )
        return (path, digest)

    def render(self, request: RenderRequest) -> list[np.ndarray]:
        shape = self._shape(request.checkpoint)
        sampling = sampling_from(request.settings, shape)
        image_mode = _image_mode(shape, sampling, request.reference_image, request.start_frame)
        lora = self._lora(request)
        loaded = self._pipeline(shape, lora, sampling.lora_scale)
        pipe = _image_pipeline(loaded) if image_mode else loaded.pipe
        for label, text in (("prompt", request.prompt), ("negative prompt", sampling.negative_prompt)):
            count = _token_count(pipe, text)
            if count > sampling.max_sequence_length:
                raise GenerationError(
                    f"the {label} is {count} tokens long; the text encoder takes at most "
                    f"{sampling.max_sequence_length} (max_sequence_length)"
                )
        _with_shift(pipe, sampling.flow_shift)
        image = None
        if request.start_frame is not None:
            image = _start_image(request.start_frame, sampling.width, sampling.height)
        elif image_mode:
            assert request.reference_image is not None
            image = _reference_image(request.reference_image, sampling.width, sampling.height)
        return self._sample(loaded, pipe, request, sampling, image)

    def _sample(
        self,
        loaded: _Loaded,
        pipe: Any,
        request: RenderRequest,
        sampling: Sampling,
        image: Any,
    ) -> list[np.ndarray]:
        torch = _torch()

        def on_step(_pipe: Any, step: int, _timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            request.progress(step + 1, sampling.steps)
            if request.cancelled():
                # Raising stops at once; the pipeline's own interrupt flag would still decode the video.
                raise RenderCancelled
            return tensors

        videos: list[Callable[[], np.ndarray]] = []
        pending: list[int] = list(request.seeds)
        batch = sampling.batch_size
        while pending:
            chunk = pending[:batch]
            try:
                videos.extend(self._call(loaded, pipe, request, sampling, image, chunk, on_step))
            except torch.OutOfMemoryError:
                if batch == 1:
                    raise
                # Where memory does not allow the batch, half of it may fit: try again with fewer seeds.
                batch = max(1, batch // 2)
                gc.collect()
                torch.cuda.empty_cache()
                continue
            pending = pending[len(chunk) :]
        return [video() for video in videos]

    def _call(
        self,
        loaded: _Loaded,
        pipe: Any,
        request: RenderRequest,
        sampling: Sampling,
        image: Any,
        seeds: Sequence[int],
        on_step: Any,
    ) -> list[Callable[[], np.ndarray]]:
        """Sample ``seeds`` in one pipeline call and decode each video; return, per seed, a function that
        gives its frames (waiting for the copy to the host, which may still be under way)."""
        torch = _torch()
        generators = [torch.Generator(device=loaded.device).manual_seed(seed) for seed in seeds]
        extra = {"image": image} if image is not None else {}
        with torch.inference_mode(), _attention(self.speed):
            latents = pipe(
                prompt=[request.prompt] * len(seeds),
                negative_prompt=[sampling.negative_prompt] * len(seeds),
                height=sampling.height,
                width=sampling.width,
                num_frames=sampling.num_frames,
                num_inference_steps=sampling.steps,
                guidance_scale=sampling.guidance,
                generator=generators,
                max_sequence_length=sampling.max_sequence_length,
                callback_on_step_end=on_step,
                # Decoded here, one video at a time: an out-of-memory decode is tiled without sampling
                # again, and a video's frames go to the host while the next one decodes.
                output_type="latent",
                **extra,
            ).frames
            return [self._host(self._decode(pipe, latents[index : index + 1])) for index in range(len(seeds))]

    def _decode(self, pipe: Any, latents: Any) -> Any:
        """One video's latents as uint8 frames (frames, height, width, 3), still on the device: what the
        pipeline's own decode does, with tiling as :attr:`Speed.vae_tiling` says."""
        torch = _torch()
        vae = pipe.vae
        latents = latents.to(device=vae.device, dtype=vae.dtype)
        shape = (1, vae.config.z_dim, 1, 1, 1)
        # The pipeline's arithmetic, step for step, so that the frames are the ones it would make.
        mean = torch.tensor(vae.config.latents_mean).view(shape).to(latents.device, latents.dtype)
        std = 1.0 / torch.tensor(vae.config.latents_std).view(shape).to(latents.device, latents.dtype)
        latents = latents / std + mean
        tiling = self.speed.vae_tiling
        if tiling == "always":
            with _tiled(vae):
                video = vae.decode(latents, return_dict=False)[0]
        else:
            try:
                video = vae.decode(latents, return_dict=False)[0]
            except torch.OutOfMemoryError:
                if tiling == "never":
                    raise
                gc.collect()
                torch.cuda.empty_cache()
                with _tiled(vae):
                    video = vae.decode(latents, return_dict=False)[0]
        frames = pipe.video_processor.postprocess_video(video, output_type="pt")  # (1, F, C, H, W) in [0, 1]
        # uint8 on the device first: float32 frames of a full-size clip take 1.3 GB of host memory.
        return (frames[0] * 255).round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1)

    def _host(self, frames: Any) -> Callable[[], np.ndarray]:
        torch = _torch()
        if not (self.speed.async_copy and frames.is_cuda):
            copied = frames.cpu().numpy()
            return lambda: copied
        if self._copy_stream is None:
            self._copy_stream = torch.cuda.Stream()
        stream = self._copy_stream
        host = torch.empty(frames.shape, dtype=torch.uint8, pin_memory=True)
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            host.copy_(frames, non_blocking=True)
            done = torch.cuda.Event()
            done.record(stream)
        frames.record_stream(stream)  # the device memory stays allocated until the copy has read it

        def wait() -> np.ndarray:
            done.synchronize()
            return host.numpy()

        return wait

    def describe(self, request: RenderRequest, seed: int) -> dict[str, Any]:
        import diffusers

        shape = self._shape(request.checkpoint)
        sampling = sampling_from(request.settings, shape)
        loaded = self._kept()
        assert loaded is not None, "describe() follows render()"
        image_mode = _image_mode(shape, sampling, request.reference_image, request.start_frame)
        pipe = _image_pipeline(loaded) if image_mode else loaded.pipe
        if request.start_frame is not None:
            conditioning = "previous shot's last frame as the first frame"
        else:
            conditioning = "reference as the first frame" if image_mode else "text only"
        return {
            "backend": self.name,
            "base_model": str(shape.folder),
            "pipeline": pipe.__class__.__name__,
            "mode": "image-to-video" if image_mode else "text-to-video",
            "conditioning": conditioning,
            "lora_path": str(loaded.lora[0]) if loaded.lora else "",
            "lora_sha256": loaded.lora[1] if loaded.lora else "",
            "lora_scale": sampling.lora_scale if loaded.lora else None,
            "seed": seed,
            "scheduler": pipe.scheduler.__class__.__name__,
            "num_inference_steps": sampling.steps,
            "guidance_scale": sampling.guidance,
            "flow_shift": sampling.flow_shift,
            "num_frames": sampling.num_frames,
            "fps": sampling.fps,
            "width": sampling.width,
            "height": sampling.height,
            "prompt": request.prompt,
            "negative_prompt": sampling.negative_prompt,
            "max_sequence_length": sampling.max_sequence_length,
            "batch_size": sampling.batch_size,
            "dtype": loaded.dtype,
            "device": loaded.device,
            "attention": self.speed.attention,
            "compiled": loaded.compiled,
            "diffusers_version": diffusers.__version__,
        }
