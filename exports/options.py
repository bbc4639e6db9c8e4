"""The options of an export: one checked value object shared by the command, the pages and the API."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, fields
from typing import Any

from annotate.models import Criterion

SPLITS = ("train", "validation", "test")
MEDIA_MODES = ("none", "copy", "link")
# How the joint label combines the chosen criteria; see aggregate.joint_labels and the dataset card.
JOINT_RULES = ("all", "no_conflict", "mean")
DEFAULT_SPLIT = (0.8, 0.1, 0.1)
# Schema 2 (per-criterion adapters for the trainers as they are) is written by default; 1 for a release
# whose readers still expect it. Both are described in docs and in every manifest ("schema_version").
SCHEMAS = (1, 2)
DEFAULT_SCHEMA = 2
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


class ExportOptionsError(ValueError):
    """An option is out of range; ``field`` names it so forms and the API can point at it."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class ExportOptions:
    tracks: tuple[int, ...] = ()
    studies: tuple[int, ...] = ()
    # Empty: every criterion that has a selected judgment.
    criteria: tuple[str, ...] = ()
    min_votes: int = 1
    min_majority: float = 0.0
    keep_ties: bool = True
    # Rater primary keys, usernames, or the salted ids of an earlier export (what the ML team sees).
    exclude_raters: tuple[str, ...] = ()
    split: tuple[float, float, float] = DEFAULT_SPLIT
    split_seed: int = 0
    media: str = "none"
    joint_criteria: tuple[str, ...] = ()
    joint_rule: str = "all"
    name: str = "preferences"
    schema: int = DEFAULT_SCHEMA

    def __post_init__(self) -> None:
        # Sorted and deduplicated: two spellings of the same selection must give the same snapshot.
        object.__setattr__(self, "tracks", tuple(sorted({int(t) for t in self.tracks})))
        object.__setattr__(self, "studies", tuple(sorted({int(s) for s in self.studies})))
        object.__setattr__(self, "criteria", _criteria_in_order(self.criteria))
        object.__setattr__(self, "joint_criteria", _criteria_in_order(self.joint_criteria))
        object.__setattr__(
            self, "exclude_raters", tuple(sorted({str(r).strip() for r in self.exclude_raters}))
        )
        object.__setattr__(self, "split", tuple(float(f) for f in self.split))
        self.validate()

    def validate(self) -> None:
        known = set(Criterion.values)
        for name in ("criteria", "joint_criteria"):
            unknown = [c for c in getattr(self, name) if c not in known]
            if unknown:
                raise ExportOptionsError(name, f"unknown criterion {unknown[0]!r}")
        if self.criteria and not set(self.joint_criteria) <= set(self.criteria):
            raise ExportOptionsError("joint_criteria", "must be among the exported criteria")
        if self.min_votes < 1:
            raise ExportOptionsError("min_votes", "must be at least 1")
        if not 0.0 <= self.min_majority <= 1.0:
            raise ExportOptionsError("min_majority", "must be between 0 and 1")
        if len(self.split) != 3 or any(f < 0 or not math.isfinite(f) for f in self.split):
            raise ExportOptionsError("split", "three fractions ≥ 0 (train, validation, test) expected")
        if abs(sum(self.split) - 1.0) > 1e-6:
            raise ExportOptionsError("split", "the fractions must add up to 1")
        if self.split[0] <= 0:
            raise ExportOptionsError("split", "the train fraction must be above 0")
        if self.media not in MEDIA_MODES:
            raise ExportOptionsError("media", f"one of {', '.join(MEDIA_MODES)}")
        if self.joint_rule not in JOINT_RULES:
            raise ExportOptionsError("joint_rule", f"one of {', '.join(JOINT_RULES)}")
        if self.schema not in SCHEMAS:
            raise ExportOptionsError("schema", f"one of {', '.join(map(str, SCHEMAS))}")
        if not _NAME.match(self.name):
            raise ExportOptionsError("name", "letters, digits, '.', '_' and '-' only, up to 80 characters")
        if any(not token for token in self.exclude_raters):
            raise ExportOptionsError("exclude_raters", "an empty rater")

    def to_json(self) -> dict[str, Any]:
        """Plain JSON for ExportRun.options; ``from_json`` reads it back."""
        data = asdict(self)
        return {key: list(value) if isinstance(value, tuple) else value for key, value in data.items()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExportOptions:
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ExportOptionsError(unknown[0], "unknown option")
        # JSON has lists where the fields hold tuples; __post_init__ normalises and checks the values.
        values: dict[str, Any] = {key: tuple(v) if isinstance(v, list) else v for key, v in data.items()}
        return cls(**values)

    def manifest_filters(self, *, excluded_rater_count: int) -> dict[str, Any]:
        """The options as the manifest records them: never a rater's name or id, only how many."""
        data = self.to_json()
        data.pop("exclude_raters")
        data.pop("name")
        data.pop("schema")  # the manifest's schema_version
        data["excluded_raters"] = excluded_rater_count
        data["split"] = dict(zip(SPLITS, self.split, strict=True))
        return data


def _criteria_in_order(values: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    # The order of Criterion, not of the command line: column order must not depend on spelling.
    wanted = {str(v).strip() for v in values if str(v).strip()}
    ordered = [c for c in Criterion.values if c in wanted]
    return tuple(ordered + sorted(wanted - set(ordered)))


def parse_split(text: str) -> tuple[float, float, float]:
    """``"0.8,0.1,0.1"`` → ``(0.8, 0.1, 0.1)``, for the command line and forms."""
    try:
        parts = tuple(float(part) for part in text.split(","))
    except ValueError as error:
        raise ExportOptionsError("split", "three numbers separated by commas, e.g. 0.8,0.1,0.1") from error
    if len(parts) != 3:
        raise ExportOptionsError("split", "three numbers separated by commas, e.g. 0.8,0.1,0.1")
    return parts


def parse_list(text: str | None) -> list[str]:
    return [item.strip() for item in (text or "").split(",") if item.strip()]


__all__ = [
    "DEFAULT_SCHEMA",
    "DEFAULT_SPLIT",
    "JOINT_RULES",
    "MEDIA_MODES",
    "SCHEMAS",
    "SPLITS",
    "ExportOptions",
    "ExportOptionsError",
    "parse_list",
    "parse_split",
]
