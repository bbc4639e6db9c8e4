"""Dynamic degree (OpenCV's DIS optical flow) and flicker, on pairs of neighbouring frames.

Both run on frames scaled down (the flow of a pan scales with the picture, so the normalised dynamic
degree does not depend on the size; the pixels per frame at the video's own size are reported beside it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from generation.metrics.definitions import MetricDefinition, MetricOutcome

if TYPE_CHECKING:
    import cv2

Pair = tuple[np.ndarray, np.ndarray]

# OpenCV is imported where it is used: web processes import this module (through the metrics'
# definitions) but never compute a metric, and need not load it.
_PRESETS = {
    "ultrafast": "DISOpticalFlow_PRESET_ULTRAFAST",
    "fast": "DISOpticalFlow_PRESET_FAST",
    "medium": "DISOpticalFlow_PRESET_MEDIUM",
}


def top_flow(
    first: np.ndarray, second: np.ndarray, *, flow: cv2.DISOpticalFlow, top_fraction: float
) -> float:
    """Mean of the largest ``top_fraction`` of the flow magnitudes between two RGB frames, in pixels."""
    import cv2

    gray = [cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in (first, second)]
    field = np.asarray(flow.calc(gray[0], gray[1], None))  # type: ignore[call-overload]  # None: a new field
    magnitude = cv2.magnitude(field[..., 0], field[..., 1]).ravel()
    count = max(1, math.ceil(magnitude.size * top_fraction))
    return float(np.partition(magnitude, magnitude.size - count)[-count:].mean())


def dynamic_degree(pairs: Sequence[Pair], *, scale: float, definition: MetricDefinition) -> MetricOutcome:
    """Mean over frame pairs of the top flow, normalised by the frame diagonal.

    ``scale``: the frames' width over the video's own width, to report pixels per frame at that size.
    """
    if not pairs:
        note = "The video has fewer than 2 frames."
        return MetricOutcome(definition=definition, status="failed", note=note)
    import cv2

    settings = definition.settings
    flow = cv2.DISOpticalFlow.create(getattr(cv2, _PRESETS[str(settings["flow_preset"])]))
    tops = np.array(
        [top_flow(a, b, flow=flow, top_fraction=float(settings["top_fraction"])) for a, b in pairs]
    )
    height, width = pairs[0][0].shape[:2]
    diagonal = math.hypot(width, height)
    value = float(tops.mean() / diagonal)
    details = {
        "pairs": len(pairs),
        "flow_width": width,
        "flow_height": height,
        "px_per_frame": float(tops.mean() / scale),
        "max_px_per_frame": float(tops.max() / scale),
        "max": float(tops.max() / diagonal),
    }
    return MetricOutcome(definition=definition, status="computed", value=value, details=details)


def flicker(pairs: Sequence[Pair], *, definition: MetricDefinition) -> MetricOutcome:
    """Mean absolute difference between neighbouring frames, over all pixels and channels, / 255."""
    if not pairs:
        note = "The video has fewer than 2 frames."
        return MetricOutcome(definition=definition, status="failed", note=note)
    import cv2

    changes = np.array([float(cv2.absdiff(a, b).mean()) / 255.0 for a, b in pairs])
    details = {"pairs": len(pairs), "max": float(changes.max())}
    return MetricOutcome(
        definition=definition, status="computed", value=float(changes.mean()), details=details
    )
