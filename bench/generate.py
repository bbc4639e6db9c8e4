"""Generation benchmark: the speed of Wan renders through the worker's own backend, as one JSON line.

    .venv/bin/python bench/generate.py --random-weights             # Wan2.2 TI2V-5B, random weights
    .venv/bin/python bench/generate.py --random-weights --sweep     # each speed choice alone, one build
    GENERATE_BENCH_MODEL=/models/Wan2.2-TI2V-5B-Diffusers .venv/bin/python bench/generate.py

``--random-weights`` builds Wan2.2 TI2V-5B from its published configuration with random weights
(generation/backends/wan_random.py): speed does not depend on the weights' values. On a CUDA GPU it is
the full model at the published shape (704×1280, 121 frames, 50 steps, guidance 5); on a machine without
one it builds every width but 2 transformer blocks and 2 text-encoder layers and renders a small shape,
which checks the plumbing (gpu: null). Without it, GENERATE_BENCH_MODEL names a local diffusers folder
("tiny" builds the tiny test pipeline); without a GPU that mode prints gpu: null and the reason, unless
GENERATE_BENCH_ALLOW_CPU=1.

Renders go through generation.backends.diffusers_backend, the code the workers run, with no database.
A warm-up render at the same shape comes first and is not timed (it compiles, where compiling is on).

Keys: gpu (the device's name, or null), seconds_per_video (wall time of the timed renders / videos),
seconds_per_step (a sampling step of one pipeline call, both guidance passes; the first step, which also
encodes the text, is left out), mfu (transformer FLOPs of the videos over their wall time, over the
device's dense bf16 peak; flop_per_forward, flop_per_video and peak_bf16_flops say what it assumed),
mfu_steps (the same over the sampling steps alone), peak_gpu_mem_gb (torch's peak allocation, 10⁹ bytes),
gpu_busy_fraction (mean NVML utilisation while rendering: the share of time a kernel ran), vae_seconds and
text_seconds (the VAE decode and the text encoding, per video), output_fps, projected_seconds_per_video
(text + 50 steps + VAE, for runs with fewer steps), warmup_seconds, build_seconds, settings.
``--sweep`` prints {"gpu", "settings", "runs": [...]}: one run per speed choice (``--sweep-steps`` steps,
one video each), then the worker's choices over a queue of ``--videos`` videos at ``--steps`` steps.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROMPT = "A young woman with short red hair smiles and waves at the camera in a sunny park."
PUBLISHED_STEPS = 50
# The reduced shape of a CPU run: one latent token per frame side pair, 2 latent frames, 2 steps.
CPU_SHAPE = {"width": 32, "height": 32, "num_frames": 5, "num_inference_steps": 2}
# The byte-level tokenizer of the random build makes a token of each byte: Wan's Chinese negative prompt
# is 330 of them, which would make the reduced text encoder read 512 tokens twice per video.
CPU_TEXT = {"negative_prompt": "blurry, static", "max_sequence_length": 128}


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--random-weights",
        action="store_true",
        help="Wan2.2 TI2V-5B from its configuration, random weights (full size on a GPU, reduced on a CPU)",
    )
    parser.add_argument("--reduced", action="store_true", help="the reduced build and shape even on a GPU")
    parser.add_argument("--sweep", action="store_true", help="each speed choice alone, then the worker's")
    parser.add_argument("--videos", type=int, default=_env_int("GENERATE_BENCH_VIDEOS", 2))
    parser.add_argument(
        "--batch", type=int, default=_env_int("GENERATE_BENCH_BATCH", 1), help="seeds per call"
    )
    parser.add_argument("--width", type=int, default=_env_int("GENERATE_BENCH_WIDTH", 1280))
    parser.add_argument("--height", type=int, default=_env_int("GENERATE_BENCH_HEIGHT", 704))
    parser.add_argument("--frames", type=int, default=_env_int("GENERATE_BENCH_FRAMES", 121))
    parser.add_argument("--steps", type=int, default=_env_int("GENERATE_BENCH_STEPS", PUBLISHED_STEPS))
    parser.add_argument("--sweep-steps", type=int, default=5, help="steps of each --sweep run but the last")
    parser.add_argument(
        "--warmup-steps", type=int, default=2, help="0: no warm-up (the first render is timed)"
    )
    # The speed choices (generation.backends.diffusers_backend.Speed); unset: the worker's defaults.
    parser.add_argument("--attention", choices=("cudnn", "flash", "efficient", "math", "default"))
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("--vae-tiling", choices=("oom", "always", "never"))
    parser.add_argument("--async-copy", action=argparse.BooleanOptionalAction, default=None)
    return parser.parse_args(argv)


class BusySampler(threading.Thread):
    """Samples the GPU's utilisation a few times a second while the renders run."""

    def __init__(self, torch: Any, device: int) -> None:
        super().__init__(daemon=True)
        self.torch, self.device = torch, device
        self.samples: list[float] = []
        self.stop = threading.Event()

    def _read(self) -> float | None:
        try:
            return float(self.torch.cuda.utilization(self.device))  # NVML, through nvidia-ml-py
        except Exception:  # no pynvml: ask nvidia-smi instead
            if not shutil.which("nvidia-smi"):
                return None
            query = ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"]
            output = subprocess.run(
                [*query, "-i", str(self.device)], capture_output=True, text=True, timeout=5
            )
            return float(output.stdout.strip()) if output.returncode == 0 else None

    def run(self) -> None:
        while not self.stop.is_set():
            value = self._read()
            if value is None:
                return
            self.samples.append(value / 100)
            self.stop.wait(0.2)

    def fraction(self) -> float | None:
        return round(sum(self.samples) / len(self.samples), 3) if self.samples else None


class StepClock:
    """The backend's progress callback: the time each sampling step ended (after the GPU finished it)."""

    def __init__(self, sync: Callable[[], None]) -> None:
        self.sync = sync
        self.marks: list[tuple[int, float]] = []

    def __call__(self, step: int, total: int) -> None:
        self.sync()
        self.marks.append((step, time.perf_counter()))

    def seconds_per_step(self) -> float | None:
        """Mean time from one step's end to the next within a call (step 1 also encodes the text)."""
        spans = [
            later - earlier
            for (step, earlier), (next_step, later) in zip(self.marks, self.marks[1:], strict=False)
            if next_step == step + 1
        ]
        return sum(spans) / len(spans) if spans else None


class PhaseTimer:
    """Time spent in one method of the pipeline (text encoding, the VAE's decode), device work included."""

    def __init__(self, sync: Callable[[], None]) -> None:
        self.sync = sync
        self.seconds = 0.0

    @contextmanager
    def on(self, owner: Any, name: str) -> Iterator[None]:
        original = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            self.sync()
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.sync()
                self.seconds += time.perf_counter() - started

        own = owner.__dict__.get(name)  # an attribute of the instance already (a test's spy), or none
        setattr(owner, name, timed)  # an attribute of this instance, over its class's method
        try:
            yield
        finally:
            if own is None:
                delattr(owner, name)
            else:
                setattr(owner, name, own)


def transformer_flops(pipe: Any, settings: dict[str, Any]) -> tuple[int, int]:
    """(FLOPs of one transformer forward, transformer FLOPs of one video) at ``settings``' shape."""
    from generation.backends.wan_flops import WanShape, wan_forward_flops, wan_video_flops

    vae = pipe.vae.config
    shape = WanShape.of(
        pipe.transformer.config,
        spatial=int(vae.scale_factor_spatial),
        temporal=int(vae.scale_factor_temporal),
        per_token_timesteps=bool(pipe.config.get("expand_timesteps", False)),
    )
    size = {"frames": settings["num_frames"], "height": settings["height"], "width": settings["width"]}
    # Wan pads every text to max_sequence_length tokens before the transformer reads it.
    text = int(settings["max_sequence_length"])
    forward = wan_forward_flops(shape, **size, text_tokens=text)
    video = wan_video_flops(
        shape,
        **size,
        text_tokens=text,
        steps=int(settings["num_inference_steps"]),
        guidance=float(settings["guidance_scale"]),
    )
    return forward, video


class Bench:
    """Renders through one backend and measures; ``checkpoint`` is what the requests name."""

    def __init__(self, torch: Any, *, cuda: bool, checkpoint: str, lora: str, peak: float | None) -> None:
        self.torch, self.cuda, self.checkpoint, self.lora, self.peak = torch, cuda, checkpoint, lora, peak

    def sync(self) -> None:
        if self.cuda:
            self.torch.cuda.synchronize()

    def request(self, settings: dict[str, Any], seeds: list[int], **hooks: Any) -> Any:
        from generation.backends.base import RenderRequest

        return RenderRequest(
            method_name="bench",
            settings=settings,
            prompt=PROMPT,
            seeds=seeds,
            checkpoint=self.checkpoint,
            lora_path=self.lora,
            **hooks,
        )

    def warm_up(self, backend: Any, settings: dict[str, Any], *, steps: int, decode: bool) -> float:
        """An untimed render at the timed shape: it compiles (where compiling is on) and lets cuDNN and the
        allocator settle. Without ``decode`` it stops after its steps, before the VAE (the same shape's
        decode is already warm)."""
        from generation.errors import RenderCancelled

        if steps < 1:
            return 0.0
        done = {"steps": 0}

        def count(step: int, total: int) -> None:
            done["steps"] = step

        started = time.perf_counter()
        with suppress(RenderCancelled):
            backend.render(
                self.request(
                    {**settings, "num_inference_steps": steps},
                    [10_000],
                    progress=count,
                    cancelled=lambda: not decode and done["steps"] >= steps,
                )
            )
        self.sync()
        return round(time.perf_counter() - started, 2)

    def measure(self, backend: Any, settings: dict[str, Any], *, videos: int) -> dict[str, Any]:
        torch, pipe = self.torch, backend.pipeline()
        clock, text, vae = StepClock(self.sync), PhaseTimer(self.sync), PhaseTimer(self.sync)
        sampler = BusySampler(torch, 0) if self.cuda else None
        with text.on(pipe, "encode_prompt"), vae.on(pipe.vae, "decode"):
            self.sync()
            if self.cuda:
                torch.cuda.reset_peak_memory_stats()
            if sampler is not None:
                sampler.start()
            started = time.perf_counter()
            frames = backend.render(self.request(settings, list(range(videos)), progress=clock))
            self.sync()
            seconds = time.perf_counter() - started
            if sampler is not None:
                sampler.stop.set()
                sampler.join()
        from generation.backends.wan_flops import mfu

        forward, per_video = transformer_flops(pipe, settings)
        step = clock.seconds_per_step()
        passes = 2 if float(settings["guidance_scale"]) > 1 else 1
        per_call = min(int(settings["batch_size"]), videos)
        text_seconds, vae_seconds = text.seconds / videos, vae.seconds / videos
        projected = None
        if step is not None:
            calls = -(-videos // per_call)
            projected = text_seconds + vae_seconds + PUBLISHED_STEPS * step * calls / videos
        produced = sum(len(clip) for clip in frames)
        return {
            # Four significant digits: a tiny CPU render takes hundredths of a second.
            "seconds_per_video": float(f"{seconds / videos:.4g}"),
            "seconds_per_step": round(step, 4) if step is not None else None,
            "mfu": _rounded(mfu(flops=per_video * videos, seconds=seconds, peak=self.peak), 4),
            "mfu_steps": _rounded(
                mfu(flops=passes * forward * per_call, seconds=step or 0.0, peak=self.peak), 4
            ),
            "flop_per_forward": forward,
            "flop_per_video": per_video,
            "peak_gpu_mem_gb": round(torch.cuda.max_memory_allocated() / 1e9, 2) if self.cuda else None,
            "gpu_busy_fraction": sampler.fraction() if sampler is not None else None,
            "vae_seconds": round(vae_seconds, 3),
            "text_seconds": round(text_seconds, 3),
            "output_fps": round(produced / seconds, 3),
            "projected_seconds_per_video": _rounded(projected, 2),
        }


def _rounded(value: float | None, digits: int) -> float | None:
    return round(value, digits) if value is not None else None


def _speed(args: argparse.Namespace, cuda: bool) -> Any:
    from generation.backends.diffusers_backend import speed_default

    chosen = {
        "attention": args.attention,
        "compile": args.compile,
        "vae_tiling": args.vae_tiling,
        "async_copy": args.async_copy,
    }
    return replace(
        speed_default(cuda=cuda), **{key: value for key, value in chosen.items() if value is not None}
    )


def _sweep(cuda: bool) -> list[tuple[str, Any, bool]]:
    """(label, speed, VAE in bf16) for each run: the speed choices one at a time over torch's defaults,
    in an order that compiles last (compiled blocks stay compiled in this process, so the runs after it
    could not be told apart)."""
    from generation.backends.diffusers_backend import Speed, speed_default

    return [
        ("stock: default attention, no compile, plain copy", Speed(), False),
        ("attention=cudnn", Speed(attention="cudnn"), False),
        ("attention=flash", Speed(attention="flash"), False),
        ("async_copy", Speed(async_copy=True), False),
        ("vae_tiling=always", Speed(vae_tiling="always"), False),
        # What decoding in bf16 would save; the worker keeps the VAE in float32 (bf16 decoding bands).
        ("vae in bfloat16 (measured only)", Speed(), True),
        ("worker without compile", Speed(attention="cudnn", async_copy=True), False),
        ("worker: + compile", speed_default(cuda=cuda), False),
    ]


@contextmanager
def _vae_in(pipe: Any, dtype: Any) -> Iterator[None]:
    kept = pipe.vae.dtype
    pipe.vae.to(dtype)
    try:
        yield
    finally:
        pipe.vae.to(kept)


def _model(args: argparse.Namespace, cuda: bool, scratch: Path) -> tuple[Any, str, str, bool]:
    """The backend's pipeline source: (a BuiltPipeline or None, checkpoint, lora, reduced)."""
    if args.random_weights:
        from generation.backends.diffusers_backend import BuiltPipeline
        from generation.backends.wan_random import RANDOM_WEIGHTS_CHECKPOINT, pipeline_random

        reduced = args.reduced or not cuda
        pipe = pipeline_random(device="cuda" if cuda else "cpu", reduced=reduced)
        return (
            BuiltPipeline(name=RANDOM_WEIGHTS_CHECKPOINT, pipe=pipe),
            RANDOM_WEIGHTS_CHECKPOINT,
            "",
            reduced,
        )
    spec = os.environ.get("GENERATE_BENCH_MODEL", "")
    if spec == "tiny":
        from demo.tiny_model import tiny_model_write

        tiny_model_write(scratch / "tiny")
        spec = str(scratch / "tiny")
    return None, spec, os.environ.get("GENERATE_BENCH_LORA", ""), False


def run(args: argparse.Namespace, result: dict[str, Any]) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    cuda = torch.cuda.is_available()
    if not cuda and not args.random_weights and os.environ.get("GENERATE_BENCH_ALLOW_CPU") != "1":
        result["reason"] = "no CUDA GPU is visible to torch (torch.cuda.is_available() is False)"
        return 0
    if not args.random_weights and not os.environ.get("GENERATE_BENCH_MODEL"):
        result["reason"] = (
            "set GENERATE_BENCH_MODEL to a local diffusers model folder (or to tiny), or use --random-weights"
        )
        return 2
    from generation.backends.diffusers_backend import DiffusersBackend
    from generation.backends.wan_flops import peak_bf16_flops

    if cuda:
        result["gpu"] = torch.cuda.get_device_name(0)
    peak = peak_bf16_flops(result["gpu"])
    result["peak_bf16_flops"] = peak
    with tempfile.TemporaryDirectory(prefix="bench-generate-") as scratch:
        started = time.perf_counter()
        spec = os.environ.get("GENERATE_BENCH_MODEL", "")
        built, checkpoint, lora, reduced = _model(args, cuda, Path(scratch))
        if built is not None:
            result["build_seconds"] = round(time.perf_counter() - started, 2)
        shape = {
            "width": args.width,
            "height": args.height,
            "num_frames": args.frames,
            "num_inference_steps": args.steps,
            "batch_size": args.batch,
        }
        if reduced:
            shape.update(CPU_SHAPE, **CPU_TEXT)
        # A sweep starts from torch's defaults: compiled blocks would stay compiled for every run after.
        speed = _sweep(cuda)[0][1] if args.sweep else _speed(args, cuda)
        backend = DiffusersBackend(pipeline=built, speed=speed)
        settings = backend.settings_for({}, shape)
        backend.check(checkpoint=checkpoint, lora_path=lora, lora_sha256="", settings=settings)
        bench = Bench(torch, cuda=cuda, checkpoint=checkpoint, lora=lora, peak=peak)
        warm = min(args.warmup_steps, settings["num_inference_steps"])
        if built is None:
            warm = max(warm, 1)  # a model folder's pipeline is loaded by its first render
        result["warmup_seconds"] = bench.warm_up(backend, settings, steps=warm, decode=True)
        pipe = backend.pipeline()
        result["settings"] = {
            "model": checkpoint if built is not None or spec != "tiny" else "tiny",
            "reduced": reduced,
            "layers": pipe.transformer.config.num_layers,
            "text_layers": pipe.text_encoder.config.num_layers,
            "transformer_dtype": str(pipe.transformer.dtype).removeprefix("torch."),
            "vae_dtype": str(pipe.vae.dtype).removeprefix("torch."),
            "videos": args.videos,
            "video_fps": settings["fps"],
            **{
                key: settings[key]
                for key in (
                    "width",
                    "height",
                    "num_frames",
                    "num_inference_steps",
                    "guidance_scale",
                    "batch_size",
                    "max_sequence_length",
                )
            },
        }
        if not args.sweep:
            result["settings"]["speed"] = asdict(speed)
            result.update(bench.measure(backend, settings, videos=args.videos))
            return 0
        runs = []
        settings_run = result["settings"]
        short = {**settings, "num_inference_steps": min(args.sweep_steps, settings["num_inference_steps"])}
        choices = _sweep(cuda)
        for index, (label, choice, vae_bf16) in enumerate(choices):
            last = index == len(choices) - 1
            if vae_bf16 and built is None:
                continue  # real weights would come back from bf16 rounded
            each = DiffusersBackend(pipeline=built, speed=choice)
            chosen, videos = (settings, args.videos) if last else (short, 1)
            with _vae_in(pipe, torch.bfloat16 if vae_bf16 else pipe.vae.dtype):
                warmed = bench.warm_up(each, chosen, steps=warm, decode=vae_bf16)
                measured = bench.measure(each, chosen, videos=videos)
            runs.append(
                {
                    "label": label,
                    "speed": asdict(choice),
                    "vae_dtype": "bfloat16" if vae_bf16 else settings_run["vae_dtype"],
                    "steps": chosen["num_inference_steps"],
                    "videos": videos,
                    "warmup_seconds": warmed,
                    **measured,
                }
            )
            print(json.dumps(runs[-1]), file=sys.stderr, flush=True)  # a run's figures as soon as it ends
        result["runs"] = runs
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    result: dict[str, Any] = {
        "gpu": None,
        "seconds_per_video": None,
        "seconds_per_step": None,
        "mfu": None,
        "peak_gpu_mem_gb": None,
        "gpu_busy_fraction": None,
        "vae_seconds": None,
        "text_seconds": None,
        "output_fps": None,
    }
    try:
        code = run(args, result)
    except ImportError as error:
        result["reason"] = f"torch or diffusers cannot be imported: {error}"
        code = 0
    if args.sweep:  # the figures are per run
        kept = ("gpu", "peak_bf16_flops", "build_seconds", "warmup_seconds", "settings", "runs", "reason")
        result = {key: result[key] for key in kept if key in result}
    else:  # the settings last, after the figures
        result = {key: value for key, value in result.items() if key != "settings"} | (
            {"settings": result["settings"]} if "settings" in result else {}
        )
    print(json.dumps(result))
    return code


if __name__ == "__main__":
    sys.exit(main())
