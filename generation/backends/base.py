"""The interface every video generator sits behind.

A backend renders several seeds of one (identity, prompt) in one call and returns one clip per seed. It
knows nothing of the database: the job services build a :class:`RenderRequest` from the catalog rows, and
the backend reports progress and asks whether to stop through the two callables in it.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from generation.errors import GenerationError

ProgressCallback = Callable[[int, int], None]
CancelCheck = Callable[[], bool]


def _no_progress(step: int, total: int) -> None:
    return None


def _never() -> bool:
    return False


@dataclass(frozen=True)
class RenderRequest:
    """Everything a backend needs to render ``seeds`` of one (identity, prompt) with one method."""

    method_name: str
    settings: Mapping[str, Any]  # the method's settings over the backend's defaults, job overrides on top
    prompt: str  # the text the model reads (a differential prompt for differential tasks)
    seeds: Sequence[int]
    checkpoint: str = ""
    lora_path: str = ""
    lora_sha256: str = ""
    identity_slug: str = ""
    prompt_slug: str = ""
    aspects: Mapping[str, str] = field(default_factory=dict)
    reference_image: Path | None = None  # the identity's primary reference, for image-to-video models
    # A story shot that continues the previous one: its last frame, uint8 (height, width, 3). The backend
    # conditions on it as the first frame (image-to-video); the job service then writes it as frame 0.
    start_frame: np.ndarray | None = None
    # False for the continued shots of autoregressive_no_references: the identity's references are withheld.
    references: bool = True
    progress: ProgressCallback = _no_progress
    cancelled: CancelCheck = _never


class Backend(ABC):
    name: ClassVar[str]
    defaults: ClassVar[Mapping[str, Any]]

    def settings_for(
        self, method_settings: Mapping[str, Any], overrides: Mapping[str, Any]
    ) -> dict[str, Any]:
        return {**self.defaults, **method_settings, **overrides}

    @abstractmethod
    def check(
        self, *, checkpoint: str, lora_path: str, lora_sha256: str, settings: Mapping[str, Any]
    ) -> None:
        """Cheap checks that need no model in memory, run before a job is queued. Raise GenerationError."""

    def check_continuation(self, *, checkpoint: str, settings: Mapping[str, Any], references: bool) -> None:
        """Raise GenerationError unless this backend can start a clip from a given frame (autoregressive
        story modes), ``references`` whether it must also use the identity's references then; checked
        before a job is queued, like :meth:`check`."""
        raise GenerationError(f"the {self.name} backend cannot continue a shot from the previous one's frame")

    @abstractmethod
    def render(self, request: RenderRequest) -> list[np.ndarray]:
        """One uint8 array of shape (frames, height, width, 3) per seed, in the order of ``request.seeds``.

        Everything that can be checked is checked before sampling starts (GenerationError); a cancelled
        job stops the render with RenderCancelled.
        """

    @abstractmethod
    def describe(self, request: RenderRequest, seed: int) -> dict[str, Any]:
        """The settings a video was made with, stored on it (call after ``render``)."""


# Upper bounds on the sampling settings every backend checks before a job is queued. Beyond them a render
# cannot succeed on one GPU (4096×4096 is already past what a 140 GiB H200 holds for a video model; 1025
# frames is 4k+1 for Wan's temporal factor at about 40 s of 25 fps), players stutter (fps over 120), or
# the sampler gains nothing (1000 steps is the whole noise schedule; guidance past 100 only saturates).
SETTING_MAXIMA: dict[str, float] = {
    "width": 4096,
    "height": 4096,
    "num_frames": 1025,
    "fps": 120,
    "num_inference_steps": 1000,
    "guidance_scale": 100,
}


@contextmanager
def blamed_on(field: str) -> Iterator[None]:
    """A GenerationError raised inside names ``field`` (a Method field) as the one at fault."""
    try:
        yield
    except GenerationError as error:
        error.field = error.field or field
        raise


def setting_bounds_text() -> str:
    return ", ".join(f"{key} ≤ {maximum:g}" for key, maximum in SETTING_MAXIMA.items())


def number(
    settings: Mapping[str, Any],
    key: str,
    *,
    kind: type = int,
    minimum: float | None = None,
    maximum: float | None = None,
) -> Any:
    """``settings[key]`` as ``kind``, or a GenerationError that names the setting.

    ``maximum`` defaults to the setting's bound in SETTING_MAXIMA, if it has one.
    """
    value = settings.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise GenerationError(f"setting {key!r} must be a number, got {value!r}")
    if kind is int and value != int(value):
        raise GenerationError(f"setting {key!r} must be a whole number, got {value!r}")
    if minimum is not None and value < minimum:
        raise GenerationError(f"setting {key!r} must be at least {minimum:g}, got {value!r}")
    maximum = SETTING_MAXIMA.get(key) if maximum is None else maximum
    if maximum is not None and value > maximum:
        raise GenerationError(f"setting {key!r} must be at most {maximum:g}, got {value!r}")
    return kind(value)


def seeds_valid(seeds: Sequence[int]) -> list[int]:
    """Seeds as ints that torch and the database both take."""
    checked = []
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
            raise GenerationError(f"seeds must be whole numbers from 0 to 2**63 - 1, got {seed!r}")
        checked.append(seed)
    if len(set(checked)) != len(checked):
        raise GenerationError("each seed may appear once")
    return checked


def settings_overrides_check(overrides: Mapping[str, Any]) -> None:
    """Raise GenerationError naming the first setting PostgreSQL's jsonb cannot hold: NaN, an infinity
    (JSON's ``1e400`` reads as one) or a NUL character in a string or a key."""

    def shown(key: str) -> str:
        return key.encode("unicode_escape").decode("ascii")

    def walk(value: Any, where: str) -> None:
        if isinstance(value, float) and not math.isfinite(value):
            raise GenerationError(f"setting {where}: must be a finite number, not {value}")
        if isinstance(value, str) and "\x00" in value:
            raise GenerationError(f"setting {where}: a NUL character cannot be stored")
        if isinstance(value, Mapping):
            for key, item in value.items():
                name = f"{where}.{shown(str(key))}" if where else shown(str(key))
                if "\x00" in str(key):
                    raise GenerationError(f"setting {name}: a NUL character cannot be stored")
                walk(item, name)
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                walk(item, f"{where}[{index}]")

    walk(overrides, "")
