"""Wan video pipelines from a local diffusers folder, with an optional LoRA.

torch and diffusers are imported inside functions, never at module level: a Celery prefork parent
imports this module, and any CUDA use there (even ``torch.cuda.is_available()``) breaks its forked
children. The pipeline is loaded in the child on its first task and kept for the next one while the model
folder stays the same; a LoRA is unloaded or swapped without reloading the base model.
"""

from __future__ import annotations

import functools
import gc
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from generation.backends.base import Backend, RenderRequest, blamed_on, number
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


# --- the pipeline kept in this worker process ------------------------------------------------------------


@dataclass
class _Loaded:
    folder: Path
    pipe: Any
    device: str
    dtype: str
    image_pipe: Any = None
    lora: tuple[Path, str] | None = None  # (weights file, sha256)


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


class DiffusersBackend(Backend):
    name: ClassVar[str] = "diffusers"
    defaults: ClassVar[Mapping[str, Any]] = DEFAULTS

    def check(
        self, *, checkpoint: str, lora_path: str, lora_sha256: str, settings: Mapping[str, Any]
    ) -> None:
        with blamed_on("checkpoint"):
            shape = model_shape(checkpoint)
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
        shape = model_shape(checkpoint)
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
        if _loaded is not None and _loaded.lora is not None and _loaded.lora[0] == path:
            digest = _loaded.lora[1]  # hashing a large LoRA again for every batch would waste seconds
        else:
            digest = lora_digest(path)
        if request.lora_sha256 and request.lora_sha256.lower() != digest:
            raise GenerationError(
                f"LoRA {path} has sha256 {digest}, but the method expects {request.lora_sha256.lower()}"
            )
        return (path, digest)

    def render(self, request: RenderRequest) -> list[np.ndarray]:
        shape = model_shape(request.checkpoint)
        sampling = sampling_from(request.settings, shape)
        image_mode = _image_mode(shape, sampling, request.reference_image, request.start_frame)
        lora = self._lora(request)
        loaded = pipeline_for(shape, lora, sampling.lora_scale)
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

        videos: list[np.ndarray] = []
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
        return videos

    def _call(
        self,
        loaded: _Loaded,
        pipe: Any,
        request: RenderRequest,
        sampling: Sampling,
        image: Any,
        seeds: Sequence[int],
        on_step: Any,
    ) -> list[np.ndarray]:
        torch = _torch()
        generators = [torch.Generator(device=loaded.device).manual_seed(seed) for seed in seeds]
        extra = {"image": image} if image is not None else {}
        with torch.inference_mode():
            output = pipe(
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
                output_type="pt",  # (batch, frames, channels, H, W) in [0, 1], still on the device
                **extra,
            )
            # uint8 on the device first: float32 frames of a full-size clip take 1.3 GB of host memory.
            frames = (output.frames * 255).round_().clamp_(0, 255).to(torch.uint8).permute(0, 1, 3, 4, 2)
            return [clip.cpu().numpy() for clip in frames]

    def describe(self, request: RenderRequest, seed: int) -> dict[str, Any]:
        import diffusers

        shape = model_shape(request.checkpoint)
        sampling = sampling_from(request.settings, shape)
        loaded = _loaded
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
            "diffusers_version": diffusers.__version__,
        }
