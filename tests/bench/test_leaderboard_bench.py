"""bench/leaderboard.py at a tiny size: one JSON line with the keys the benchmark promises."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_leaderboard_bench_prints_one_json_line_with_its_figures() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "bench/leaderboard.py",
            "--judgments",
            "3000",
            "--methods",
            "6",
            "--raters",
            "40",
            "--rounds",
            "30",
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
    assert set(figures) == {"judgments", "methods", "rounds", "seconds", "peak_rss_mb"}
    assert (figures["judgments"], figures["methods"], figures["rounds"]) == (3000, 6, 30)
    assert figures["seconds"] > 0 and figures["peak_rss_mb"] > 0
    assert "simulated 3,000 judgments in" in done.stderr
