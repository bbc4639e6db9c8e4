"""The generator backends, by the name a method stores in ``Method.backend``.

A backend is registered with a factory that imports its module on first use, so that reading the
registry (a form, a job's checks) never imports torch. The diffusers backend is registered here; the
demo app registers its procedural one when it loads.
"""

from __future__ import annotations

from collections.abc import Callable

from generation.backends.base import Backend
from generation.errors import GenerationError

_FACTORIES: dict[str, Callable[[], Backend]] = {}


def backend_register(name: str, factory: Callable[[], Backend]) -> None:
    """Make ``name`` (a ``Method.Backend`` value) render through the backend ``factory`` returns."""
    _FACTORIES[name] = factory


def backend_for(name: str) -> Backend:
    """A backend for a ``Method.backend`` value, or a GenerationError for one that renders nothing."""
    factory = _FACTORIES.get(name)
    if factory is None:
        raise GenerationError(
            f"backend {name!r} does not generate videos (imported videos are uploaded instead)"
        )
    return factory()


def _diffusers() -> Backend:
    from generation.backends.diffusers_backend import DiffusersBackend

    return DiffusersBackend()


backend_register("diffusers", _diffusers)
