"""bench/metrics.py at a small size: one JSON line with the figures the benchmark promises."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_metrics_bench_prints_one_json_line_with_its_figures() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "bench/metrics.py",
            "--width",
            "512",
            "--height",
            "640",
            "--frames",
            "13",
            "--repeat",
            "1",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1
    figures = json.loads(lines[0])
    assert {"seconds_per_video", "videos_per_hour", "peak_rss_mb", "frames", "settings"} <= set(figures)
    assert figures["seconds_per_video"] > 0 and figures["peak_rss_mb"] > 0
    assert figures["videos_per_hour"] == pytest.approx(3600 / figures["seconds_per_video"], rel=0.01)
    # The synthetic video shows the person of the references.
    identity = figures["metrics"]["face_identity"]
    assert identity["status"] == "computed" and identity["value"] < 0.6
    assert figures["metrics"]["text_alignment"]["status"] == "unavailable"
