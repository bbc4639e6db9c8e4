"""Drawing a cartoon person and their scenery with Pillow: the look, the pose, the backdrop, the light.

:mod:`demo.procedural` decides what to draw for a prompt; this module only draws it.
Everything is drawn in unit coordinates on a canvas twice the output size, so shapes stay smooth once
the frame is averaged down.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

RGB = tuple[int, int, int]
Point = tuple[float, float]
# How far the eyes, nose and mouth slide across the head, in head half-widths, when it turns fully.
FEATURE_TURN = 0.4
# Freckles on one cheek (mirrored on the other), in face units: the same in every frame and every look.
FRECKLES = tuple(
    (0.25 + 0.37 * u, 0.12 + 0.22 * v) for u, v in np.random.default_rng(7).random((7, 2)).tolist()
)


# -- Looks ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Accessory:
    kind: str
    colour: RGB = (40, 40, 45)


@dataclass(frozen=True)
class CartoonLook:
    """A cartoon person. Shapes are relative to an average head (1.0); colours are sRGB."""

    skin: RGB
    eye_colour: RGB
    hair_colour: RGB
    clothing_colour: RGB
    face_width: float = 1.0
    face_length: float = 1.0
    squareness: float = 2.2  # superellipse exponent: 2 is an oval, 3 nearly a rounded square
    chin: float = 0.25  # how much the lower face narrows towards the chin
    eye_spacing: float = 0.42
    eye_size: float = 1.0
    brow_weight: float = 1.0
    nose: str = "button"  # button, long, wide
    hair_style: str = "short"  # short, spiky, curly, long, bob, bun, ponytail, afro, buzz, bald
    clothing_style: str = "plain"  # plain, suit, hoodie, striped, turtleneck
    accessories: tuple[Accessory, ...] = ()
    marks: tuple[str, ...] = ()  # freckles, mole, beard, stubble, moustache
    facial_hair: RGB | None = None  # brows and beard; None: the colour of the hair
    setting: str = "studio"  # the background of the references
    backdrop: RGB | None = None  # tint of that background, so that each person's references differ


@dataclass(frozen=True)
class Expression:
    smile: float = 0.0
    open: float = 0.0
    surprise: float = 0.0
    sad: float = 0.0
    angry: float = 0.0
    wink: float = 0.0

    def towards(self, other: Expression, amount: float) -> Expression:
        a = max(0.0, min(1.0, amount))
        mine, theirs = vars(self), vars(other)
        return Expression(**{name: mine[name] + (theirs[name] - mine[name]) * a for name in mine})


RESTING = Expression(smile=0.15)
EXPRESSIONS: dict[str, Expression] = {
    "neutral": Expression(),
    "resting": RESTING,
    "smile": Expression(smile=1.0, open=0.35),
    "laugh": Expression(smile=1.0, open=0.85),
    "surprise": Expression(surprise=1.0, open=0.75),
    "sad": Expression(sad=1.0),
    "angry": Expression(angry=1.0),
    "wink": Expression(smile=0.7, open=0.1, wink=1.0),
}

# One accessory per slot: a requested hat replaces the person's hat, but not their earrings.
ACCESSORY_SLOTS = {
    "glasses": "eyes", "sunglasses": "eyes", "earrings": "ears", "hoops": "ears", "beanie": "head",
    "cap": "head", "fedora": "head", "beret": "head", "headphones": "head", "scarf": "neck",
    "necklace": "neck", "bowtie": "neck",
}  # fmt: skip


# -- Colour helpers ------------------------------------------------------------------------------------


def clip_rgb(values: Iterable[float]) -> RGB:
    r, g, b = (round(min(255.0, max(0.0, float(v)))) for v in values)
    return (r, g, b)


# Cached: one frame asks for the same few shades dozens of times.
@lru_cache(maxsize=4096)
def mix(a: RGB, b: RGB, amount: float) -> RGB:
    return clip_rgb(x + (y - x) * amount for x, y in zip(a, b, strict=True))


@lru_cache(maxsize=4096)
def shade(colour: RGB, factor: float) -> RGB:
    return clip_rgb(v * factor for v in colour)


def _stable_int(text: str) -> int:
    return zlib.crc32(text.encode())


# -- Backgrounds and lighting ------------------------------------------------------------------------------

SETTING_COLOURS: dict[str, tuple[RGB, RGB]] = {
    # setting: (top, bottom) of the sky or wall
    "studio": ((170, 180, 195), (95, 105, 125)),
    "beach": ((120, 190, 240), (205, 232, 250)),
    "sunset": ((110, 60, 130), (250, 150, 80)),
    "forest": ((70, 125, 80), (25, 60, 35)),
    "city": ((70, 85, 125), (150, 130, 150)),
    "neon": ((20, 10, 45), (60, 20, 80)),
    "office": ((230, 222, 205), (200, 188, 165)),
    "snow": ((185, 210, 238), (245, 250, 255)),
    "library": ((115, 75, 50), (80, 50, 35)),
    "cafe": ((160, 105, 70), (100, 65, 45)),
    "park": ((140, 195, 240), (200, 230, 250)),
    "space": ((8, 8, 28), (30, 20, 60)),
}


def _gradient(width: int, height: int, top: RGB, bottom: RGB) -> np.ndarray:
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    colours = np.asarray(top, np.float32) * (1 - ramp) + np.asarray(bottom, np.float32) * ramp
    return np.broadcast_to(colours, (height, width, 3)).astype(np.uint8)


@lru_cache(maxsize=64)
def background(setting: str, width: int, height: int, tint: RGB | None = None) -> Image.Image:
    """The backdrop of a setting, drawn once per size and cached: callers copy it before drawing on it."""
    top, bottom = SETTING_COLOURS.get(setting, SETTING_COLOURS["studio"])
    if tint is not None:
        top, bottom = mix(top, tint, 0.55), mix(bottom, shade(tint, 0.6), 0.55)
    image = Image.fromarray(_gradient(width, height, top, bottom))
    cv = _Canvas.stretched(image)
    # Scenery is placed by a generator keyed to the setting: one setting looks the same in every video.
    rng = np.random.default_rng(_stable_int(setting))

    def rect(x0: float, y0: float, x1: float, y1: float, fill: RGB) -> None:
        cv.polygon([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], fill)

    if setting == "studio":
        cv.ellipse(0.5, 0.4, 0.35, 0.35, mix(top, (255, 255, 255), 0.18))
    elif setting == "beach":
        cv.oval(0.85, 0.13, 0.07, 0.07, (255, 240, 170))
        rect(0, 0.52, 1, 0.68, (45, 125, 185))
        rect(0, 0.66, 1, 1, (232, 212, 160))
        for y in (0.56, 0.61):
            cv.line([(0, y), (1, y)], (120, 180, 220), 0.006)
    elif setting == "sunset":
        cv.oval(0.75, 0.51, 0.15, 0.15, (255, 200, 90))
        rect(0, 0.55, 1, 1, (70, 45, 90))
        for y in (0.60, 0.68, 0.78):
            cv.line([(0.55, y), (0.95, y)], (240, 150, 90), 0.008)
    elif setting in ("forest", "park"):
        if setting == "park":
            rect(0, 0.62, 1, 1, (110, 170, 80))
        for _ in range(9):
            x, depth = float(rng.uniform(-0.05, 1.05)), float(rng.uniform(0.6, 1.0))
            green = shade((40, 110, 55) if setting == "forest" else (60, 140, 70), depth)
            rect(x - 0.015, 0.45, x + 0.015, 0.75, (85, 60, 40))
            if setting == "forest":
                cv.polygon([(x, 0.08), (x - 0.12, 0.62), (x + 0.12, 0.62)], green)
            else:
                cv.ellipse(x, 0.45, 0.1, 0.13, green)
    elif setting in ("city", "neon"):
        body, lit = ((40, 45, 70), (250, 220, 140)) if setting == "city" else ((25, 15, 45), (255, 80, 200))
        x = -0.05
        while x < 1.05:
            bw, bh = float(rng.uniform(0.08, 0.16)), float(rng.uniform(0.25, 0.7))
            rect(x, 1 - bh, x + bw, 1, body)
            for wy in np.arange(1 - bh + 0.04, 0.98, 0.06):
                for wx in np.arange(x + 0.015, x + bw - 0.02, 0.035):
                    if rng.uniform() < 0.55:
                        rect(wx, wy, wx + 0.015, wy + 0.025, lit)
            x += bw + 0.01
        if setting == "neon":
            cv.line([(0.05, 0.18), (0.95, 0.18)], (255, 60, 200), 0.014)
            cv.line([(0.05, 0.27), (0.95, 0.27)], (40, 230, 255), 0.014)
    elif setting == "office":
        rect(0.05, 0.10, 0.40, 0.55, (240, 240, 240))
        rect(0.07, 0.12, 0.38, 0.53, (165, 208, 238))
        cv.line([(0.225, 0.12), (0.225, 0.53)], (240, 240, 240), 0.01, round_ends=False)
        rect(0.70, 0.30, 0.95, 0.34, (150, 110, 80))
        cv.ellipse(0.82, 0.245, 0.06, 0.065, (70, 140, 80))
    elif setting == "snow":
        rect(0, 0.65, 1, 1, (250, 252, 255))
        for _ in range(6):
            x = float(rng.uniform(0.0, 1.0))
            cv.polygon([(x, 0.30), (x - 0.07, 0.68), (x + 0.07, 0.68)], (60, 100, 90))
            cv.polygon([(x, 0.30), (x - 0.03, 0.42), (x + 0.03, 0.42)], (250, 250, 255))
        for _ in range(60):
            cv.oval(float(rng.uniform()), float(rng.uniform()), 0.004, 0.004, (255, 255, 255))
    elif setting == "library":
        spines = [(160, 36, 40), (24, 36, 76), (44, 116, 60), (164, 132, 32), (92, 24, 36), (24, 112, 112)]
        for y in (0.12, 0.37, 0.62):
            x = 0.0
            while x < 1.0:
                bw = float(rng.uniform(0.02, 0.045))
                rect(x, y + float(rng.uniform(0, 0.04)), x + bw, y + 0.21, spines[int(rng.integers(6))])
                x += bw + 0.004
            rect(0, y + 0.21, 1, y + 0.24, (70, 45, 30))
    elif setting == "cafe":
        cv.line([(0, 0.13), (0.5, 0.21), (1, 0.11)], (60, 40, 30), 0.004)
        for i in range(12):
            x = i / 11
            cv.oval(
                x,
                0.13 + 0.08 * x * 2 if x <= 0.5 else 0.21 - 0.1 * (2 * x - 1),
                0.012,
                0.016,
                (255, 225, 130),
            )
        rect(0, 0.7, 1, 1, (90, 60, 40))
    elif setting == "space":
        for _ in range(120):
            r = float(rng.uniform(0.001, 0.004))
            cv.oval(float(rng.uniform()), float(rng.uniform()), r, r, (255, 255, 235))
        cv.oval(0.82, 0.18, 0.1, 0.1, (200, 120, 90))
    return image


_LIGHTS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    # light: (per-channel gain, per-channel offset)
    "warm": ((1.05, 0.97, 0.85), (10, 3, -4)),
    "cool": ((0.93, 0.98, 1.06), (-2, 2, 10)),
    "dim": ((0.7, 0.7, 0.74), (0, 0, 4)),
    "bright": ((1.08, 1.08, 1.06), (12, 12, 10)),
    "neon": ((1.04, 0.92, 1.08), (8, -2, 12)),
    "soft": ((0.85, 0.85, 0.85), (28, 28, 28)),
}


def lighting_table(names: Iterable[str], strength: float) -> list[int] | None:
    """A Pillow point table for the named lights at ``strength`` (0: unlit, 1: fully); None if no change."""
    gain, offset = np.ones(3), np.zeros(3)
    for name in names:
        g, o = _LIGHTS[name]
        gain, offset = gain * np.asarray(g), offset * np.asarray(g) + np.asarray(o)
    gain, offset = 1 + (gain - 1) * strength, offset * strength
    if np.allclose(gain, 1) and np.allclose(offset, 0):
        return None
    ramp = np.arange(256, dtype=np.float64)
    table = np.concatenate([np.clip(ramp * gain[c] + offset[c], 0, 255) for c in range(3)])
    return [int(v) for v in np.round(table)]


# -- Drawing one person ----------------------------------------------------------------------------------


class _Canvas:
    """Draws in a local frame: ``origin`` and ``scale`` map local points to unit coordinates, in which the
    unit square is centred in the image and fits its short side.

    Positions scale by (sx, sy); ``oval`` radii and line widths scale by sx alone, so that circles stay
    round in a frame stretched like a long face.
    """

    def __init__(self, draw: ImageDraw.ImageDraw, size: Point, offset: Point, origin: Point, scale: Point):
        self.draw, self.size, self.offset, self.origin, self.scale = draw, size, offset, origin, scale
        self.stroke = max(1, round(min(size) / 170))
        # The whole mapping to pixels as one affine step per axis: points are mapped by the thousand.
        self._ax, self._bx = offset[0] + origin[0] * size[0], scale[0] * size[0]
        self._ay, self._by = offset[1] + origin[1] * size[1], scale[1] * size[1]

    @classmethod
    def on(cls, image: Image.Image) -> _Canvas:
        side = float(min(image.size))
        offset = ((image.size[0] - side) / 2, (image.size[1] - side) / 2)
        return cls(ImageDraw.Draw(image), (side, side), offset, (0.0, 0.0), (1.0, 1.0))

    @classmethod
    def stretched(cls, image: Image.Image) -> _Canvas:
        """Unit coordinates over the whole image, for scenery that fills any aspect ratio."""
        return cls(
            ImageDraw.Draw(image), (float(image.size[0]), float(image.size[1])), (0, 0), (0, 0), (1, 1)
        )

    def local(self, x: float, y: float, sx: float, sy: float | None = None) -> _Canvas:
        """A frame whose origin is the local point (x, y) and whose units are (sx, sy) local units."""
        ox, oy = self.origin[0] + x * self.scale[0], self.origin[1] + y * self.scale[1]
        scale = (self.scale[0] * sx, self.scale[1] * (sx if sy is None else sy))
        return _Canvas(self.draw, self.size, self.offset, (ox, oy), scale)

    def p(self, x: float, y: float) -> Point:
        return (self._ax + x * self._bx, self._ay + y * self._by)

    def ellipse(
        self,
        cx: float,
        cy: float,
        rx: float,
        ry: float,
        fill: RGB | None,
        outline: RGB | None = None,
        width: float | None = None,
    ) -> None:
        """An ellipse whose radii are in local x and y units."""
        self._box(cx, cy, abs(rx * self.scale[0]), abs(ry * self.scale[1]), fill, outline, width)

    def oval(
        self,
        cx: float,
        cy: float,
        rx: float,
        ry: float,
        fill: RGB | None,
        outline: RGB | None = None,
        width: float | None = None,
    ) -> None:
        """An ellipse whose radii are both in local x units: ``oval(x, y, r, r)`` is a circle."""
        self._box(cx, cy, abs(rx * self.scale[0]), abs(ry * self.scale[0]), fill, outline, width)

    def _box(
        self,
        cx: float,
        cy: float,
        ux: float,
        uy: float,
        fill: RGB | None,
        outline: RGB | None,
        width: float | None,
    ) -> None:
        x, y = self.p(cx, cy)
        rx, ry = ux * self.size[0], uy * self.size[1]
        if rx < 0.25 or ry < 0.25:
            return
        stroke = self._width(width) if width is not None else self.stroke
        self.draw.ellipse(
            (x - rx, y - ry, x + rx, y + ry), fill=fill, outline=outline, width=stroke if outline else 0
        )

    def _width(self, width: float) -> int:
        return max(1, round(width * self.scale[0] * self.size[0]))

    def polygon(self, points: Iterable[Point], fill: RGB | None, outline: RGB | None = None) -> None:
        ax, bx, ay, by = self._ax, self._bx, self._ay, self._by
        pixels = [(ax + x * bx, ay + y * by) for x, y in points]
        self.draw.polygon(pixels, fill=fill, outline=outline, width=self.stroke if outline else 1)

    def line(self, points: Sequence[Point], fill: RGB, width: float, round_ends: bool = True) -> None:
        pixels = [self.p(x, y) for x, y in points]
        stroke = self._width(width)
        self.draw.line(pixels, fill=fill, width=stroke, joint="curve")
        if round_ends and stroke > 2:
            r = stroke / 2
            for x, y in (pixels[0], pixels[-1]):
                self.draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)


@dataclass(frozen=True)
class Pose:
    """Everything that changes from frame to frame."""

    yaw: float = 0.0  # -1 (turned to the viewer's left) .. 1
    pitch: float = 0.0  # -1 (up) .. 1 (down)
    bob: float = 0.0  # vertical offset of the body, in frame heights (breathing)
    expression: Expression = RESTING
    blink: float = 0.0  # 0 open .. 1 closed
    talk: float = 0.0  # extra mouth opening
    hand_raise: float = 0.0  # 0 hidden .. 1 raised beside the face
    hand_angle: float = 0.0  # radians
    zoom: float = 1.0
    centre: Point = (0.5, 0.5)
    from_back: bool = False  # seen from behind: the back of the head, no face


def _quad(x0: float, y0: float, x1: float, y1: float, slant: float = 0.0) -> list[Point]:
    """A rectangle, optionally widening downwards by ``slant`` on each side."""
    return [(x0, y0), (x1, y0), (x1 + slant, y1), (x0 - slant, y1)]


def _arc(rx: float, ry: float, start: float, stop: float, steps: int = 24, cy: float = 0.0) -> list[Point]:
    """Points along an ellipse around (0, cy), angles in turns (0.5 .. 1 is the upper half)."""
    turns = np.linspace(start, stop, steps) * 2 * math.pi
    return list(zip((rx * np.cos(turns)).tolist(), (cy + ry * np.sin(turns)).tolist(), strict=True))


def _head_outline(width: float, squareness: float, chin: float) -> list[Point]:
    angles = np.linspace(0, 2 * math.pi, 72, endpoint=False)
    c, s = np.cos(angles), np.sin(angles)
    x = np.sign(c) * np.abs(c) ** (2 / squareness)
    y = np.sign(s) * np.abs(s) ** (2 / squareness)
    # The lower face narrows towards the chin; the cranium keeps its width.
    x = np.where(y > 0, x * (1 - chin * y**2), x) * width
    return list(zip(x.tolist(), y.tolist(), strict=True))


def _hair_back(head: _Canvas, look: CartoonLook, yaw: float) -> None:
    colour, dark = look.hair_colour, shade(look.hair_colour, 0.8)
    if look.hair_style == "long":
        head.polygon(_quad(-1.15, -0.3, 1.15, 1.9, slant=0.2), dark)
        head.ellipse(0, -0.25, 1.16, 0.9, dark)
    elif look.hair_style == "bob":
        head.polygon(_quad(-1.18, -0.2, 1.18, 0.9, slant=0.02), dark)
        head.ellipse(0, -0.2, 1.2, 0.95, dark)
    elif look.hair_style == "afro":
        head.ellipse(0, -0.35, 1.75, 1.2, colour, shade(colour, 0.7))
    elif look.hair_style == "ponytail":
        # A tail tapering down behind one shoulder, on the side the face turns away from.
        side = 1 if yaw <= 0 else -1
        for t in np.linspace(0.0, 1.0, 7):
            x, y = side * (0.85 + 0.45 * math.sin(t * 2.2)), -0.55 + 1.5 * t
            head.oval(x, y, 0.3 - 0.16 * t, 0.3 - 0.16 * t, colour, shade(colour, 0.7))
    elif look.hair_style == "bun":
        head.oval(-yaw * 0.15, -1.05, 0.42, 0.38, colour, shade(colour, 0.7))


def _back_of_head(head: _Canvas, look: CartoonLook) -> None:
    """The head from behind: the skull in skin, covered by the hair of the look's style."""
    skin = look.skin
    head.polygon(_head_outline(1.0, look.squareness, look.chin), skin, shade(skin, 0.62))
    if look.hair_style == "bald":
        return
    colour = mix(skin, look.hair_colour, 0.55) if look.hair_style == "buzz" else look.hair_colour
    dark = shade(colour, 0.75)
    if look.hair_style in ("long", "bob"):
        length = 1.9 if look.hair_style == "long" else 0.9
        head.polygon(_quad(-1.15, -0.3, 1.15, length, slant=0.2 if length > 1 else 0.02), colour, dark)
    size = 1.75 if look.hair_style == "afro" else 1.06
    head.ellipse(0, -0.18, size, 0.98 if size < 1.5 else 1.2, colour, dark)
    if look.hair_style == "bun":
        head.oval(0, -1.05, 0.42, 0.38, colour, dark)
    elif look.hair_style == "ponytail":
        for t in np.linspace(0.0, 1.0, 7):
            head.oval(0.0, -0.2 + 1.5 * t, 0.3 - 0.16 * t, 0.3 - 0.16 * t, colour, dark)


def _hair_cap(volume: float, *, hairline: float, side: float, parted: bool) -> list[Point]:
    """The hair over the top of the head, down the temples to ``side`` and back across the forehead.

    A fringe runs straight across at ``hairline``; ``parted`` hair opens in an arch from a centre parting.
    """
    xs = np.linspace(0.86, -0.86, 17)
    # Curtains are highest at the parting and fall to the temples.
    ys = -0.88 + (side + 0.88) * np.abs(xs / 0.86) ** 0.7 if parted else hairline - 0.1 * (1 - xs**2)
    inner = list(zip((xs * volume).tolist(), (ys * volume).tolist(), strict=True))
    return [(-0.99 * volume, side), *_arc(volume, volume, 0.485, 1.015, 30), (0.99 * volume, side), *inner]


def _hair_front(head: _Canvas, look: CartoonLook, yaw: float) -> None:
    style, colour = look.hair_style, look.hair_colour
    if style == "bald":
        return
    hair = head.local(yaw * 0.12, 0, 1, 1)
    outline = shade(colour, 0.7)
    if style == "buzz":
        hair.polygon(_hair_cap(1.01, hairline=-0.55, side=-0.3, parted=False), mix(look.skin, colour, 0.55))
        return
    volume = {"spiky": 1.06, "curly": 1.08, "afro": 1.1, "bun": 1.03, "ponytail": 1.03}.get(style, 1.07)
    hairline = {"bob": -0.3, "curly": -0.45}.get(style, -0.5)
    side = {"long": 0.1, "bob": 0.2, "bun": -0.1, "ponytail": -0.1}.get(style, -0.2)
    parted = style in ("long", "bun", "ponytail")
    hair.polygon(_hair_cap(volume, hairline=hairline, side=side, parted=parted), colour, outline)
    if style == "spiky":
        for i in range(7):
            angle = math.pi * (1.1 + 0.8 * i / 6)
            c, s = math.cos(angle), math.sin(angle)
            hair.polygon(
                [
                    (0.95 * c + 0.2 * s, 0.95 * s - 0.2 * c),
                    (1.35 * c, 1.3 * s),
                    (0.95 * c - 0.2 * s, 0.95 * s + 0.2 * c),
                ],
                colour,
                outline,
            )
    elif style in ("curly", "afro"):
        for x, y in _arc(1.0, 0.98, 0.5, 1.0, 11):
            hair.oval(x, y, 0.26, 0.26, colour, outline)
    elif style == "bob":
        hair.polygon(_quad(-0.95, -0.75, 0.95, -0.35, slant=-0.05), colour)  # a straight fringe
    elif not parted:
        # A side parting: a darker sweep shows which way the hair falls.
        hair.line([(-0.3, -1.0), (-0.05, -0.62)], outline, 0.05)


def _torso(cv: _Canvas, look: CartoonLook, bob: float) -> None:
    colour, dark = look.clothing_colour, shade(look.clothing_colour, 0.72)
    body = cv.local(0.5, 1.12 + bob, 1)
    neck = 0.745 - 1.12  # the collar line, relative to the middle of the body
    style = look.clothing_style
    if style == "hoodie":
        body.ellipse(0, neck, 0.17, 0.07, dark)
    body.ellipse(0, 0, 0.39, 0.37, colour, dark)
    if style == "striped":
        stripe = mix(colour, (245, 245, 240), 0.8) if sum(colour) < 600 else (40, 50, 110)
        for y0 in np.arange(-0.32, -0.08, 0.055):
            ys = np.linspace(y0, y0 + 0.022, 4)
            half = 0.385 * np.sqrt(np.clip(1 - (ys / 0.37) ** 2, 0, 1))
            left = list(zip((-half).tolist(), ys.tolist(), strict=True))
            right = list(zip(half.tolist(), ys.tolist(), strict=True))
            body.polygon(left + right[::-1], stripe)
    if style == "suit":
        body.polygon([(-0.07, neck), (0.07, neck), (0, neck + 0.235)], (240, 240, 236))
        for side in (-1, 1):
            body.polygon([(side * 0.08, neck), (0, neck + 0.185), (side * 0.14, neck + 0.095)], dark)
        tie = [
            (-0.01, neck + 0.03),
            (0.01, neck + 0.03),
            (0.02, neck + 0.2),
            (0, neck + 0.235),
            (-0.02, neck + 0.2),
        ]
        body.polygon(tie, mix(colour, (200, 40, 50), 0.7))
    elif style == "turtleneck":
        body.ellipse(0, neck - 0.01, 0.085, 0.05, colour, dark)
    else:
        body.polygon([(-0.055, neck - 0.01), (0.055, neck - 0.01), (0, neck + 0.065)], look.skin)
    if style == "hoodie":
        for x in (-0.035, 0.035):
            body.line([(x, neck + 0.02), (x, neck + 0.13)], (240, 240, 236), 0.008)


def _neck_and_ears(cv: _Canvas, head: _Canvas, look: CartoonLook, yaw: float, collar: float) -> None:
    skin = look.skin
    neck_top = head.origin[1] + 0.6 * head.scale[1]
    half = 0.42 * head.scale[0]
    cv.polygon(_quad(0.5 - half, neck_top, 0.5 + half, collar, slant=0.1 * half), skin)
    head.ellipse(0, 0.86, 0.44, 0.14, shade(skin, 0.82))  # the chin's shadow on the neck
    for side in (-1, 1):
        # The ear on the side the face turns towards slides behind the head.
        visible = max(0.15, 1 - max(0.0, side * yaw) * 1.2)
        head.ellipse(side * (0.97 - 0.06 * side * yaw), 0.08, 0.17 * visible, 0.2, skin, shade(skin, 0.7))


def _eyes_and_brows(face: _Canvas, look: CartoonLook, pose: Pose, outline: RGB) -> None:
    ex, yaw = pose.expression, pose.yaw
    # A surprised face opens the eyes, a smile narrows them, a blink closes them.
    openness = (1 - pose.blink) * (1 + 0.35 * ex.surprise - 0.3 * ex.smile - 0.1 * ex.angry)
    k = face.scale[1] / face.scale[0]  # face height per face width: vertical offsets in width units
    brow_colour = shade(look.facial_hair or look.hair_colour, 0.8)
    for side in (-1, 1):
        perspective = 1 - 0.3 * max(0.0, side * yaw)
        x, y = side * look.eye_spacing * perspective, -0.02
        rx, ry = 0.17 * look.eye_size * perspective, 0.12 * look.eye_size
        eye_open = openness * (1 - ex.wink if side == 1 else 1)
        if eye_open > 0.18:
            face.oval(x, y, rx, ry * eye_open, (250, 250, 248), outline)
            iris_x, iris_r = x + yaw * rx * 0.25, min(ry * eye_open, 0.095 * look.eye_size)
            face.oval(iris_x, y, iris_r * perspective, iris_r, look.eye_colour)
            face.oval(iris_x, y, iris_r * 0.5 * perspective, iris_r * 0.5, (20, 20, 25))
            face.oval(
                iris_x - iris_r * 0.35, y - iris_r * 0.35 / k, iris_r * 0.22, iris_r * 0.22, (255, 255, 255)
            )
        else:
            face.line([(x - rx, y), (x, y + ry * 0.2 / k), (x + rx, y)], outline, 0.03)
        # Brows rise with surprise; their inner ends drop with anger and lift with sadness.
        brow_y = y - 0.2 - 0.09 * ex.surprise + 0.04 * ex.angry
        inner = 0.06 * ex.angry - 0.07 * ex.sad
        points = [
            (x + side * rx * 1.1, brow_y + 0.02),
            (x, brow_y - 0.02),
            (x - side * rx * 0.9, brow_y + inner),
        ]
        face.line(points, brow_colour, 0.055 * look.brow_weight)


def _mouth(face: _Canvas, pose: Pose) -> None:
    ex = pose.expression
    k = face.scale[1] / face.scale[0]
    width = (0.42 + 0.1 * ex.smile - 0.14 * ex.surprise) * (1 - 0.2 * abs(pose.yaw))
    lift = (0.16 * ex.smile - 0.12 * ex.sad - 0.04 * ex.angry) / k  # corners up (+) or down (-)
    opening = (0.32 * ex.open + 0.18 * pose.talk) / k
    xs = np.linspace(-1.0, 1.0, 15)
    mx, my = pose.yaw * 0.05, 0.52
    upper = my - lift * xs**2 + lift * 0.3
    lower = upper + opening * (1 - xs**2) * (1 + 0.4 * ex.surprise)
    top = list(zip((mx + width * xs).tolist(), upper.tolist(), strict=True))
    lip = (150, 60, 65)
    if opening < 0.03:
        face.line(top, lip, 0.04)
        return
    bottom = list(zip((mx + width * xs).tolist(), lower.tolist(), strict=True))
    face.polygon(top + bottom[::-1], (95, 30, 40), lip)
    if ex.smile > 0.3:
        teeth_edge = upper + np.minimum(opening * 0.35, 0.08 / k) * (1 - xs**2)
        band = list(zip((mx + width * 0.85 * xs).tolist(), (upper + 0.01).tolist(), strict=True))
        band += list(zip((mx + width * 0.85 * xs[::-1]).tolist(), teeth_edge[::-1].tolist(), strict=True))
        face.polygon(band, (250, 248, 240))


def _face(head: _Canvas, look: CartoonLook, pose: Pose) -> None:
    skin, outline = look.skin, shade(look.skin, 0.62)
    ex = pose.expression
    outline_points = _head_outline(1 - 0.08 * abs(pose.yaw), look.squareness, look.chin)
    head.polygon(outline_points, skin, outline)
    # The features slide across the head as it turns and down as it nods.
    face = head.local(pose.yaw * FEATURE_TURN, pose.pitch * 0.16, 1, 1)
    beard_colour = shade(look.facial_hair or look.hair_colour, 0.85)
    if "beard" in look.marks or "stubble" in look.marks:
        tone = beard_colour if "beard" in look.marks else mix(skin, beard_colour, 0.35)
        fx, fy = pose.yaw * FEATURE_TURN, pose.pitch * 0.16
        jaw = sorted((p for p in outline_points if p[1] > fy + 0.3), key=lambda p: p[0])
        head.polygon([*jaw, (fx + 0.42, fy + 0.36), (fx, fy + 0.42), (fx - 0.42, fy + 0.36)], tone)
    blush = mix(skin, (235, 110, 120), 0.18 + 0.22 * ex.smile)  # cheeks colour with a smile
    for side in (-1, 1):
        # The cheek turned away is seen at a slant: narrower and nearer the middle, inside the outline.
        near = 1 - 0.45 * max(0.0, side * pose.yaw)
        face.ellipse(side * 0.5 * near, 0.28, 0.17 * near, 0.09, blush)
        if "freckles" in look.marks:
            for dx, dy in FRECKLES:
                face.oval(side * dx * near, dy, 0.022, 0.022, shade(skin, 0.72))
    if "mole" in look.marks:
        face.oval(0.38 * (1 - 0.45 * max(0.0, pose.yaw)), 0.42, 0.035, 0.035, shade(skin, 0.45))
    _eyes_and_brows(face, look, pose, outline)
    nose = face.local(pose.yaw * 0.18, 0.22, 1, 1)
    nose_colour = shade(skin, 0.78)
    if look.nose == "long":
        nose.line([(-0.02, -0.2), (-0.06, 0.04), (0.06, 0.06)], nose_colour, 0.035)
    elif look.nose == "wide":
        nose.ellipse(0, 0.04, 0.16, 0.06, nose_colour)
        for side in (-1, 1):
            nose.oval(side * 0.07, 0.06, 0.03, 0.022, shade(skin, 0.55))
    else:
        nose.ellipse(0, 0.03, 0.09, 0.06, nose_colour)
    if "moustache" in look.marks or "beard" in look.marks:
        face.ellipse(0, 0.42, 0.32, 0.07, beard_colour)
    _mouth(face, pose)


def _accessories(head: _Canvas, look: CartoonLook, pose: Pose, slots: Iterable[str]) -> None:
    yaw = pose.yaw
    for item in (a for a in look.accessories if ACCESSORY_SLOTS[a.kind] in slots):
        kind, colour, dark = item.kind, item.colour, shade(item.colour, 0.65)
        if kind in ("earrings", "hoops"):
            for side in (-1, 1):
                if side * yaw > 0.5:
                    continue  # that ear is behind the head
                x = side * (0.97 - 0.06 * side * yaw)
                if kind == "hoops":
                    head.oval(x, 0.42, 0.1, 0.12, None, colour, width=0.03)
                else:
                    head.oval(x, 0.33, 0.06, 0.06, colour, dark)
        elif kind == "scarf":
            head.ellipse(0, 1.42, 0.95, 0.22, colour, dark)
            head.polygon(_quad(0.35, 1.45, 0.8, 2.1, slant=0.05), colour, dark)
        elif kind == "necklace":
            for t in np.linspace(-1, 1, 13):
                head.oval(t * 0.55, 1.45 + 0.35 * (1 - t * t), 0.035, 0.035, colour)
            head.oval(0, 1.84, 0.07, 0.08, colour, dark)
        elif kind == "bowtie":
            for side in (-1, 1):
                head.polygon([(0, 1.38), (side * 0.3, 1.26), (side * 0.3, 1.5)], colour, dark)
        elif kind in ("glasses", "sunglasses"):
            face = head.local(yaw * FEATURE_TURN, pose.pitch * 0.16 - 0.02, 1, 1)
            centres = []
            for side in (-1, 1):
                perspective = 1 - 0.3 * max(0.0, side * yaw)
                centres.append(side * look.eye_spacing * perspective)
                lens = (30, 30, 40) if kind == "sunglasses" else None
                face.oval(centres[-1], 0, 0.27 * perspective, 0.22, lens, colour, width=0.045)
                if kind == "sunglasses":
                    face.oval(centres[-1] - 0.08, -0.06, 0.06, 0.04, (110, 110, 130))
            face.line([(centres[0] + 0.2, -0.03), (centres[1] - 0.2, -0.03)], colour, 0.045)
        elif kind == "headphones":
            head.line([(-1.05, 0), (-0.9, -1.05), (0, -1.2), (0.9, -1.05), (1.05, 0)], colour, 0.1)
            for side in (-1, 1):
                head.ellipse(side * 1.02, 0.08, 0.16, 0.25, colour, dark)
        else:
            _hat(head.local(yaw * 0.12, 0, 1, 1), kind, colour, dark)


def _hat(hat: _Canvas, kind: str, colour: RGB, dark: RGB) -> None:
    if kind == "beanie":
        hat.polygon(_arc(1.1, 0.76, 0.5, 1.0, cy=-0.42), colour, dark)
        hat.polygon(_quad(-1.13, -0.56, 1.13, -0.36), shade(colour, 0.85), dark)
        hat.oval(0, -1.2, 0.2, 0.2, (245, 245, 240), shade(colour, 0.7))
    elif kind == "cap":
        hat.polygon(_arc(1.06, 0.62, 0.5, 1.0, cy=-0.48), colour, dark)
        hat.ellipse(0.3, -0.48, 0.85, 0.1, dark)
    elif kind == "fedora":
        hat.ellipse(0, -0.62, 1.65, 0.17, dark)
        hat.polygon([(-0.85, -0.62), (-0.7, -1.3), (0.7, -1.3), (0.85, -0.62)], colour, dark)
        hat.polygon(_quad(-0.84, -0.75, 0.84, -0.62, slant=0.01), shade(colour, 0.5))
    elif kind == "beret":
        hat.ellipse(0.2, -0.82, 1.1, 0.35, colour, dark)
        hat.oval(0.2, -1.15, 0.06, 0.08, dark)


def _hand(cv: _Canvas, look: CartoonLook, pose: Pose) -> None:
    if pose.hand_raise <= 0.01:
        return
    hand = cv.local(0.82, 1.3 - 0.8 * pose.hand_raise, 1)
    angle = pose.hand_angle
    # The forearm swings with the hand, pivoting at an elbow below the frame.
    wrist = (-math.sin(angle) * 0.07, math.cos(angle) * 0.09)
    hand.line([(0.08, 0.8 * pose.hand_raise), wrist], look.clothing_colour, 0.1)
    hand.oval(wrist[0], wrist[1], 0.055, 0.035, shade(look.clothing_colour, 0.75))
    skin, outline = look.skin, shade(look.skin, 0.7)
    strokes = []
    for spread in (-0.5, -0.17, 0.17, 0.5):
        t, length = angle + spread * 0.5, 0.105 - 0.02 * abs(spread)
        strokes.append(
            ((math.sin(t) * 0.02, -math.cos(t) * 0.02), (math.sin(t) * length, -math.cos(t) * length))
        )
    thumb = angle - 1.25
    strokes.append(((0.0, 0.01), (math.sin(thumb) * 0.085, -math.cos(thumb) * 0.07)))
    for base, tip in strokes:
        hand.line([base, tip], outline, 0.034)
        hand.line([base, tip], skin, 0.024)
    hand.oval(0, 0.02, 0.058, 0.064, skin, outline)


def draw_person(image: Image.Image, look: CartoonLook, pose: Pose) -> None:
    """Draw ``look`` in ``pose`` onto ``image`` (a supersampled frame that already holds the background)."""
    cv = _Canvas.on(image)
    bob = pose.bob * 0.4
    # Head units: the head is the unit circle, stretched by the look's width and length.
    head = cv.local(
        0.5 + pose.yaw * 0.01,
        0.40 + pose.bob + pose.pitch * 0.012,
        0.185 * look.face_width,
        0.235 * look.face_length,
    )
    if pose.from_back:
        _torso(cv, look, bob)
        _neck_and_ears(cv, head, look, 0.0, collar=0.76 + bob)
        _back_of_head(head, look)
        return
    _hair_back(head, look, pose.yaw)
    _torso(cv, look, bob)
    _neck_and_ears(cv, head, look, pose.yaw, collar=0.76 + bob)
    _accessories(head, look, pose, ("neck", "ears"))
    _face(head, look, pose)
    _hair_front(head, look, pose.yaw)
    _accessories(head, look, pose, ("eyes", "head"))
    _hand(cv, look, pose)
