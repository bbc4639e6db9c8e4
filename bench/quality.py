"""Rater quality benchmark: the quality table of a track with one million judgments by 500 raters.

    .venv/bin/python bench/quality.py [--judgments 1000000] [--raters 500] [--seed 0]

The judgments come from :func:`annotate.quality_simulation.simulate_track` (3 votes per comparison, 10 %
gold, 10 % repeats; 92 % careful raters, 4 % always-Left, 4 % random). Prints one JSON line: judgments,
raters, seconds (``quality_fit`` alone: every figure, the Dawid–Skene and MACE fits, the flags, and the
posteriors), peak_rss_mb (the process's peak resident memory, ``ru_maxrss``, read after the computation:
it covers Python, pandas, crowd-kit, the generated table and the computation; the data are generated
first, so the peak is the computation's unless generating cost more), and, for context, rss_before_mb
(the peak before the computation began), generate_seconds, cpu_seconds, flagged and careless.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from annotate.quality import quality_fit  # noqa: E402
from annotate.quality_simulation import simulate_track  # noqa: E402


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--judgments", type=int, default=1_000_000)
    parser.add_argument("--raters", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    careless = max(2, round(args.raters * 0.04))
    started = time.perf_counter()
    sim = simulate_track(
        args.seed,
        comparisons=round(args.judgments * 0.8 / 3),  # real votes are 80 % of what is handed out
        careful=args.raters - 2 * careless,
        always_left=careless,
        random=careless,
    )
    generated = time.perf_counter()
    before = peak_mb()
    cpu = time.process_time()
    fit = quality_fit(sim.judgments)
    cpu = time.process_time() - cpu
    seconds = time.perf_counter() - generated
    flagged = {int(r) for r, f in zip(fit.raters["rater"], fit.raters["flags"], strict=True) if f}
    print(
        json.dumps(
            {
                "judgments": len(sim.judgments),
                "raters": int(fit.raters.shape[0]),
                "seconds": round(seconds, 2),
                "peak_rss_mb": round(peak_mb(), 1),
                "rss_before_mb": round(before, 1),
                "generate_seconds": round(generated - started, 2),
                "cpu_seconds": round(cpu, 2),
                "flagged": len(flagged),
                "careless": len(sim.careless),
                "flagged_careful": len(flagged - sim.careless),
            }
        )
    )


if __name__ == "__main__":
    main()
