"""Errors of the catalog and of generation; services raise them, views and the API turn them into 4xx."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class GenerationError(ValueError):
    """A request that cannot be rendered (bad model folder, size, prompt or LoRA); the message is shown.

    ``field`` names the Method field at fault (``checkpoint``, ``lora_path``, ``lora_sha256``,
    ``settings``) when one is, so that a form can show the message beside it.
    """

    def __init__(self, message: str = "", field: str = "") -> None:
        super().__init__(message)
        self.field = field


class MethodInvalid(GenerationError):
    """A method that cannot render as it is configured; the message starts with the field at fault."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}" if field else reason, field)
        self.reason = reason

    def __reduce__(self) -> tuple[type[MethodInvalid], tuple[str, str]]:
        return (MethodInvalid, (self.field, self.reason))


class RenderCancelled(Exception):
    """Raised inside a render when its job was cancelled, so that the pipeline stops at once."""


class MediaError(ValueError):
    """A media file is not what it claims to be, or breaks a limit."""


class UploadRefused(ValueError):
    """The uploaded file is not a video the catalog takes; the message says why."""


@dataclass(frozen=True)
class Problem:
    """One reason an import is refused: where (a file or a manifest entry) and why."""

    where: str
    reason: str
    entry: str = ""  # the manifest entry naming a file, so it can be found in a long manifest

    def __str__(self) -> str:
        located = f" ({self.entry})" if self.entry else ""
        return f"{self.where}: {self.reason}{located}"


class CatalogImportError(Exception):
    """The import was refused (nothing was written); ``problems`` lists every reason."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))
