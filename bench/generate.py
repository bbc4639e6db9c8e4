"""Generation benchmark: render videos with a real model folder on a CUDA GPU and print one JSON line.

    GENERATE_BENCH_MODEL=/models/Wan2.2-TI2V-5B-Diffusers .venv/bin/python bench/generate.py

Keys: gpu (the device name, or null), seconds_per_video (wall time of the timed renders / videos),
output_fps (video frames produced per second of wall time), peak_gpu_mem_gb (peak memory allocated by
torch, 10⁹ bytes), gpu_busy_fraction (mean NVML utilisation while rendering: the share of time a kernel
was running; null where NVML and nvidia-smi are both missing). Without a CUDA GPU it prints gpu: null and
the reason, and exits 0.

It renders through generation.backends.diffusers_backend, the code the workers run, with no database.
A warm-up render (same shape, 2 steps) loads the pipeline first and is not timed.

Environment (defaults: the published Wan2.2 TI2V-5B setup):
    GENERATE_BENCH_MODEL    local diffusers folder; "tiny" builds the tiny random pipeline (a smoke test)
    GENERATE_BENCH_LORA     optional LoRA file
    GENERATE_BENCH_VIDEOS   videos to render, default 2
    GENERATE_BENCH_BATCH    seeds per pipeline call, default 1
    GENERATE_BENCH_WIDTH, _HEIGHT, _FRAMES, _STEPS   default 1280, 704, 121, 50
    GENERATE_BENCH_ALLOW_CPU=1   run without a GPU anyway (to check the script; gpu stays null)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


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


def _model_folder(spec: str, scratch: Path) -> str:
    if spec != "tiny":
        return spec
    from demo.tiny_model import tiny_model_write

    tiny_model_write(scratch / "tiny")
    return str(scratch / "tiny")


def run(result: dict[str, Any]) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    cuda = torch.cuda.is_available()
    if not cuda and os.environ.get("GENERATE_BENCH_ALLOW_CPU") != "1":
        result["reason"] = "no CUDA GPU is visible to torch (torch.cuda.is_available() is False)"
        return 0
    if cuda:
        result["gpu"] = torch.cuda.get_device_name(0)
    spec = os.environ.get("GENERATE_BENCH_MODEL", "")
    if not spec:
        result["reason"] = "set GENERATE_BENCH_MODEL to a local diffusers model folder (or to tiny)"
        return 2

    from generation.backends.base import RenderRequest
    from generation.backends.diffusers_backend import DiffusersBackend

    videos = _env_int("GENERATE_BENCH_VIDEOS", 2)
    shape = {
        "width": _env_int("GENERATE_BENCH_WIDTH", 1280),
        "height": _env_int("GENERATE_BENCH_HEIGHT", 704),
        "num_frames": _env_int("GENERATE_BENCH_FRAMES", 121),
        "num_inference_steps": _env_int("GENERATE_BENCH_STEPS", 50),
        "batch_size": _env_int("GENERATE_BENCH_BATCH", 1),
    }
    backend = DiffusersBackend()
    settings = backend.settings_for({}, shape)
    with tempfile.TemporaryDirectory(prefix="bench-generate-") as scratch:
        folder = _model_folder(spec, Path(scratch))
        lora = os.environ.get("GENERATE_BENCH_LORA", "")
        prompt = "A young woman with short red hair smiles and waves at the camera in a sunny park."
        backend.check(checkpoint=folder, lora_path=lora, lora_sha256="", settings=settings)

        def request(seeds: list[int], steps: int) -> RenderRequest:
            return RenderRequest(
                method_name="bench",
                settings={**settings, "num_inference_steps": steps},
                prompt=prompt,
                seeds=seeds,
                checkpoint=folder,
                lora_path=lora,
            )

        started = time.perf_counter()
        backend.render(request([10_000], 2))  # loads the pipeline and warms the kernels; not timed
        result["warmup_seconds"] = round(time.perf_counter() - started, 2)

        sampler = BusySampler(torch, 0) if cuda else None
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            sampler.start()
        started = time.perf_counter()
        frames = backend.render(request(list(range(videos)), shape["num_inference_steps"]))
        if cuda:
            torch.cuda.synchronize()
        seconds = time.perf_counter() - started
        if sampler is not None:
            sampler.stop.set()
            sampler.join()
            result["gpu_busy_fraction"] = sampler.fraction()
            result["peak_gpu_mem_gb"] = round(torch.cuda.max_memory_allocated() / 1e9, 2)
        produced = sum(len(clip) for clip in frames)
        result.update(
            seconds_per_video=round(seconds / videos, 3),
            output_fps=round(produced / seconds, 3),
            videos=videos,
            model=folder if spec != "tiny" else "tiny",
            video_fps=settings["fps"],
            **{
                key: shape[key]
                for key in ("width", "height", "num_frames", "num_inference_steps", "batch_size")
            },
        )
    return 0


def main() -> int:
    result: dict[str, Any] = {
        "gpu": None,
        "seconds_per_video": None,
        "output_fps": None,
        "peak_gpu_mem_gb": None,
        "gpu_busy_fraction": None,
    }
    try:
        code = run(result)
    except ImportError as error:
        result["reason"] = f"torch or diffusers cannot be imported: {error}"
        code = 0
    print(json.dumps(result))
    return code


if __name__ == "__main__":
    sys.exit(main())
