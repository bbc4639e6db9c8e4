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
