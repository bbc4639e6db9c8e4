"""The generator backends, by the name a method stores in ``Method.backend``.

A backend is registered with a factory that imports its module on first use, so that reading the
registry (a form, a job's checks) never imports torch. The diffusers backend is registered here; the
demo app registers its procedural one when it loads.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from generation.backends.base import Backend, settings_overrides_check
from generation.errors import GenerationError, MethodInvalid

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


class MethodFields(Protocol):
    """The fields of a ``generation.models.Method`` that say how it renders (the models import this
    module, so it names the fields rather than the model)."""

    backend: str
    checkpoint: str
    lora_path: str
    lora_sha256: str
    settings: Any


_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


def method_check(method: MethodFields, *, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Check that ``method`` can render as configured; return its settings over the backend's defaults
    (``overrides``, a job's, on top).

    The one set of rules for a method, applied when it is saved (``Method.clean``: the admin, the catalog
    import) and when a job is launched: settings a JSON object that PostgreSQL can store, a LoRA checksum
    that is a sha256 and belongs to the LoRA file, and whatever the backend checks without loading a model
    (for diffusers: a folder holding a Wan pipeline, 4k+1 frames, sides that are multiples of the patch).
    A method whose backend renders nothing (imported videos) has only the first rules. Raises
    MethodInvalid naming the field at fault.
    """
    settings = method.settings
    if not isinstance(settings, Mapping):
        raise MethodInvalid(
            "settings", f'must be a JSON object such as {{"num_frames": 81}}, got {type(settings).__name__}'
        )
    try:
        settings_overrides_check(settings)
    except GenerationError as error:
        raise MethodInvalid("settings", str(error)) from error
    if method.lora_sha256 and not _SHA256.fullmatch(method.lora_sha256):
        raise MethodInvalid(
            "lora_sha256", f"must be the 64 hexadecimal digits of a sha256, got {method.lora_sha256!r}"
        )
    if method.lora_sha256 and not method.lora_path:
        raise MethodInvalid("lora_sha256", "is given, but there is no LoRA (lora_path is empty)")
    factory = _FACTORIES.get(method.backend)
    backend = factory() if factory is not None else None
    if backend is None:
        return {**settings, **(overrides or {})}
    resolved = backend.settings_for(settings, overrides or {})
    try:
        backend.check(
            checkpoint=method.checkpoint,
            lora_path=method.lora_path,
            lora_sha256=method.lora_sha256,
            settings=resolved,
        )
    except GenerationError as error:
        raise MethodInvalid(error.field, str(error)) from error
    return resolved


def _diffusers() -> Backend:
    from generation.backends.diffusers_backend import DiffusersBackend

    return DiffusersBackend()


backend_register("diffusers", _diffusers)
