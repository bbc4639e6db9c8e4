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


def _run(capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:
    code = _bench().main()
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
