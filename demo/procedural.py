"""A procedural cartoon video generator for the demo world: no model, no network, no real person.

A cartoon person is a handful of parameters (:class:`CartoonLook`). A video draws that person in a scene
built from a prompt's aspects, with two knobs that stand in for what tells real methods apart:

- ``fidelity`` in [0, 1]: how closely the drawn face keeps the look. Lower values perturb face shape, eye
  colour and skin tone, a little differently as the clip goes on, so identity-fidelity votes have
  something to see.
- ``control`` in [0, 1]: how much of the prompt is applied. Lower values keep the reference's background,
  clothing, hair and so on, so prompt-controllability votes have something to see.

Whatever the prompt does not mention is drawn as in the look (element consistency). The aspects arrive
already chosen (``Prompt.aspects()`` knows which ones a differential prompt leaves out); their texts are
read by keywords ("red hoodie", "round glasses", "waves", "beach at sunset"); negations are not understood.
Frames are drawn at twice the output size and averaged down, enough anti-aliasing for flat shapes.

This module imports nothing from Django so that worker processes can render without a database.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image

from demo.cartoon import (
    ACCESSORY_SLOTS,
    EXPRESSIONS,
    RESTING,
    RGB,
    Accessory,
    CartoonLook,
    Expression,
    Point,
    Pose,
    background,
    clip_rgb,
    draw_person,
    lighting_table,
    mix,
)

__all__ = [
    "COLOURS", "FACE_BOX", "FACE_CROP", "HAIR_COLOURS", "PORTRAIT_FRONT", "PORTRAIT_LEFT_SMILE",
    "PORTRAIT_RIGHT_SURPRISE", "Accessory", "CartoonLook", "Expression", "ReferenceView", "Requested",
    "background", "parse_aspects", "render_frames", "render_reference_clip", "render_reference_image",
]  # fmt: skip

SUPERSAMPLE = 2
# Where the face sits in an unzoomed frame, as fractions of the width and height: left, top, right, bottom.
FACE_BOX = (0.30, 0.16, 0.70, 0.64)


# -- Prompts --------------------------------------------------------------------------------------------


COLOURS: dict[str, RGB] = {
    "red": (200, 45, 50), "crimson": (170, 20, 45), "scarlet": (215, 40, 35), "maroon": (115, 30, 45),
    "burgundy": (110, 25, 45), "pink": (240, 140, 180), "orange": (240, 135, 40), "coral": (245, 120, 100),
    "yellow": (245, 205, 55), "mustard": (205, 165, 40), "gold": (215, 175, 60), "golden": (220, 180, 80),
    "green": (55, 145, 75), "olive": (110, 120, 55), "emerald": (20, 140, 90), "mint": (160, 225, 190),
    "teal": (30, 140, 140), "turquoise": (60, 195, 190), "blue": (55, 105, 205), "navy": (30, 45, 95),
    "purple": (125, 65, 170), "violet": (140, 90, 205), "lavender": (185, 160, 225),
    "white": (242, 242, 236), "cream": (245, 235, 210), "beige": (215, 195, 160), "tan": (200, 160, 110),
    "grey": (130, 132, 138), "gray": (130, 132, 138), "silver": (192, 192, 200), "black": (35, 35, 40),
    "brown": (120, 78, 48), "denim": (70, 100, 150), "pearl": (240, 236, 225), "straw": (225, 195, 120),
}  # fmt: skip
# Said of hair, the same words mean more natural shades than said of a shirt.
HAIR_COLOURS: dict[str, RGB] = {
    **COLOURS,
    "red": (175, 55, 30), "ginger": (205, 100, 45), "auburn": (140, 55, 35), "copper": (185, 90, 45),
    "blonde": (228, 196, 115), "blond": (228, 196, 115), "golden": (222, 180, 90),
    "platinum": (236, 230, 212), "black": (32, 28, 28), "brown": (98, 62, 38), "brunette": (90, 58, 36),
    "chestnut": (120, 65, 40), "silver": (195, 196, 200), "grey": (160, 160, 165), "gray": (160, 160, 165),
    "white": (235, 235, 232),
}  # fmt: skip

Vocabulary = tuple[tuple[str, tuple[str, ...]], ...]
# First match wins, so the more specific words come first ("short curly" is curly).
_HAIR_STYLES: Vocabulary = (
    ("afro", ("afro",)), ("bun", ("bun", "topknot")), ("ponytail", ("ponytail", "braid", "braided")),
    ("bob", ("bob",)), ("spiky", ("spiky", "spikes", "mohawk")), ("buzz", ("buzz", "shaved", "crew")),
    ("bald", ("bald",)), ("curly", ("curly", "curls")), ("long", ("long", "flowing")),
    ("short", ("short", "cropped", "pixie")), ("long", ("wavy",)),
)  # fmt: skip
_CLOTHING_STYLES: Vocabulary = (
    ("suit", ("suit", "blazer", "tuxedo", "jacket")), ("hoodie", ("hoodie", "hooded")),
    ("striped", ("striped", "stripes", "stripy", "sailor")), ("turtleneck", ("turtleneck",)),
    ("plain", ("shirt", "t", "tee", "sweater", "jumper", "dress", "top", "blouse", "tank", "cardigan")),
)  # fmt: skip
_ACCESSORY_WORDS = {
    "sunglasses": "sunglasses", "shades": "sunglasses", "glasses": "glasses", "spectacles": "glasses",
    "hoop": "hoops", "hoops": "hoops", "earring": "earrings", "earrings": "earrings", "studs": "earrings",
    "beanie": "beanie", "cap": "cap", "fedora": "fedora", "hat": "fedora", "beret": "beret",
    "headphones": "headphones", "scarf": "scarf", "necklace": "necklace", "pendant": "necklace",
    "chain": "necklace", "bowtie": "bowtie",
}  # fmt: skip
_ACCESSORY_COLOURS: dict[str, RGB] = {
    "sunglasses": (25, 25, 30), "glasses": (45, 40, 40), "hoops": (215, 175, 60), "earrings": (240, 236, 225),
    "beanie": (200, 45, 50), "cap": (55, 105, 205), "fedora": (80, 60, 45), "beret": (35, 35, 40),
    "headphones": (40, 40, 45), "scarf": (200, 45, 50), "necklace": (215, 175, 60), "bowtie": (200, 45, 50),
}  # fmt: skip
_EXPRESSION_WORDS: Vocabulary = (
    ("laugh", ("laugh",)), ("wink", ("wink",)),
    ("surprise", ("surpris", "astonish", "shock", "amazed", "gasp", "wide-eyed", "startl")),
    ("smile", ("smil", "grin", "happy", "cheer", "joy", "beam")),
    ("sad", ("sad", "frown", "melanchol", "teary")),
    ("angry", ("angry", "anger", "furious", "stern", "scowl")),
    ("neutral", ("neutral", "calm", "serious", "relaxed", "composed")),
)  # fmt: skip
_ACTION_WORDS: Vocabulary = (
    ("wave", ("wave", "waving")), ("nod", ("nod", "tilt")), ("shake", ("shake", "shaking")),
    ("turn", ("turn", "look", "glanc")), ("talk", ("talk", "speak", "sing", "says", "chat")),
)  # fmt: skip
_SETTING_WORDS: Vocabulary = (
    ("sunset", ("sunset", "dusk", "golden hour")), ("neon", ("neon", "cyberpunk")),
    ("space", ("space", "galaxy", "starry", "stars")), ("snow", ("snow", "winter", "ski", "mountain")),
    ("beach", ("beach", "seaside", "shore", "ocean")), ("forest", ("forest", "woods", "jungle")),
    ("library", ("library", "bookshel")), ("cafe", ("cafe", "café", "coffee")),
    ("office", ("office", "desk", "workplace")), ("city", ("city", "street", "urban", "downtown", "rooftop")),
    ("park", ("park", "garden", "meadow", "field")), ("studio", ("studio", "backdrop", "plain")),
)  # fmt: skip
_LIGHTING_WORDS: Vocabulary = (
    ("warm", ("warm", "golden", "sunset", "candle", "amber")), ("cool", ("cool", "moon", "overcast", "cold")),
    ("dim", ("dim", "dark", "night", "low light", "moody")),
    ("bright", ("bright", "sunny", "midday", "daylight")), ("neon", ("neon",)), ("soft", ("soft", "diffuse")),
)  # fmt: skip
_SHOT_WORDS: Vocabulary = (
    ("zoom_in", ("zoom in", "zooms in", "push in", "pushes in", "dolly in", "closer")),
    ("zoom_out", ("zoom out", "zooms out", "pull back", "pulls back", "dolly out")),
    ("pan_left", ("pans left", "pan left")), ("pan_right", ("pans right", "pan right", "pans", "pan ")),
    ("medium_close", ("medium close",)), ("close", ("close-up", "close up")),
    ("static", ("static", "locked", "still", "wide", "medium")),
)  # fmt: skip


@dataclass(frozen=True)
class Requested:
    """What a prompt asks for. ``None`` means the aspect asks for nothing this generator can draw."""

    hair_colour: RGB | None = None
    hair_style: str | None = None
    clothing_colour: RGB | None = None
    clothing_style: str | None = None
    accessories: tuple[Accessory, ...] = ()
    expression: str | None = None
    action: str | None = None
    shot: str | None = None
    setting: str | None = None
    lighting: tuple[str, ...] = ()


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-zé]+", text.lower())


def _first_colour(tokens: Iterable[str], table: Mapping[str, RGB]) -> RGB | None:
    return next((table[token] for token in tokens if token in table), None)


def _first_word(tokens: list[str], vocabulary: Vocabulary) -> str | None:
    words = set(tokens)
    return next((name for name, keys in vocabulary if words & set(keys)), None)


def _first_stem(text: str, vocabulary: Vocabulary) -> str | None:
    lowered = text.lower()
    return next((name for name, stems in vocabulary if any(stem in lowered for stem in stems)), None)


def parse_aspects(aspects: Mapping[str, str]) -> Requested:
    """Read what a prompt's aspects ask for, each from its own aspect text."""
    hair, clothing = _tokens(aspects.get("hairstyle", "")), _tokens(aspects.get("clothing", ""))
    words = _tokens(aspects.get("accessories", ""))
    accessories: list[Accessory] = []
    for index, word in enumerate(words):
        kind = _ACCESSORY_WORDS.get(word)
        if kind is None or any(item.kind == kind for item in accessories):
            continue
        # The nearest colour word before the accessory names its colour ("a yellow knitted beanie").
        colour = _first_colour(reversed(words[max(0, index - 3) : index]), COLOURS)
        accessories.append(Accessory(kind, colour or _ACCESSORY_COLOURS[kind]))
    setting = aspects.get("setting", "")
    return Requested(
        hair_colour=_first_colour(hair, HAIR_COLOURS),
        hair_style=_first_word(hair, _HAIR_STYLES),
        clothing_colour=_first_colour(clothing, COLOURS),
        clothing_style=_first_word(clothing, _CLOTHING_STYLES),
        accessories=tuple(accessories),
        expression=_first_stem(aspects.get("expression", ""), _EXPRESSION_WORDS),
        action=_first_stem(aspects.get("action", ""), _ACTION_WORDS),
        shot=_first_stem(aspects.get("shot", ""), _SHOT_WORDS),
        setting=_first_stem(setting, _SETTING_WORDS),
        lighting=tuple(name for name, stems in _LIGHTING_WORDS if any(s in setting.lower() for s in stems)),
    )


def _smoothstep(x: float) -> float:
    x = max(0.0, min(1.0, x))
    return x * x * (3 - 2 * x)


# -- Identity drift (fidelity) and prompt following (control) ---------------------------------------------

_DRIFT_DIMENSIONS = 14


def _drifted(look: CartoonLook, v: np.ndarray) -> CartoonLook:
    """``look`` moved along the drift vector ``v``; a zero vector leaves it as it is."""
    if not v.any():
        return look
    skin = np.asarray(look.skin, float) + 70 * v[6] * np.array([1.0, 0.9, 0.8]) + 28 * v[7:10]
    return replace(
        look,
        face_width=look.face_width * (1 + 0.22 * v[0]),
        face_length=look.face_length * (1 + 0.14 * v[1]),
        squareness=float(np.clip(look.squareness + 0.9 * v[2], 1.7, 3.6)),
        chin=float(np.clip(look.chin + 0.3 * v[3], -0.1, 0.6)),
        eye_spacing=float(np.clip(look.eye_spacing + 0.1 * v[4], 0.3, 0.56)),
        eye_size=max(0.6, look.eye_size * (1 + 0.3 * v[5])),
        skin=clip_rgb(skin),
        eye_colour=clip_rgb(np.asarray(look.eye_colour, float) + 110 * v[10:13]),
        hair_colour=clip_rgb(np.asarray(look.hair_colour, float) * (1 + 0.35 * v[13])),
    )


@dataclass(frozen=True)
class _Plan:
    """A video decided once: what of the prompt is applied, how strongly, and how the identity drifts."""

    changes: dict[str, object]
    setting: str | None
    lighting: tuple[str, ...]
    strength: float  # how strongly colours, scenery, lighting, expression and motion follow the prompt
    expression: Expression
    action: str | None
    shot: str | None
    drift: tuple[np.ndarray, np.ndarray]


def _plan(look: CartoonLook, requested: Requested, *, seed: int, fidelity: float, control: float) -> _Plan:
    # Separate streams: changing ``control`` must not change the identity drift, nor the other way round.
    drift_rng = np.random.default_rng([seed, 1])
    control_rng = np.random.default_rng([seed, 2])
    amount = 1.0 - max(0.0, min(1.0, fidelity))
    drift = (
        drift_rng.normal(size=_DRIFT_DIMENSIONS) * amount,
        drift_rng.normal(size=_DRIFT_DIMENSIONS) * amount,
    )
    strength = _smoothstep(control)

    def obeys() -> bool:
        # Shapes cannot be half applied: a weak method applies each one or forgets it.
        return bool(control_rng.uniform() < control)

    changes: dict[str, object] = {}
    if requested.hair_colour is not None:
        changes["hair_colour"] = mix(look.hair_colour, requested.hair_colour, strength)
        # Dyed hair leaves the brows and the beard as they were: they belong to the face.
        changes["facial_hair"] = look.facial_hair or look.hair_colour
    if requested.hair_style is not None and obeys():
        changes["hair_style"] = requested.hair_style
    if requested.clothing_colour is not None:
        changes["clothing_colour"] = mix(look.clothing_colour, requested.clothing_colour, strength)
    if requested.clothing_style is not None and obeys():
        changes["clothing_style"] = requested.clothing_style
    if requested.accessories:
        worn = {ACCESSORY_SLOTS[item.kind]: item for item in look.accessories}
        for item in requested.accessories:
            if obeys():
                worn[ACCESSORY_SLOTS[item.kind]] = item
        changes["accessories"] = tuple(worn.values())
    if look.marks and drift_rng.uniform() < amount * 0.8:
        changes["marks"] = look.marks[1:]  # a drifting method loses a distinctive mark now and then
    return _Plan(
        changes=changes,
        setting=requested.setting,
        lighting=requested.lighting,
        strength=strength,
        expression=RESTING.towards(EXPRESSIONS[requested.expression or "resting"], strength),
        action=requested.action if requested.action and obeys() else None,
        shot=requested.shot if requested.shot and obeys() else None,
        drift=drift,
    )


def _pose_at(plan: _Plan, seconds: float, t: float, blinks: np.ndarray) -> Pose:
    """The pose ``seconds`` into the clip (``t`` is the same moment as a fraction of the clip)."""
    onset = _smoothstep(seconds / 0.7)
    blink = max(0.0, 1 - float(np.min(np.abs(seconds - blinks))) / 0.09) if len(blinks) else 0.0
    amount, action = plan.strength, plan.action
    yaw = pitch = talk = hand_raise = hand_angle = 0.0
    if action == "wave":
        hand_raise = _smoothstep(seconds / 0.6) * amount
        hand_angle = 0.45 * math.sin(2 * math.pi * 1.3 * seconds) * amount
    elif action == "nod":
        pitch = 0.9 * math.sin(2 * math.pi * 0.9 * seconds) * onset * amount
    elif action == "shake":
        yaw = 0.5 * math.sin(2 * math.pi * 0.9 * seconds) * onset * amount
    elif action == "turn":
        yaw = 0.8 * math.sin(math.pi * t) ** 2 * amount
    elif action == "talk":
        talk = 0.5 * (1 - math.cos(2 * math.pi * 2.2 * seconds)) * onset * amount
    ease, zoom, pan = _smoothstep(t), 1.0, 0.0
    if plan.shot == "zoom_in":
        zoom = 1 + 0.35 * ease * amount
    elif plan.shot == "zoom_out":
        zoom = 1 + 0.35 * (1 - ease) * amount
    elif plan.shot in ("pan_left", "pan_right"):
        zoom = 1 + 0.25 * amount
        pan = (-1 if plan.shot == "pan_left" else 1) * 0.08 * (2 * ease - 1) * amount
    elif plan.shot == "close":
        zoom = 1 + 0.4 * amount
    elif plan.shot == "medium_close":
        zoom = 1 + 0.2 * amount
    return Pose(
        yaw=yaw,
        pitch=pitch,
        bob=0.004 * math.sin(2 * math.pi * 0.35 * seconds),
        expression=RESTING.towards(plan.expression, onset),
        blink=blink,
        talk=talk,
        hand_raise=hand_raise,
        hand_angle=hand_angle,
        zoom=zoom,
        # Zooming moves towards the face, not towards the middle of the frame.
        centre=(0.5 + pan, 0.5 - 0.1 * min(1.0, (zoom - 1) / 0.5)),
    )


def _check_size(width: int, height: int) -> None:
    if width % 2 or height % 2:
        raise ValueError(f"frames must have even sides for H.264 yuv420p, got {width}×{height}")
    if min(width, height) < 16:
        raise ValueError(f"frames must be at least 16 pixels on a side, got {width}×{height}")


def _camera(
    canvas: Image.Image, zoom: float, centre: Point, size: tuple[int, int], table: list[int] | None
) -> Image.Image:
    """Crop the supersampled canvas around ``centre`` at ``zoom`` and average it down to ``size``."""
    cw, ch = canvas.size
    if zoom == 1.0 and (cw, ch) == (size[0] * SUPERSAMPLE, size[1] * SUPERSAMPLE):
        frame = canvas.reduce(SUPERSAMPLE)  # the same average, several times faster
    else:
        vw, vh = cw / zoom, ch / zoom
        x0 = min(max(0.0, centre[0] * cw - vw / 2), cw - vw)
        y0 = min(max(0.0, centre[1] * ch - vh / 2), ch - vh)
        frame = canvas.resize(size, Image.Resampling.BOX, box=(x0, y0, x0 + vw, y0 + vh))
    return frame.point(table) if table is not None else frame


def render_frames(
    *,
    look: CartoonLook,
    aspects: Mapping[str, str],
    seed: int,
    width: int = 256,
    height: int = 256,
    num_frames: int = 48,
    fps: int = 16,
    fidelity: float = 1.0,
    control: float = 1.0,
    frame_done: Callable[[int], None] | None = None,
) -> list[np.ndarray]:
    """Render a clip of ``look`` following the prompt ``aspects`` (aspect name → text).

    Returns ``num_frames`` RGB uint8 arrays of ``height``×``width``×3. The same arguments always give the
    same frames. ``frame_done`` is called with the number of frames drawn so far after each one; it may
    raise to stop the clip.
    """
    _check_size(width, height)
    if num_frames < 1:
        raise ValueError("num_frames must be at least 1")
    plan = _plan(look, parse_aspects(aspects), seed=seed, fidelity=fidelity, control=control)
    canvas_size = (width * SUPERSAMPLE, height * SUPERSAMPLE)
    backdrop = background(look.setting, *canvas_size, look.backdrop)
    if plan.setting is not None and plan.strength > 0.0:
        wanted = background(plan.setting, *canvas_size)
        backdrop = wanted if plan.strength >= 0.999 else Image.blend(backdrop, wanted, plan.strength)
    table = lighting_table(plan.lighting, plan.strength)
    duration = num_frames / fps
    motion_rng = np.random.default_rng([seed, 3])
    blinks = np.cumsum(motion_rng.uniform(1.6, 3.2, size=int(duration / 1.6) + 1)) - 1.0
    d0, d1 = plan.drift
    frames = []
    for index in range(num_frames):
        t = index / (num_frames - 1) if num_frames > 1 else 0.0
        # A drifting identity also wanders slowly during the clip: a weak method is not even stable.
        person = replace(_drifted(look, d0 + 0.6 * math.sin(math.pi * t) * d1), **plan.changes)  # type: ignore[arg-type]
        pose = _pose_at(plan, index / fps, t, blinks)
        canvas = backdrop.copy()
        draw_person(canvas, person, pose)
        frames.append(
            np.array(_camera(canvas, pose.zoom, pose.centre, (width, height), table), dtype=np.uint8)
        )
        if frame_done is not None:
            frame_done(index + 1)
    return frames


# -- References ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReferenceView:
    """How a reference shows the person: head turn, expression and framing."""

    yaw: float = 0.0
    pitch: float = 0.0
    expression: str = "resting"
    zoom: float = 1.0
    from_back: bool = False


FACE_CROP = ReferenceView(zoom=2.1)
PORTRAIT_FRONT = ReferenceView()
PORTRAIT_LEFT_SMILE = ReferenceView(yaw=-0.45, expression="smile")
PORTRAIT_RIGHT_SURPRISE = ReferenceView(yaw=0.4, pitch=-0.2, expression="surprise")
# The canonical three views, the whole figure in frame: front, side (turned to the viewer's left), back.
FULL_FRONT = ReferenceView(zoom=0.62)
FULL_SIDE = ReferenceView(yaw=-0.9, zoom=0.62)
FULL_BACK = ReferenceView(zoom=0.62, from_back=True)


def render_reference_image(
    look: CartoonLook, view: ReferenceView = PORTRAIT_FRONT, size: int = 512
) -> Image.Image:
    """A still of ``look`` in its own setting, as the person would be photographed: no prompt, no drift."""
    _check_size(size, size)
    side = size * SUPERSAMPLE
    canvas = background(look.setting, side, side, look.backdrop).copy()
    pose = Pose(
        yaw=view.yaw, pitch=view.pitch, expression=EXPRESSIONS[view.expression], from_back=view.from_back
    )
    if view.zoom < 1:
        # The whole figure: drawn smaller on a clear layer, standing at the bottom of the scene.
        figure = Image.new("RGBA", (round(side * view.zoom),) * 2, (0, 0, 0, 0))
        draw_person(figure, look, pose)
        canvas.paste(figure, ((side - figure.width) // 2, side - figure.height), figure)
        return canvas.reduce(SUPERSAMPLE)
    draw_person(canvas, look, pose)
    # A face crop centres on the face rather than the middle of the portrait.
    return _camera(canvas, view.zoom, (0.5, 0.5 if view.zoom <= 1 else 0.41), (size, size), None)


def render_reference_clip(
    look: CartoonLook, *, seed: int, size: int = 256, num_frames: int = 32, fps: int = 16
) -> list[np.ndarray]:
    """A short clip of ``look`` in its own setting, smiling and turning the head, as a reference video."""
    aspects = {"expression": "a gentle smile", "action": "turns the head"}
    return render_frames(
        look=look, aspects=aspects, seed=seed, width=size, height=size, num_frames=num_frames, fps=fps
    )
