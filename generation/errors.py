"""Errors of the catalog and of generation; services raise them, views and the API turn them into 4xx."""

from __future__ import annotations


class GenerationError(ValueError):
    """A request that cannot be rendered (bad model folder, size, prompt or LoRA); the message is shown."""


class RenderCancelled(Exception):
    """Raised inside a render when its job was cancelled, so that the pipeline stops at once."""
