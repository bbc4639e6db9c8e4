"""factory_boy factories for the catalog. Media-bearing rows go through the real services."""

from __future__ import annotations

import dataclasses
import itertools
import tempfile
from pathlib import Path

import factory
import numpy as np
from PIL import Image

from generation import services
from generation.metrics.definitions import METRICS, MetricDefinition
from generation.models import Identity, Method, Prompt, Story, StoryRendering, StoryShot, Video, VideoMetric


class IdentityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Identity
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"person-{n}")
    name = factory.Sequence(lambda n: f"Person {n}")


class PromptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Prompt
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"prompt-{n}")
    task = Prompt.Task.DIFFERENTIAL
    hairstyle = "short curly red hair"
    setting = "on a beach at sunset"
    full_text = "A person with short curly red hair on a beach at sunset."
    differential_text = "On a beach at sunset."
    omitted_aspects = factory.LazyFunction(lambda: ["hairstyle", "clothing"])


class MethodFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Method
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"method-{n}")
    role = Method.Role.BASELINE
    backend = Method.Backend.IMPORTED


def gradient_frames(*, count: int = 8, size: int = 64, shade: int = 0) -> list[np.ndarray]:
    """Small frames that differ from one another, so every encoded file is distinct."""
    frames = []
    for index in range(count):
        frame = np.zeros((size, size, 3), dtype=np.uint8)
        frame[..., 0] = (np.arange(size) * 3 + index * 7 + shade) % 256
        frame[..., 1] = (index * 20 + shade) % 256
        frames.append(frame)
    return frames


# Every made video gets frames of its own: equal frames would give equal sha256, which the catalog refuses.
_distinct_shades = itertools.count(1)


def make_video(
    *,
    method: Method | None = None,
    identity: Identity | None = None,
    prompt: Prompt | None = None,
    seed: int = 0,
    frames: int = 8,
    size: int = 64,
) -> Video:
    return services.video_create_from_frames(
        method=method or MethodFactory(),
        identity=identity or IdentityFactory(),
        prompt=prompt or PromptFactory(),
        seed=seed,
        frames=gradient_frames(count=frames, size=size, shade=next(_distinct_shades) * 37 + seed),
        fps=8,
        settings={"source": "test"},
    )


# One storyline, a shot each: distinct texts, so that their order shows.
STORY_ACTIONS = (
    "walks into the kitchen",
    "sits down at the table",
    "turns to the window and waves",
    "stands up and stretches",
    "leaves through the back door",
)


def make_track(
    *,
    annotators: list | tuple = (),
    methods: int = 3,
    identities: int = 1,
    prompts: int = 1,
    kind: str = "identity_fidelity",
    frames: int = 4,
    **options: object,
):
    """A track over ``identities × prompts`` cases with one video per method: C(methods, 2) pairs each."""
    from annotate.services import track_create

    identity_rows = [IdentityFactory() for _ in range(identities)]
    prompt_rows = [PromptFactory() for _ in range(prompts)]
    method_rows = [MethodFactory() for _ in range(methods)]
    for identity in identity_rows:
        for prompt in prompt_rows:
            for method in method_rows:
                make_video(method=method, identity=identity, prompt=prompt, frames=frames, size=32)
    return track_create(
        name=options.pop("name", f"track-{IdentityFactory._meta.model.objects.count()}-{kind}"),  # type: ignore[arg-type]
        kind=kind,
        identities=identity_rows,
        prompts=prompt_rows,
        methods=method_rows,
        annotators=annotators,
        **options,  # type: ignore[arg-type]
    )


class StoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Story
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"story-{n}")
    identity = factory.SubFactory(IdentityFactory)
    title = factory.Sequence(lambda n: f"Story {n}")


def make_story(identity: Identity | None = None, *, shots: int = 3) -> Story:
    """A story of ``shots`` shot prompts (one full Prompt each, in order, each with its own action)."""
    story = StoryFactory(identity=identity or IdentityFactory())
    for position, action in enumerate(STORY_ACTIONS[:shots], start=1):
        prompt = PromptFactory(
            task=Prompt.Task.FULL, action=action, full_text=f"A person {action}.", differential_text="",
            omitted_aspects=[],
        )  # fmt: skip
        StoryShot.objects.create(story=story, position=position, prompt=prompt)
    return story


# One colour a shot (red, green, blue, …), so that a frame tells which shot it is from.
SHOT_COLOURS = [(220, 40, 40), (40, 200, 60), (50, 80, 230), (230, 200, 40), (200, 60, 220)]


def shot_frames(
    *, shot: int, count: int, shape: tuple[int, int] = (64, 64), shade: int = 0
) -> list[np.ndarray]:
    """Frames (``shape``: height, width) of the ``shot``-th shot (1 = first): its colour, a white band
    that moves from frame to frame, and ``shade`` written along the top: each made file is distinct."""
    frames = []
    height, width = shape
    for index in range(count):
        frame = np.empty((height, width, 3), dtype=np.uint8)
        frame[...] = SHOT_COLOURS[(shot - 1) % len(SHOT_COLOURS)]
        band = (index * 5) % width
        frame[:, band : band + 4] = 255
        # ``shade`` in binary, black and white 8-pixel blocks along the top: no encoder blurs it away.
        for bit in range(2 * (width // 8)):
            row, column = divmod(bit, width // 8)
            frame[row * 8 : row * 8 + 8, column * 8 : column * 8 + 8] = 255 if shade >> bit & 1 else 0
        frames.append(frame)
    return frames


def make_story_rendering(
    story: Story,
    method: Method,
    *,
    seed: int = 0,
    frames: int | list[int] = 8,
    mode: str = StoryRendering.Mode.INDEPENDENT,
    shape: tuple[int, int] = (64, 64),
    fps: int = 8,
) -> StoryRendering:
    """A rendering of ``story`` by ``method``: one shot video a shot (``frames`` each, or per shot) and the
    joined file that plays them one after the other, with its shot starts."""
    prompts = story.shot_prompts()
    counts = frames if isinstance(frames, list) else [frames] * len(prompts)
    assert len(counts) == len(prompts), "one frame count a shot"
    shade = next(_distinct_shades) * 37 + seed
    clips = [shot_frames(shot=k, count=n, shape=shape, shade=shade) for k, n in enumerate(counts, start=1)]
    starts = [sum(counts[:k]) / fps for k in range(len(counts))]
    rendering = StoryRendering.objects.create(
        story=story, method=method, seed=seed, mode=mode, shot_starts=starts, settings={"source": "test"}
    )

    def video(prompt: Prompt, made: list[np.ndarray], shot: int | None) -> None:
        made_video = services.video_create_from_frames(
            method=method, identity=story.identity, prompt=prompt, seed=seed, frames=made, fps=fps
        )
        Video.objects.filter(pk=made_video.pk).update(rendering=rendering, shot=shot)

    for shot, (prompt, clip) in enumerate(zip(prompts, clips, strict=True), start=1):
        video(prompt, clip, shot)
    video(prompts[0], [frame for clip in clips for frame in clip], None)
    return rendering


def make_narrative_track(
    *,
    kind: str = "continuity",
    annotators: list | tuple = (),
    frames: tuple[list[int], ...] = ([8, 8, 8], [4, 8, 12]),
    references: bool = True,
    shape: tuple[int, int] = (64, 64),
    **options: object,
):
    """A narrative track over one story of three shots rendered by ``len(frames)`` methods (one frame
    count a shot each: shots of unequal lengths by default), with the identity's face and full-body
    references: C(methods, 2) comparisons of joined files."""
    from annotate.services import track_create

    story = make_story(shots=len(frames[0]))
    if references:
        with tempfile.TemporaryDirectory() as folder:
            for position, (kind_of, colour) in enumerate(
                [("face", (200, 90, 60)), ("full_body", (60, 120, 200))]
            ):
                path = Path(folder) / f"{kind_of}.png"
                Image.new("RGB", (48, 64), colour).save(path)
                services.reference_create(
                    identity=story.identity,
                    kind=kind_of,
                    source=path,
                    is_primary=position == 0,
                    position=position,
                )
    methods = [MethodFactory() for _ in frames]
    for method, counts in zip(methods, frames, strict=True):
        make_story_rendering(story=story, method=method, frames=list(counts), shape=shape)
    return track_create(
        name=options.pop("name", f"narrative-{story.slug}-{kind}"),  # type: ignore[arg-type]
        kind=kind,
        identities=[story.identity],
        prompts=[],
        methods=methods,
        annotators=annotators,
        **options,  # type: ignore[arg-type]
    )


def make_video_metric(
    video: Video,
    name: str,
    value: float | None = None,
    status: str = "computed",
    *,
    model_hash: str = "",
    settings: dict | None = None,
    version: str | None = None,
    note: str = "",
    details: dict | None = None,
) -> VideoMetric:
    """One stored metric of ``video``, under the definition the spec, ``model_hash`` and ``settings`` give
    (generation.metrics.definitions): other settings make another definition of the same metric."""
    spec = METRICS[name]
    if version is not None:
        spec = dataclasses.replace(spec, version=version)
    definition = MetricDefinition(spec=spec, model_hash=model_hash, settings=settings or {})
    return VideoMetric.objects.create(
        video=video,
        name=name,
        version=spec.version,
        definition=definition.digest,
        model_hash=model_hash,
        settings=settings or {},
        status=status,
        value=value if status == "computed" else None,
        details=details or {},
        note=note,
    )
