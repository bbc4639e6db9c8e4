from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "generate.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_generate", BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = _bench().main(list(argv))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1  # one JSON line, nothing else on stdout
    return code, json.loads(lines[0])


def test_without_a_gpu_it_prints_gpu_null_with_the_reason_and_exits_0(capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delenv("GENERATE_BENCH_ALLOW_CPU", raising=False)
    code, result = _run(capsys)
    assert code == 0
    assert result["gpu"] is None and "no CUDA GPU" in result["reason"]
    assert set(result) >= {"seconds_per_video", "output_fps", "peak_gpu_mem_gb", "gpu_busy_fraction"}


def test_on_the_cpu_when_allowed_it_times_the_renders_of_the_tiny_model(capsys, monkeypatch, tiny_model):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for name, value in {
        "GENERATE_BENCH_ALLOW_CPU": "1", "GENERATE_BENCH_MODEL": str(tiny_model.folder),
        "GENERATE_BENCH_VIDEOS": "2", "GENERATE_BENCH_WIDTH": "32", "GENERATE_BENCH_HEIGHT": "32",
        "GENERATE_BENCH_FRAMES": "9", "GENERATE_BENCH_STEPS": "2", "GENERATE_BENCH_BATCH": "2",
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    code, result = _run(capsys)
    assert code == 0
    assert result["gpu"] is None and result["peak_gpu_mem_gb"] is None
    assert result["seconds_per_video"] > 0
    assert result["output_fps"] == pytest.approx(9 / result["seconds_per_video"], rel=0.01)


def test_with_random_weights_on_the_cpu_it_renders_the_full_width_two_block_pipeline_through_the_backend(
    capsys, monkeypatch
):
    """The plumbing of the GPU measurement: Wan2.2 TI2V-5B's widths with 2 transformer blocks and 2
    encoder layers, random weights, rendered by the worker's backend at a reduced shape (about 25 s and
    5 GB on two cores: the 2.2 VAE alone is 2.8 GB in float32)."""
    import torch

    from generation.backends import wan_flops

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    # A made-up peak of 1 TFLOP/s, to check the MFU's wiring where no GPU has one.
    monkeypatch.setattr(wan_flops, "peak_bf16_flops", lambda name: 1e12)
    code, result = _run(capsys, "--random-weights", "--videos", "1", "--warmup-steps", "0")
    assert code == 0
    settings = result["settings"]
    assert result["gpu"] is None and result["peak_gpu_mem_gb"] is None and result["gpu_busy_fraction"] is None
    assert settings["model"] == "random-weights:wan2.2-ti2v-5b"
    assert (settings["reduced"], settings["layers"], settings["text_layers"]) == (True, 2, 2)
    assert (settings["transformer_dtype"], settings["vae_dtype"]) == ("bfloat16", "float32")
    assert (
        settings["width"],
        settings["height"],
        settings["num_frames"],
        settings["num_inference_steps"],
    ) == (
        32,
        32,
        5,
        2,
    )
    # Hand-counted in test_wan_flops.py; 2 steps of 2 guidance passes a video.
    assert result["flop_per_forward"] == 16_736_944_128
    assert result["flop_per_video"] == 4 * 16_736_944_128
    assert result["mfu"] == pytest.approx(
        result["flop_per_video"] / result["seconds_per_video"] / 1e12, rel=0.01
    )
    assert result["seconds_per_step"] > 0 and result["vae_seconds"] > 0 and result["text_seconds"] > 0
    assert result["seconds_per_video"] > result["vae_seconds"] + result["text_seconds"]


def test_the_sweep_measures_each_speed_choice_then_the_worker_over_the_queue(capsys, monkeypatch):
    import torch

    from demo.tiny_model import pipeline_tiny
    from generation.backends import diffusers_backend, wan_random
    from generation.backends.diffusers_backend import Speed

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    built = pipeline_tiny()  # in place of the random Wan2.2: the same loop in seconds
    monkeypatch.setattr(wan_random, "pipeline_random", lambda **options: built)
    # The worker's choices as on a GPU, compiling; the compilation itself is only recorded, with the
    # number of runs finished before it (each run's line goes to stderr as it ends).
    monkeypatch.setattr(
        diffusers_backend, "speed_default", lambda cuda: Speed(attention="cudnn", compile=True)
    )
    compiled_after: list[int] = []
    monkeypatch.setattr(
        built.transformer,
        "compile_repeated_blocks",
        lambda **options: compiled_after.append(capsys.readouterr().err.count('"label"')),
    )
    code, result = _run(
        capsys, "--random-weights", "--sweep", "--videos", "2", "--steps", "3", "--sweep-steps", "2"
    )
    assert code == 0
    runs = {run["label"]: run for run in result["runs"]}
    assert list(runs)[:2] == ["stock: default attention, no compile, plain copy", "attention=cudnn"]
    assert runs["stock: default attention, no compile, plain copy"]["speed"] == {
        "attention": "default",
        "compile": False,
        "vae_tiling": "oom",
        "async_copy": False,
    }
    assert runs["attention=flash"]["speed"]["attention"] == "flash"
    assert runs["vae in bfloat16 (measured only)"]["vae_dtype"] == "bfloat16"
    assert built.vae.dtype == torch.float32  # back as the worker keeps it
    assert compiled_after == [len(runs) - 1]  # only for the last run: the others ran uncompiled
    assert [run["speed"]["compile"] for run in result["runs"]] == [False] * (len(runs) - 1) + [True]
    # Short runs of one video each, then the worker's choices over the queue at the full steps (the
    # reduced CPU shape has 2).
    assert [(run["steps"], run["videos"]) for run in result["runs"]] == [(2, 1)] * (len(runs) - 1) + [(2, 2)]
    assert all(run["seconds_per_video"] > 0 and run["seconds_per_step"] > 0 for run in result["runs"])
