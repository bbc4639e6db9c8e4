"""Hooks for the apps built on the catalog, which it may not import (design.md: imports point inwards)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.dispatch import Signal

# Sent once when every video of a generation job has finished (done, failed or cancelled), after the
# transaction that finished it committed. Arguments: job (a GenerationJob). annotate extends the track
# named by job.extend_track_id with comparisons of the new videos.
job_finished = Signal()

# Offers "extend this track" targets to the launch form as (id, name) pairs; annotate registers one.
TrackChoices = Callable[[], Iterable[tuple[int, str]]]
_track_choice_providers: list[TrackChoices] = []


def register_track_choices(provider: TrackChoices) -> None:
    if provider not in _track_choice_providers:
        _track_choice_providers.append(provider)


def track_choices() -> list[tuple[int, str]]:
    return [choice for provider in _track_choice_providers for choice in provider()]


# The ids of the videos a track compares, for the job page's warning when a job's videos differ from the
# track's it extends; annotate registers one.
TrackVideoIds = Callable[[int], Iterable[int]]
_track_video_providers: list[TrackVideoIds] = []


def register_track_video_ids(provider: TrackVideoIds) -> None:
    if provider not in _track_video_providers:
        _track_video_providers.append(provider)


def track_video_ids(track_id: int) -> set[int]:
    return {video_id for provider in _track_video_providers for video_id in provider(track_id)}
