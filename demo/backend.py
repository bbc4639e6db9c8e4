"""The cartoon demo generator behind the backend interface, so the demo's generation pages need no model.

The demo app registers it as the "procedural" backend (``demo.apps``); the registry imports this module
when a procedural method first renders.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np

from demo import procedural
from demo.world import IDENTITIES
from generation.backends.base import Backend, RenderRequest, blamed_on, number
from generation.errors import GenerationError, RenderCancelled

DEFAULTS: Mapping[str, Any] = {
    "width": 256,
    "height": 256,
    "num_frames": 48,
    "fps": 16,
    "fidelity": 1.0,
    "control": 1.0,
}

_SKINS = ((240, 201, 172), (206, 152, 112), (122, 78, 52), (234, 198, 152), (248, 222, 206), (92, 60, 42))
_HAIR = ((140, 55, 35), (38, 32, 30), (72, 46, 30), (236, 228, 205), (228, 196, 115), (25, 22, 22))
_EYES = ((62, 140, 88), (95, 60, 35), (70, 120, 205), (48, 36, 30))
_CLOTHES = ((30, 140, 140), (40, 55, 105), (215, 170, 40), (120, 125, 132), (190, 40, 50), (50, 125, 80))


def render_seed(method_name: str, identity_slug: str, prompt_slug: str, seed: int) -> int:
    # The same mixing as seed_demo: a job asked for a demo case draws the same clip seed_demo would.
    return zlib.crc32(
        "/".join(str(part) for part in (method_name, identity_slug, prompt_slug, seed)).encode()
    )


def look_for(identity_slug: str) -> procedural.CartoonLook:
    """The demo person of that slug, or a cartoon drawn from the slug for identities outside the demo."""
    for spec in IDENTITIES:
        if spec.slug == identity_slug:
            return spec.look
    pick = random.Random(zlib.crc32(identity_slug.encode()))
    return procedural.CartoonLook(
        skin=pick.choice(_SKINS),
        eye_colour=pick.choice(_EYES),
        hair_colour=pick.choice(_HAIR),
        clothing_colour=pick.choice(_CLOTHES),
        face_width=pick.uniform(0.9, 1.15),
        face_length=pick.uniform(0.95, 1.1),
        squareness=pick.uniform(2.0, 2.9),
        chin=pick.uniform(0.1, 0.38),
        hair_style=pick.choice(("short", "spiky", "curly", "long", "bob", "buzz")),
        nose=pick.choice(("button", "long", "wide")),
    )


def _frame_hook(request: RenderRequest, *, done: int, total: int) -> Callable[[int], None]:
    """Progress and the cancel check after each frame: no sampling steps here, a "step" is one frame of
    the batch, so that a long clip stops soon after a cancel rather than when it is finished."""

    def frame_done(frames: int) -> None:
        request.progress(done + frames, total)
        if request.cancelled():
            raise RenderCancelled

    return frame_done


# A shot continued without the references keeps this share of the method's identity fidelity.
NO_REFERENCES_FIDELITY = 0.6
# A continued shot fades from the previous shot's last frame into its own drawing over this long.
CONTINUATION_FADE_SECONDS = 0.5


def _continued(clip: np.ndarray, start: np.ndarray, fps: int) -> np.ndarray:
    """The cartoon's image-to-video: frame 0 is ``start``, and the next frames move from it into the new
    shot's drawing, so that the person and the scene change without a cut."""
    if start.shape != clip.shape[1:]:
        raise GenerationError(
            f"the frame to continue from is {start.shape[1]}×{start.shape[0]}, the shot "
            f"{clip.shape[2]}×{clip.shape[1]}"
        )
    fade = max(2, min(len(clip), round(CONTINUATION_FADE_SECONDS * fps)))
    weights = np.ones(len(clip), dtype=np.float32)
    weights[:fade] = np.linspace(0.0, 1.0, fade, dtype=np.float32)
    mixed = (
        start[np.newaxis].astype(np.float32) * (1 - weights[:, None, None, None])
        + clip.astype(np.float32) * weights[:, None, None, None]
    )
    return np.round(mixed).astype(np.uint8)


class ProceduralBackend(Backend):
    name: ClassVar[str] = "procedural"
    defaults: ClassVar[Mapping[str, Any]] = DEFAULTS

    def _shape(self, settings: Mapping[str, Any]) -> tuple[int, int, int, int, float, float]:
        width = number(settings, "width", minimum=16)
        height = number(settings, "height", minimum=16)
        if width % 2 or height % 2:
            raise GenerationError(f"width and height must be even for H.264, got {width}×{height}")
        return (
            width,
            height,
            number(settings, "num_frames", minimum=1),
            number(settings, "fps", minimum=1),
            number(settings, "fidelity", kind=float, minimum=0),
            number(settings, "control", kind=float, minimum=0),
        )

    def check(
        self, *, checkpoint: str, lora_path: str, lora_sha256: str, settings: Mapping[str, Any]
    ) -> None:
        with blamed_on("settings"):
            self._shape(settings)

    def check_continuation(self, *, checkpoint: str, settings: Mapping[str, Any], references: bool) -> None:
        return None  # any clip can start from a frame: it fades in from it

    def render(self, request: RenderRequest) -> list[np.ndarray]:
        width, height, num_frames, fps, fidelity, control = self._shape(request.settings)
        if request.start_frame is not None and not request.references:
            # Continued without the references, only the previous frame says who the person is: the
            # cartoon holds the identity less well, as such models do.
            fidelity *= NO_REFERENCES_FIDELITY
        look = look_for(request.identity_slug)
        videos = []
        for index, seed in enumerate(request.seeds):
            frames = procedural.render_frames(
                look=look,
                aspects=request.aspects,
                seed=render_seed(request.method_name, request.identity_slug, request.prompt_slug, seed),
                width=width,
                height=height,
                num_frames=num_frames,
                fps=fps,
                fidelity=fidelity,
                control=control,
                frame_done=_frame_hook(
                    request, done=index * num_frames, total=len(request.seeds) * num_frames
                ),
            )
            clip = np.stack(frames)
            if request.start_frame is not None:
                clip = _continued(clip, request.start_frame, fps)
            videos.append(clip)
        return videos

    def describe(self, request: RenderRequest, seed: int) -> dict[str, Any]:
        width, height, num_frames, fps, fidelity, control = self._shape(request.settings)
        return {
            "backend": self.name,
            "fidelity": fidelity * NO_REFERENCES_FIDELITY
            if request.start_frame is not None and not request.references
            else fidelity,
            "control": control,
            "width": width,
            "height": height,
            "num_frames": num_frames,
            "fps": fps,
            "seed": seed,
            "render_seed": render_seed(request.method_name, request.identity_slug, request.prompt_slug, seed),
            "prompt": request.prompt,
            "conditioning": "previous shot's last frame as the first frame"
            if request.start_frame is not None
            else "the identity's look",
        }
