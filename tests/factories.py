"""factory_boy factories for the catalog. Media-bearing rows go through the real services."""

from __future__ import annotations

import itertools

import factory
import numpy as np

from generation import services
from generation.models import Identity, Method, Prompt, Story, StoryRendering, StoryShot, Video


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


def make_story(identity: Identity | None = None, shots: int = 3) -> Story:
    """A story of ``identity`` (a new one by default) with ``shots`` shot prompts, in order."""
    identity = identity or IdentityFactory()
    story = Story.objects.create(
        slug=f"story-{next(_distinct_shades)}", identity=identity, title=f"A day of {identity.name}"
    )
    for position, action in enumerate(STORY_ACTIONS[:shots], start=1):
        prompt = PromptFactory(
            action=action, full_text=f"A person {action}.", differential_text=f"The person {action}."
        )
        StoryShot.objects.create(story=story, position=position, prompt=prompt)
    return story


def make_story_rendering(
    story: Story, method: Method, *, seed: int = 0, shade: int = 0, frames: int = 4, size: int = 32
) -> StoryRendering:
    """A rendering of ``story`` by ``method``: one video per shot (its position set) and the joined file
    that plays the shots one after the other (no shot; the first shot's prompt), with ``shot_starts``."""
    fps = 8
    prompts = story.shot_prompts()
    rendering = StoryRendering.objects.create(
        story=story, method=method, seed=seed, shot_starts=[k * frames / fps for k in range(len(prompts))]
    )
    base = next(_distinct_shades) * 37 + shade + seed
    joined: list[np.ndarray] = []
    for position, prompt in enumerate(prompts, start=1):
        shot = gradient_frames(count=frames, size=size, shade=base + 40 * position)
        joined += shot
        video = services.video_create_from_frames(
            method=method, identity=story.identity, prompt=prompt, seed=seed, frames=shot, fps=fps,
            settings={"source": "test", "story": story.slug, "shot": position},
        )  # fmt: skip
        Video.objects.filter(pk=video.pk).update(rendering=rendering, shot=position)
    video = services.video_create_from_frames(
        method=method, identity=story.identity, prompt=prompts[0], seed=seed, frames=joined, fps=fps,
        settings={"source": "test", "story": story.slug},
    )  # fmt: skip
    Video.objects.filter(pk=video.pk).update(rendering=rendering)
    return rendering


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
