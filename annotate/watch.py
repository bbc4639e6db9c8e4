"""The watch rule shared by tracks and studies: how much of a video a player report may have shown.

A player reports the fraction of each video it has played; the server keeps the most it can believe.
Tracks (``assignment_watch_record``) and studies (``matchup_watch_record``) record through
``watched_plausible`` and check the record, never the claim that comes with an answer.
"""

from __future__ import annotations

# The player offers speeds up to 2×: no honest report can have seen more than this per second.
MAX_PLAYBACK_SPEED = 2.0

# Browsers stop a hair before the last frame; "played through" means this close to the end.
WATCH_TOLERANCE = 0.97


def watched_plausible(*, reported: float, duration: float, elapsed_seconds: float) -> float:
    """The part of a ``duration``-second video that ``elapsed_seconds`` since it was first shown can
    have played, at most ``reported`` and at most one full play (so a rule is at most 1)."""
    ceiling = (max(elapsed_seconds, 0.0) * MAX_PLAYBACK_SPEED + 0.5) / max(duration, 0.01)
    return min(max(reported, 0.0), ceiling, 1.0)


def watch_needed(min_watch_fraction: float) -> float:
    """The recorded fraction of each video that a rule of ``min_watch_fraction`` needs."""
    return min_watch_fraction * WATCH_TOLERANCE


# The click that starts a wait happens before its answer reaches the server, which hands out (or
# promotes) the next pair: a wait may be this much longer than the time since then.
WAIT_SLACK_SECONDS = 30.0


def wait_plausible(*, reported_ms: float, elapsed_seconds: float, ceiling_seconds: float) -> int:
    """The wait between an answer and the next pair being playable that the server keeps from a
    player's report of ``reported_ms``: clipped to at least 0, at most the time since the pair was
    handed out (``elapsed_seconds``, with the slack above) and at most ``ceiling_seconds`` (its lease)."""
    most = min(max(elapsed_seconds, 0.0) + WAIT_SLACK_SECONDS, ceiling_seconds) * 1000
    return int(min(max(reported_ms, 0.0), most))
