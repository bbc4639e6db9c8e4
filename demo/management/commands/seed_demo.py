"""Draw the synthetic demo world: cartoon people, prompts, methods, their videos and the demo logins,
then one annotation track of each kind and an open demo study over it, and queue the videos' metrics."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from demo.study import seed_demo_story_study, seed_demo_study, seed_demo_study_gold, simulate_participants
from demo.tracks import seed_demo_gold, seed_demo_tracks, simulate_votes
from demo.world import (
    DEFAULT_FRAMES,
    DEFAULT_SIZE,
    seed_demo_metric_run,
    seed_demo_story_renderings,
    seed_demo_world,
)


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


class Command(BaseCommand):
    help = "Create the demo world (idempotent: a second run adds only what is missing)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=0, help="First video seed (default 0).")
        parser.add_argument(
            "--identities", type=_positive, default=None, help="Use only the first N identities."
        )
        parser.add_argument("--prompts", type=_positive, default=None, help="Use only the first N prompts.")
        parser.add_argument("--seeds-per-case", type=_positive, default=1, help="Videos per method and case.")
        parser.add_argument(
            "--size",
            type=int,
            default=DEFAULT_SIZE,
            help=f"Video side in pixels, even (default {DEFAULT_SIZE}).",
        )
        parser.add_argument(
            "--frames",
            type=_positive,
            default=DEFAULT_FRAMES,
            help=f"Frames per video (default {DEFAULT_FRAMES}).",
        )
        parser.add_argument(
            "--workers", type=int, default=None, help="Rendering processes (default: CPUs, max 4)."
        )
        parser.add_argument("--with-votes", action="store_true", help="Also simulate annotator votes.")

    def handle(self, *args: Any, **options: Any) -> None:
        size = options["size"]
        if size % 2 or size < 16:
            raise CommandError(
                f"--size must be an even number of pixels, at least 16 (got {size}): "
                "H.264 in yuv420p needs even sides."
            )
        summary = seed_demo_world(
            seed=options["seed"],
            identities=options["identities"],
            prompts=options["prompts"],
            seeds_per_case=options["seeds_per_case"],
            size=size,
            num_frames=options["frames"],
            workers=options["workers"],
            stdout=self.stdout,
        )
        self.stdout.write(self.style.SUCCESS(f"Demo world: {summary}"))
        renderings = seed_demo_story_renderings(seed=options["seed"], size=size, num_frames=options["frames"])
        self.stdout.write(f"Story renderings: {renderings} made")
        tracks = seed_demo_tracks(annotator_usernames=["annotator"])
        self.stdout.write(f"Tracks: {', '.join(track.name for track in tracks)}")
        study = seed_demo_study()
        gold = seed_demo_gold(tracks=tracks, seed=options["seed"])
        if study is not None:
            gold += seed_demo_study_gold(seed=options["seed"])
        self.stdout.write(f"Gold comparisons (known answer): {gold}")
        if study is not None:
            self.stdout.write(
                f"Study: {study.name} ({study.get_status_display()}), join at /s/{study.public_slug}/"
            )
        story_study = seed_demo_story_study()
        if story_study is not None:
            self.stdout.write(
                f"Study: {story_study.name} ({story_study.get_status_display()}), "
                f"join at /s/{story_study.public_slug}/"
            )
        metric_run = seed_demo_metric_run()
        if metric_run is not None:
            self.stdout.write(
                f"Metrics: run {metric_run.pk} queued over {metric_run.video_count} videos "
                "(the worker computes them in the background; see the Metrics page)"
            )
        if options["with_votes"]:
            # Six careful annotators, one who always clicks Left and one who clicks at random.
            votes = simulate_votes(tracks=tracks, raters=6, careless=("left", "random"), seed=options["seed"])
            answers = 0
            if study is not None and not study.participants.exists():
                # Once only: a second run would add participants beyond the demo's few.
                answers = simulate_participants(
                    study=study, completed=6, withdrawn=1, careless=1, seed=options["seed"]
                )
            self.stdout.write(f"Simulated: {votes} track votes, {answers} study answers")
