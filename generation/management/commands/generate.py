"""``manage.py generate --method NAME (--identities a,b|all --prompts p,q|all --seeds N|s1,s2 | --match-method
OLD | --stories s,t|all --story-mode MODE --seeds N|s1,s2) [--wait]``."""

from __future__ import annotations

import json
import time
from argparse import ArgumentParser
from typing import Any, TypeVar

from django.core.management.base import BaseCommand, CommandError
from django.db.models import QuerySet

from generation.errors import GenerationError
from generation.models import Identity, Method, Prompt, Story, StoryRendering
from generation.selectors import job_progress_get
from generation.services import generation_job_create

_BySlug = TypeVar("_BySlug", Identity, Prompt, Story)


def _pick(queryset: QuerySet[_BySlug], spec: str, what: str) -> list[_BySlug]:
    if spec.strip() == "all":
        return list(queryset)
    slugs = [slug.strip() for slug in spec.split(",") if slug.strip()]
    found = {row.slug: row for row in queryset.filter(slug__in=slugs)}
    missing = [slug for slug in slugs if slug not in found]
    if missing:
        raise CommandError(f"no such {what}: {', '.join(missing)}")
    return [found[slug] for slug in slugs]


def _seeds(spec: str) -> int | list[int]:
    try:
        parts = [int(part) for part in spec.split(",") if part.strip()]
    except ValueError as error:
        raise CommandError(
            f"--seeds takes a count or a comma-separated list of seeds, got {spec!r}"
        ) from error
    # "4" is a count (seeds 0-3); "4," or "0,7" is a list of seeds.
    return parts[0] if len(parts) == 1 and "," not in spec else parts


class Command(BaseCommand):
    help = "Launch a generation job: every identity × prompt × seed with one method, rendered by GPU workers."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--method", required=True, help="method name")
        parser.add_argument("--identities", help="identity slugs, comma-separated, or all")
        parser.add_argument("--prompts", help="prompt slugs, comma-separated, or all")
        parser.add_argument("--seeds", help="a count N (seeds 0…N-1) or seeds: 3,17,42")
        parser.add_argument(
            "--match-method",
            metavar="OLD",
            help="instead of --identities, --prompts and --seeds: the identity, prompt and seed of each of "
            "OLD's videos; with --extend-track, each new video is also paired with OLD's of the same seed",
        )
        parser.add_argument(
            "--stories",
            help="instead of --identities and --prompts: story slugs, comma-separated, or all; each story × "
            "seed is one rendering of all its shots",
        )
        parser.add_argument(
            "--story-mode",
            choices=StoryRendering.Mode.values,
            help="with --stories: each shot from the references and its prompt (independent), or each next "
            "shot from the previous one's last frame, with or without the references",
        )
        # Django owns --settings; these are the sampling settings of this job over the method's.
        parser.add_argument("--overrides", default="{}", help="JSON, e.g. '{\"num_inference_steps\": 30}'")
        parser.add_argument(
            "--extend-track", type=int, default=None, help="id of a track to add comparisons to"
        )
        parser.add_argument(
            "--same-method-pairs",
            action="store_true",
            help="with --extend-track: also pair this method's videos with each other (only seeds differ)",
        )
        parser.add_argument("--wait", action="store_true", help="follow the job until it finishes")
        parser.add_argument(
            "--timeout", type=float, default=None, help="give up waiting after this many seconds"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        method = Method.objects.filter(name=options["method"]).first()
        if method is None:
            raise CommandError(f"no such method: {options['method']}")
        try:
            overrides = json.loads(options["overrides"])
        except ValueError as error:
            raise CommandError(f"--overrides is not JSON: {error}") from error
        if not isinstance(overrides, dict):
            raise CommandError("--overrides must be a JSON object")
        try:
            job = generation_job_create(
                method=method,
                **self._cases(options),
                settings_overrides=overrides,
                extend_track_id=options["extend_track"],
                extend_same_method_pairs=options["same_method_pairs"],
            )
        except GenerationError as error:
            raise CommandError(str(error)) from error
        what = "story renderings" if job.story_mode else "videos"
        self.stdout.write(f"Job {job.pk}: {job.items.count()} {what} queued for {method.name}.")
        if options["wait"]:
            self._follow(job.pk, options["timeout"])

    def _cases(self, options: dict[str, Any]) -> dict[str, Any]:
        if options["stories"] is not None or options["story_mode"] is not None:
            return self._story_cases(options)
        chosen = [f"--{name}" for name in ("identities", "prompts", "seeds") if options[name] is not None]
        if options["match_method"] is None:
            if len(chosen) < 3:
                raise CommandError("give --identities, --prompts and --seeds, or --match-method OLD")
            return {
                "identities": _pick(Identity.objects.all(), options["identities"], "identity"),
                "prompts": _pick(Prompt.objects.all(), options["prompts"], "prompt"),
                "seeds": _seeds(options["seeds"]),
            }
        if chosen:
            raise CommandError(
                f"--match-method takes the identities, prompts and seeds of OLD's videos: leave out "
                f"{', '.join(chosen)}"
            )
        match = Method.objects.filter(name=options["match_method"]).first()
        if match is None:
            raise CommandError(f"no such method to match: {options['match_method']}")
        return {"match_method": match}

    def _story_cases(self, options: dict[str, Any]) -> dict[str, Any]:
        extra = [
            f"--{name.replace('_', '-')}"
            for name in ("identities", "prompts", "match_method")
            if options[name]
        ]
        if extra:
            raise CommandError(
                "--stories renders the stories' own identities and shot prompts: "
                f"leave out {', '.join(extra)}"
            )
        missing = [
            f"--{name.replace('_', '-')}"
            for name in ("stories", "story_mode", "seeds")
            if options[name] is None
        ]
        if missing:
            raise CommandError(
                f"a story job needs --stories, --story-mode and --seeds: give {', '.join(missing)}"
            )
        return {
            "stories": _pick(Story.objects.all(), options["stories"], "story"),
            "story_mode": options["story_mode"],
            "seeds": _seeds(options["seeds"]),
        }

    def _follow(self, job_id: int, timeout: float | None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        last: tuple[object, ...] = ()
        while True:
            progress = job_progress_get(job_id=job_id)
            assert progress is not None
            # A line when something moved, not one per poll: the times alone change every second.
            state = (progress.job.status, progress.done, progress.failed, progress.step, progress.steps_total)
            if state != last:
                self.stdout.write(progress.summary())
                last = state
            if progress.job.is_finished:
                break
            if deadline is not None and time.monotonic() > deadline:
                raise CommandError(f"job {job_id} is still {progress.job.status} after {timeout:g} s")
            time.sleep(1.0)
        if progress.job.status != progress.job.Status.DONE:
            raise CommandError(
                f"job {job_id} ended {progress.job.status}: {progress.job.error or 'see its items'}"
            )
