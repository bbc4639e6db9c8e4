"""Leaderboard benchmark: one million judgments over 40 methods by 2,000 raters, 1,000 bootstrap rounds.

    .venv/bin/python bench/leaderboard.py [--judgments 1000000] [--methods 40] [--raters 2000]
                                          [--rounds 1000] [--seed 0]

Prints one JSON line: judgments, methods, rounds, seconds (``leaderboard()`` alone: the fit, the
rater-clustered bootstrap and the fragility search, not the simulation), peak_rss_mb (the process's peak
resident memory, simulation included). The simulation's time goes to stderr.

The judgments come from a Bradley–Terry model: methods with normal log-strengths, each rater with a
deviation of their own from them (raters disagree), raters judging very different numbers of pairs
(log-normal), pairs drawn at random, one in ten judgments a tie.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from annotate.rankings import Judged, leaderboard  # noqa: E402

TIES = 0.1
RATER_SPREAD = 0.3  # standard deviation of a rater's own deviation from each method's log-strength


def say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def simulate(*, judgments: int, methods: int, raters: int, seed: int) -> Judged:
    rng = np.random.default_rng(seed)
    strength = rng.normal(0.0, 1.0, methods)
    share = rng.lognormal(0.0, 1.0, raters)
    rater = rng.choice(raters, size=judgments, p=share / share.sum())
    first = rng.integers(0, methods, judgments)
    second = (first + rng.integers(1, methods, judgments)) % methods  # never the same method
    deviation = rng.normal(0.0, RATER_SPREAD, (raters, methods))
    gap = strength[first] + deviation[rater, first] - strength[second] - deviation[rater, second]
    outcome = (rng.random(judgments) < 1.0 / (1.0 + np.exp(-gap))).astype(np.float64)
    outcome[rng.random(judgments) < TIES] = 0.5
    return Judged(
        methods=tuple(f"method-{m:02d}" for m in range(methods)),
        first=first,
        second=second,
        outcome=outcome,
        rater=rater,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--judgments", type=int, default=1_000_000)
    parser.add_argument("--methods", type=int, default=40)
    parser.add_argument("--raters", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    data = simulate(judgments=args.judgments, methods=args.methods, raters=args.raters, seed=args.seed)
    say(f"simulated {args.judgments:,} judgments in {time.perf_counter() - started:.2f} s")

    started = time.perf_counter()
    board = leaderboard(data, rounds=args.rounds, seed=args.seed)
    seconds = time.perf_counter() - started
    fragility = board.fragility.removals if board.fragility else None
    say(f"leader {board.methods[0]}, fragility {fragility} judgments")
    # ru_maxrss is in kilobytes on Linux.
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "judgments": args.judgments,
                "methods": args.methods,
                "rounds": args.rounds,
                "seconds": round(seconds, 2),
                "peak_rss_mb": round(peak_rss_mb, 1),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
