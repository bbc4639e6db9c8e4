"""The automatic metrics: names, versions, which way is better, and the human criterion each stands in for.

A metric's *definition* is the digest of its name, version, model file hashes and settings. Values are
stored per definition, so that changing a metric (a new version, other sampling, another model file)
computes new values beside the old ones instead of mixing them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

Better = Literal["lower", "higher"]


@dataclass(frozen=True)
class MetricSpec:
    name: str
    label: str
    version: str
    unit: str
    better: Better
    # The human criterion (annotate.models.Criterion value) this metric is compared with, if any.
    criterion: str | None
    summary: str  # one line: what it measures
    cannot: str  # one line: what it cannot measure


FACE_IDENTITY = MetricSpec(
    name="face_identity",
    label="Face identity",
    version="1",
    unit="L2 distance (dlib)",
    better="lower",
    criterion="identity_fidelity",
    summary=(
        "Mean L2 distance between the faces on sampled frames and the nearest reference face "
        "(dlib ResNet descriptor; same person below 0.6)."
    ),
    cannot=(
        "Judge cartoons, profiles the HOG detector misses, hair, body or clothing; its numbers are not "
        "comparable with the ArcFace scores (FaceSim-Arc/Cur) of the papers."
    ),
)
IDENTITY_CONSISTENCY = MetricSpec(
    name="identity_consistency",
    label="Identity consistency",
    version="1",
    unit="L2 distance (dlib)",
    better="lower",
    criterion="identity_consistency",
    summary="Spread of the face descriptors over the video: mean L2 distance to their mean.",
    cannot="Tell whether the face that stays constant is the right person (face identity does).",
)
DYNAMIC_DEGREE = MetricSpec(
    name="dynamic_degree",
    label="Dynamic degree",
    version="1",
    unit="flow / frame diagonal",
    better="higher",
    criterion="dynamic_degree",
    summary=(
        "Optical-flow magnitude (OpenCV DIS): mean of the top 5 % of flow per frame pair, normalised by "
        "the frame diagonal."
    ),
    cannot="Tell camera motion from subject motion, or good motion from jitter.",
)
FLICKER = MetricSpec(
    name="flicker",
    label="Flicker",
    version="1",
    unit="mean |Δ| / 255",
    better="lower",
    criterion="visual_quality",
    summary="Mean absolute change between consecutive frames (0–1).",
    cannot="Tell flicker from fast wanted motion; it rewards still videos.",
)
TEXT_ALIGNMENT = MetricSpec(
    name="text_alignment",
    label="Text alignment",
    version="1",
    unit="cosine (CLIP)",
    better="higher",
    criterion="prompt_controllability",
    summary="Cosine similarity between the prompt and sampled frames with operator-provided CLIP weights.",
    cannot="Run without local weights (none ship in any package): it then says unavailable.",
)

METRICS: dict[str, MetricSpec] = {
    spec.name: spec for spec in (FACE_IDENTITY, IDENTITY_CONSISTENCY, DYNAMIC_DEGREE, FLICKER, TEXT_ALIGNMENT)
}
# The metric compared with each human criterion on the agreement page.
METRIC_FOR_CRITERION: dict[str, str] = {
    spec.criterion: spec.name for spec in METRICS.values() if spec.criterion
}


@dataclass(frozen=True)
class MetricDefinition:
    """One metric as it is computed now: the spec, the model files' digest and the settings."""

    spec: MetricSpec
    model_hash: str = ""
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        key = {
            "name": self.spec.name,
            "version": self.spec.version,
            "model": self.model_hash,
            **self.settings,
        }
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class MetricOutcome:
    """What computing one metric of one video gave: a value, or the reason there is none."""

    definition: MetricDefinition
    status: Literal["computed", "no_face", "unavailable", "failed"]
    value: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    seconds: float = 0.0
