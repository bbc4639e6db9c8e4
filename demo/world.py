"""The synthetic demo world: cartoon people, seven-aspect prompts, three methods and their videos.

No real person appears anywhere: every face is drawn by :mod:`demo.procedural` from the parameters
below. Seeding is idempotent: identities, prompts and methods are found by slug or name, a reference is
made once per gallery position, and a video once per (method, identity, prompt, seed).
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import tempfile
import time
import zlib
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.pool import AsyncResult
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from django.contrib.auth.models import Group, User

from demo import procedural
from demo.procedural import Accessory, CartoonLook, ReferenceView
from generation import media, services
from generation.metrics.compute import metric_definitions
from generation.models import (
    ASPECTS,
    GenerationJob,
    Identity,
    Method,
    MetricRun,
    Prompt,
    Reference,
    Story,
    StoryRendering,
    StoryShot,
    Video,
)
from generation.selectors import videos_lacking_metrics
from generation.services.jobs import generation_job_create, generation_render
from lib.roles import ANNOTATORS_GROUP, ML_TEAM_GROUP

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

# Tuned on two CPU cores, where encoding and posters in the one database process set the pace: 256 px and
# 48 frames took about 40 s; 224 px and 40 frames (2.5 s clips) about 27 s.
DEFAULT_SIZE = 224
DEFAULT_FRAMES = 40
CONSENT_NOTE = "Synthetic cartoon drawn by the procedural demo generator; no real person is depicted."


@dataclass(frozen=True)
class DemoIdentity:
    slug: str
    name: str
    subject: str  # "man" or "woman"
    look: CartoonLook
    description: str


@dataclass(frozen=True)
class DemoReference:
    kind: str
    view: ReferenceView | None  # None for the clip
    note: str
    is_primary: bool = False
    viewpoint: str = Reference.Viewpoint.UNKNOWN
    in_three_view: bool = False


@dataclass(frozen=True)
class DemoPrompt:
    slug: str
    task: str
    aspects: Mapping[str, str]
    omitted: tuple[str, ...] = ()


@dataclass(frozen=True)
class DemoMethod:
    name: str
    role: str
    fidelity: float
    control: float
    description: str


# Alternating women and men, so that ``--identities N`` keeps the mix even.
IDENTITIES: tuple[DemoIdentity, ...] = (
    DemoIdentity(
        slug="mara-quill", name="Mara Quill", subject="woman",
        description="Long auburn hair, green eyes, freckles, pearl earrings, teal top.",
        look=CartoonLook(
            skin=(240, 201, 172), eye_colour=(62, 140, 88),
            hair_colour=(140, 55, 35), clothing_colour=(30, 140, 140),
            face_width=0.94, face_length=1.06, squareness=2.0, chin=0.32, eye_spacing=0.42, nose="button",
            hair_style="long", accessories=(Accessory("earrings", (240, 236, 225)),), marks=("freckles",),
            setting="studio", backdrop=(120, 175, 175),
        ),
    ),
    DemoIdentity(
        slug="tobias-fenn", name="Tobias Fenn", subject="man",
        description="Short black hair, square jaw, full beard, dark-rimmed glasses, navy shirt.",
        look=CartoonLook(
            skin=(206, 152, 112), eye_colour=(95, 60, 35),
            hair_colour=(38, 32, 30), clothing_colour=(40, 55, 105),
            face_width=1.1, face_length=1.0, squareness=2.9, chin=0.1, eye_spacing=0.4, eye_size=0.9,
            brow_weight=1.4, nose="long", hair_style="short",
            accessories=(Accessory("glasses", (35, 30, 30)),), marks=("beard",), setting="office",
        ),
    ),
    DemoIdentity(
        slug="ines-calloway", name="Ines Calloway", subject="woman",
        description="Black afro, deep brown skin, gold hoop earrings, a mole on the cheek, mustard top.",
        look=CartoonLook(
            skin=(122, 78, 52), eye_colour=(72, 45, 30),
            hair_colour=(30, 25, 25), clothing_colour=(215, 170, 40),
            face_width=1.02, face_length=0.95, squareness=2.1, chin=0.22, eye_spacing=0.44, eye_size=1.1,
            nose="wide", hair_style="afro", accessories=(Accessory("hoops", (215, 175, 60)),),
            marks=("mole",),
            setting="studio", backdrop=(205, 150, 115),
        ),
    ),
    DemoIdentity(
        slug="koji-marren", name="Koji Marren", subject="man",
        description="Spiky dark brown hair, long narrow face, small eyes, grey hoodie.",
        look=CartoonLook(
            skin=(234, 198, 152), eye_colour=(48, 36, 30),
            hair_colour=(72, 46, 30), clothing_colour=(120, 125, 132),
            face_width=0.9, face_length=1.12, squareness=2.3, chin=0.38, eye_spacing=0.4, eye_size=0.8,
            nose="button", hair_style="spiky", clothing_style="hoodie", marks=("mole",), setting="park",
        ),
    ),
    DemoIdentity(
        slug="sunniva-holt", name="Sunniva Holt", subject="woman",
        description="Platinum bob with a fringe, pale skin, blue eyes, red turtleneck, gold necklace.",
        look=CartoonLook(
            skin=(248, 222, 206), eye_colour=(70, 120, 205),
            hair_colour=(236, 228, 205), clothing_colour=(190, 40, 50),
            face_width=0.98, face_length=0.98, squareness=2.05, chin=0.3, eye_spacing=0.45, eye_size=1.15,
            nose="button", hair_style="bob", clothing_style="turtleneck",
            accessories=(Accessory("necklace", (215, 175, 60)),), setting="library",
        ),
    ),
    DemoIdentity(
        slug="bram-oduya", name="Bram Oduya", subject="man",
        description="Buzz cut, dark brown skin, broad face, moustache and stubble, green striped shirt.",
        look=CartoonLook(
            skin=(92, 60, 42), eye_colour=(78, 50, 30),
            hair_colour=(25, 22, 22), clothing_colour=(50, 125, 80),
            face_width=1.16, face_length=0.97, squareness=2.5, chin=0.15, eye_spacing=0.43, brow_weight=1.3,
            nose="wide", hair_style="buzz", clothing_style="striped", marks=("stubble", "moustache"),
            setting="city",
        ),
    ),
)  # fmt: skip

# The gallery of one person; the last portrait is only drawn for every other identity (3–5 references).
REFERENCES: tuple[DemoReference, ...] = (
    DemoReference(
        "portrait",
        procedural.PORTRAIT_FRONT,
        "Portrait, front, resting expression",
        is_primary=True,
        viewpoint="front",
    ),
    DemoReference("face", procedural.FACE_CROP, "Face crop, front", viewpoint="front"),
    DemoReference(
        "portrait",
        procedural.PORTRAIT_LEFT_SMILE,
        "Portrait, turned left, smiling",
        viewpoint="three_quarter_left",
    ),
    DemoReference("video", None, "Clip, about 2 s, turning the head"),
    DemoReference(
        "portrait",
        procedural.PORTRAIT_RIGHT_SURPRISE,
        "Portrait, turned right, surprised",
        viewpoint="three_quarter_right",
    ),
)
# The canonical three-view set (front, side, back, the whole figure), drawn for the first identity only:
# the demo's digital actor of the narrative track and study.
THREE_VIEW: tuple[DemoReference, ...] = (
    DemoReference(
        "full_body", procedural.FULL_FRONT, "Full figure, front", viewpoint="front", in_three_view=True
    ),
    DemoReference(
        "full_body",
        procedural.FULL_SIDE,
        "Full figure, side",
        viewpoint="three_quarter_left",
        in_three_view=True,
    ),
    DemoReference(
        "full_body", procedural.FULL_BACK, "Full figure, back", viewpoint="back", in_three_view=True
    ),
)


def _prompt(slug: str, task: str, omitted: tuple[str, ...] = (), **aspects: str) -> DemoPrompt:
    return DemoPrompt(slug=slug, task=task, aspects=aspects, omitted=omitted)


DIFF, FULL = Prompt.Task.DIFFERENTIAL.value, Prompt.Task.FULL.value
# A full prompt sits second so that a small ``--prompts`` run still covers both tasks.
PROMPTS: tuple[DemoPrompt, ...] = (
    _prompt(
        "beach-wave", DIFF, ("hairstyle", "clothing"),
        shot="medium close-up, the camera slowly zooms in", hairstyle="short spiky blue hair",
        clothing="a white t-shirt", accessories="round sunglasses", expression="smiling broadly",
        action="waves at the camera", setting="on a sunny beach in bright midday light",
    ),
    _prompt(
        "studio-makeover", FULL,
        shot="close-up, the camera slowly zooms in", hairstyle="a platinum blonde bob",
        clothing="a black turtleneck", accessories="round glasses", expression="smiling",
        action="turns the head slowly", setting="in a photo studio in front of a plain backdrop, soft light",
    ),
    _prompt(
        "neon-night", DIFF, ("accessories",),
        shot="close-up, static camera", hairstyle="pink hair tied up in a bun", clothing="a black jacket",
        accessories="a silver necklace", expression="looks surprised", action="turns to look to the side",
        setting="on a city street at night under neon lights",
    ),
    _prompt(
        "forest-nod", DIFF, ("hairstyle",),
        shot="medium shot, the camera pans right", hairstyle="long wavy brown hair",
        clothing="a green knitted sweater", accessories="a red scarf", expression="a calm, gentle smile",
        action="nods slowly", setting="in a forest with soft light",
    ),
    _prompt(
        "office-talk", DIFF, ("hairstyle", "accessories"),
        shot="medium close-up, static camera", hairstyle="neatly combed short black hair",
        clothing="a navy suit with a white shirt", accessories="thin-rimmed glasses",
        expression="serious and composed", action="speaks to the camera", setting="in a bright modern office",
    ),
    _prompt(
        "snow-laugh", DIFF, ("clothing",),
        shot="the camera slowly pulls back from a close-up", hairstyle="blonde hair in a ponytail",
        clothing="a cream wool sweater", accessories="a yellow beanie", expression="laughing",
        action="shakes the head playfully", setting="outside on a snowy winter day, cool light",
    ),
    _prompt(
        "sunset-glow", DIFF, ("clothing", "accessories"),
        shot="close-up, the camera slowly zooms in", hairstyle="curly ginger hair",
        clothing="an orange linen shirt", accessories="gold hoop earrings", expression="a dreamy smile",
        action="turns to look at the sunset", setting="at the seaside at sunset, warm golden light",
    ),
    _prompt(
        "library-surprise", DIFF, ("hairstyle", "clothing", "accessories"),
        shot="static medium close-up", hairstyle="a short bob", clothing="a brown cardigan",
        accessories="reading glasses", expression="looks surprised", action="nods",
        setting="in a quiet library, dim warm light",
    ),
    _prompt(
        "cafe-wave", DIFF, ("accessories",),
        shot="medium shot, static camera", hairstyle="purple hair in a short cut",
        clothing="a red striped top", accessories="large headphones", expression="a big grin",
        action="waves hello", setting="in a cosy cafe with warm string lights",
    ),
    _prompt(
        "park-full", FULL,
        shot="medium shot, the camera pans left", hairstyle="a big dark brown afro",
        clothing="a yellow hoodie",
        accessories="a blue baseball cap", expression="laughing", action="waves at a friend",
        setting="in a sunny park",
    ),
)  # fmt: skip


@dataclass(frozen=True)
class DemoStory:
    slug: str
    identity: str  # a DemoIdentity's slug
    title: str
    shots: tuple[DemoPrompt, ...]


# Two three-shot storylines for the demo's digital actor (the identity with the three-view set): the person
# stays the same while the setting, the action and the camera change from shot to shot.
STORIES: tuple[DemoStory, ...] = (
    DemoStory(
        "park-to-cafe", "mara-quill", "A morning in the park, then coffee",
        (
            _prompt("park-to-cafe-1", FULL, shot="medium shot, static camera", expression="smiling",
                    action="waves at a friend", setting="in a sunny park"),
            _prompt("park-to-cafe-2", FULL, shot="medium shot, the camera pans left",
                    expression="looks surprised", action="turns to look to the side",
                    setting="in a sunny park"),
            _prompt("park-to-cafe-3", FULL, shot="medium close-up, static camera",
                    expression="a calm, gentle smile", action="nods slowly",
                    setting="in a cosy cafe with warm string lights"),
        ),
    ),
    DemoStory(
        "neon-to-sunset", "mara-quill", "A night in the city, then the seaside at dusk",
        (
            _prompt("neon-to-sunset-1", FULL, shot="close-up, static camera",
                    expression="serious and composed", action="turns the head slowly",
                    setting="on a city street at night under neon lights"),
            _prompt("neon-to-sunset-2", FULL, shot="the camera slowly pulls back from a close-up",
                    expression="laughing", action="shakes the head playfully",
                    setting="on a city street at night under neon lights"),
            _prompt("neon-to-sunset-3", FULL, shot="close-up, the camera slowly zooms in",
                    expression="a dreamy smile", action="turns to look at the sunset",
                    setting="at the seaside at sunset, warm golden light"),
        ),
    ),
)  # fmt: skip

METHODS: tuple[DemoMethod, ...] = (
    DemoMethod(
        "ours", Method.Role.OURS, 0.95, 0.9, "The studied method: keeps the person, follows the prompt."
    ),
    DemoMethod("baseline-drift", Method.Role.BASELINE, 0.5, 0.85, "Follows the prompt, but the face drifts."),
    DemoMethod(
        "baseline-rigid", Method.Role.BASELINE, 0.9, 0.3, "Keeps the person, mostly ignores the prompt."
    ),
)

DEMO_USERS = (
    # (username, password, superuser, group)
    ("admin", "admin", True, None),
    ("annotator", "annotator", False, ANNOTATORS_GROUP),
    ("mlteam", "mlteam", False, ML_TEAM_GROUP),
)

# Sentence templates for each aspect, in the order prompts are written.
_TEMPLATES = {
    "shot": "{}.", "hairstyle": "{}.", "clothing": "Wearing {}.", "accessories": "With {}.",
    "expression": "{}.", "action": "{}.", "setting": "{}.",
}  # fmt: skip


def prompt_text(aspects: Mapping[str, str], *, omit: Sequence[str] = ()) -> str:
    """The prompt read aloud: one short sentence per aspect, in the seven-aspect order."""
    sentences = []
    for name in ASPECTS:
        text = aspects.get(name, "").strip()
        if text and name not in omit:
            sentence = _TEMPLATES[name].format(text)
            sentences.append(sentence[0].upper() + sentence[1:])
    return " ".join(sentences)


@dataclass
class DemoSummary:
    identities: int = 0
    references: int = 0
    prompts: int = 0
    stories: int = 0
    methods: int = 0
    videos: int = 0
    videos_skipped: int = 0
    users: int = 0
    seconds: float = 0.0

    def __str__(self) -> str:
        return (
            f"{self.identities} identities, {self.references} references, {self.prompts} prompts, "
            f"{self.stories} stories, {self.methods} methods, {self.videos} videos created "
            f"({self.videos_skipped} already there), "
            f"{self.users} users created, in {self.seconds:.1f} s"
        )


def _say(stdout: SupportsWrite[str] | None, message: str) -> None:
    if stdout is not None:
        stdout.write(message + "\n")


def demo_users_create() -> int:
    """The demo logins; existing accounts are left exactly as they are (a changed password stays)."""
    created = 0
    for username, password, superuser, group_name in DEMO_USERS:
        user, made = User.objects.get_or_create(
            username=username, defaults={"is_staff": superuser, "is_superuser": superuser}
        )
        if not made:
            continue
        user.set_password(password)
        user.save(update_fields=["password"])
        if group_name:
            user.groups.add(Group.objects.get_or_create(name=group_name)[0])
        created += 1
    return created


def _identity_rows(
    chosen: Sequence[DemoIdentity], *, size: int, fps: int, summary: DemoSummary
) -> list[Identity]:
    rows = []
    for index, spec in enumerate(chosen):
        identity, made = Identity.objects.get_or_create(
            slug=spec.slug,
            defaults={"name": spec.name, "description": spec.description, "consent_note": CONSENT_NOTE},
        )
        summary.identities += made
        references = REFERENCES if index % 2 == 0 else REFERENCES[:4]
        # Gallery positions: the three-view set after the longest gallery (its positions never move).
        placed = list(enumerate(references))
        if index == 0:
            placed += list(enumerate(THREE_VIEW, start=len(REFERENCES)))
        for position, reference in placed:
            if identity.references.filter(position=position).exists():
                continue
            drawn = _reference_make(identity, spec, reference, position=position, size=size, fps=fps)
            Reference.objects.filter(pk=drawn.pk).update(
                viewpoint=reference.viewpoint, in_three_view=reference.in_three_view
            )
            summary.references += 1
        rows.append(identity)
    return rows


def _reference_make(
    identity: Identity, spec: DemoIdentity, reference: DemoReference, *, position: int, size: int, fps: int
) -> Reference:
    # Drawn into a scratch folder, then stored through the catalog service like any upload.
    with tempfile.TemporaryDirectory(prefix="seed-demo-") as scratch:
        if reference.view is None:
            frames = procedural.render_reference_clip(
                spec.look, seed=_stable_seed(spec.slug), size=size, num_frames=2 * fps, fps=fps
            )
            # The clip is encoded by the media module; the service then stores its own copy.
            encoded = media.encode_mp4(frames, fps=fps)
            try:
                return services.reference_create(
                    identity=identity,
                    kind=reference.kind,
                    source=media.media_path(encoded),
                    is_primary=reference.is_primary,
                    position=position,
                    note=reference.note,
                )
            finally:
                media.delete_stored([encoded])
        # Stills are sharper than the videos: a gallery shows them larger.
        large = reference.kind in (Reference.Kind.PORTRAIT, Reference.Kind.FULL_BODY)
        still_size = min(512, size * 2) if large else size
        source = Path(scratch) / "reference.png"
        procedural.render_reference_image(spec.look, reference.view, still_size).save(source)
        return services.reference_create(
            identity=identity,
            kind=reference.kind,
            source=source,
            is_primary=reference.is_primary,
            position=position,
            note=reference.note,
        )


def _prompt_rows(chosen: Sequence[DemoPrompt], summary: DemoSummary) -> list[Prompt]:
    rows = []
    for spec in chosen:
        fields = {name: spec.aspects.get(name, "") for name in ASPECTS}
        prompt, made = Prompt.objects.get_or_create(
            slug=spec.slug,
            defaults={
                "task": spec.task,
                **fields,
                "full_text": prompt_text(spec.aspects),
                "differential_text": prompt_text(spec.aspects, omit=spec.omitted),
                "omitted_aspects": list(spec.omitted),
            },
        )
        summary.prompts += made
        rows.append(prompt)
    return rows


def _story_rows(identity_rows: Sequence[Identity], summary: DemoSummary) -> list[Story]:
    """The demo's stories whose identity is in the world, with their shot prompts (full prompts)."""
    identities = {identity.slug: identity for identity in identity_rows}
    rows = []
    for spec in STORIES:
        if spec.identity not in identities:
            continue
        prompts = _prompt_rows(spec.shots, summary)
        story, made = Story.objects.get_or_create(
            slug=spec.slug, defaults={"identity": identities[spec.identity], "title": spec.title}
        )
        if made:
            StoryShot.objects.bulk_create(
                StoryShot(story=story, position=position, prompt=prompt)
                for position, prompt in enumerate(prompts, start=1)
            )
            summary.stories += 1
        rows.append(story)
    return rows


def _method_rows(summary: DemoSummary) -> list[Method]:
    rows = []
    for spec in METHODS:
        method, made = Method.objects.get_or_create(
            name=spec.name,
            defaults={
                "role": spec.role,
                "backend": Method.Backend.PROCEDURAL,
                "description": spec.description,
                "revision": "procedural-cartoon-v1",
                "settings": {"fidelity": spec.fidelity, "control": spec.control},
            },
        )
        summary.methods += made
        rows.append(method)
    return rows


def _stable_seed(*parts: object) -> int:
    return zlib.crc32("/".join(str(part) for part in parts).encode())


@dataclass(frozen=True)
class _Job:
    method_id: int
    identity_id: int
    prompt_id: int
    seed: int
    look: CartoonLook
    aspects: dict[str, str]
    settings: dict[str, Any]


def _render(job: _Job) -> np.ndarray:
    s = job.settings
    # One stacked array crosses the process boundary faster than a list of frames.
    frames = procedural.render_frames(
        look=job.look,
        aspects=job.aspects,
        seed=s["render_seed"],
        width=s["width"],
        height=s["height"],
        num_frames=s["num_frames"],
        fps=s["fps"],
        fidelity=s["fidelity"],
        control=s["control"],
    )
    return np.stack(frames)


def _rendered(jobs: Sequence[_Job], workers: int) -> Iterator[tuple[_Job, np.ndarray]]:
    """Frames for each job, in order. Rendering may run in worker processes; they never touch the database."""
    if workers <= 1 or len(jobs) < 4:
        for job in jobs:
            yield job, _render(job)
        return
    # fork: the workers need the rendering code only, and start at once without re-importing Django.
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        # A bounded window: Pool.imap would render every clip ahead of the encoder and hold all in memory.
        pending: deque[AsyncResult[np.ndarray]] = deque()
        queued = iter(jobs)
        for job in itertools.islice(queued, 2 * workers):
            pending.append(pool.apply_async(_render, (job,)))
        for job in jobs:
            frames = pending.popleft().get()
            following = next(queued, None)
            if following is not None:
                pending.append(pool.apply_async(_render, (following,)))
            yield job, frames


def _jobs(
    identities: Sequence[tuple[Identity, DemoIdentity]],
    prompts: Sequence[Prompt],
    methods: Sequence[Method],
    seeds: Sequence[int],
    shape: dict[str, int],
    summary: DemoSummary,
) -> list[_Job]:
    """One job per (method, identity, prompt, seed) that has no video yet."""
    existing = set(
        Video.objects.filter(
            identity__in=[row for row, _ in identities], prompt__in=prompts, method__in=methods
        ).values_list("method_id", "identity_id", "prompt_id", "seed")
    )
    jobs = []
    for identity, spec in identities:
        for prompt in prompts:
            aspects = prompt.aspects()
            for method in methods:
                for seed in seeds:
                    if (method.id, identity.id, prompt.id, seed) in existing:
                        summary.videos_skipped += 1
                        continue
                    settings = {
                        "backend": Method.Backend.PROCEDURAL.value,
                        "fidelity": float(method.settings.get("fidelity", 1.0)),
                        "control": float(method.settings.get("control", 1.0)),
                        **shape,
                        "seed": seed,
                        # The drawing seed mixes in the case, so that cases do not share one drift or blink.
                        "render_seed": _stable_seed(method.name, identity.slug, prompt.slug, seed),
                    }
                    jobs.append(_Job(method.id, identity.id, prompt.id, seed, spec.look, aspects, settings))
    return jobs


def seed_demo_world(
    *,
    seed: int = 0,
    identities: int | None = None,
    prompts: int | None = None,
    seeds_per_case: int = 1,
    size: int = DEFAULT_SIZE,
    num_frames: int = DEFAULT_FRAMES,
    fps: int = 16,
    workers: int | None = None,
    stdout: SupportsWrite[str] | None = None,
) -> DemoSummary:
    """Create (or complete) the demo world and return what was created this time.

    ``seed`` is the first video seed; each case gets ``seeds_per_case`` consecutive seeds. Running again
    creates only what is missing, so an interrupted run can simply be repeated. Frames may be drawn in
    ``workers`` processes (default: the CPUs, at most 4); every database write stays in this process.
    """
    if size % 2 or size < 16:
        raise ValueError(f"size must be an even number of pixels, at least 16 (got {size})")
    if num_frames < 1 or seeds_per_case < 1 or fps < 1:
        raise ValueError("num_frames, fps and seeds_per_case must be at least 1")
    started = time.monotonic()
    summary = DemoSummary(users=demo_users_create())
    identity_specs = IDENTITIES[:identities]
    identity_rows = _identity_rows(identity_specs, size=size, fps=fps, summary=summary)
    prompt_rows = _prompt_rows(PROMPTS[:prompts], summary)
    method_rows = _method_rows(summary)
    story_rows = _story_rows(identity_rows, summary)
    counts = (
        f"{len(identity_rows)} identities, {len(prompt_rows)} prompts, {len(story_rows)} stories, "
        f"{len(method_rows)} methods"
    )
    _say(stdout, f"Catalog ready: {counts}.")

    shape = {"width": size, "height": size, "num_frames": num_frames, "fps": fps}
    seeds = range(seed, seed + seeds_per_case)
    pairs = list(zip(identity_rows, identity_specs, strict=True))
    jobs = _jobs(pairs, prompt_rows, method_rows, seeds, shape, summary)
    method_of = {m.id: m for m in method_rows}
    identity_of = {i.id: i for i in identity_rows}
    prompt_of = {p.id: p for p in prompt_rows}
    workers = workers if workers is not None else min(4, os.cpu_count() or 1)
    for done, (job, frames) in enumerate(_rendered(jobs, workers), start=1):
        services.video_create_from_frames(
            method=method_of[job.method_id],
            identity=identity_of[job.identity_id],
            prompt=prompt_of[job.prompt_id],
            seed=job.seed,
            frames=frames,
            fps=fps,
            settings=job.settings,
        )
        summary.videos += 1
        if done % 30 == 0 or done == len(jobs):
            _say(stdout, f"  {done}/{len(jobs)} videos")
    summary.seconds = time.monotonic() - started
    return summary


# The demo's story renderings: "ours" continues each shot from the last (with the references), a baseline
# renders each shot on its own; one seed, the size and length of the demo's clips.
STORY_RENDERINGS: tuple[tuple[str, str], ...] = (
    ("ours", StoryRendering.Mode.AUTOREGRESSIVE),
    ("baseline-drift", StoryRendering.Mode.INDEPENDENT),
)


def seed_demo_story_renderings(
    *, seed: int = 0, size: int = DEFAULT_SIZE, num_frames: int = DEFAULT_FRAMES, fps: int = 16
) -> int:
    """Render every demo story with the methods of STORY_RENDERINGS (once), in this process, through the
    generation jobs the ML team launches; returns how many renderings were made this time."""
    methods = {
        method.name: method for method in Method.objects.filter(name__in=[m for m, _ in STORY_RENDERINGS])
    }
    shape = {"width": size, "height": size, "num_frames": num_frames, "fps": fps}
    made = 0
    for story in Story.objects.filter(slug__in=[spec.slug for spec in STORIES]).order_by("slug"):
        for name, mode in STORY_RENDERINGS:
            method = methods.get(name)
            if (
                method is None
                or StoryRendering.objects.filter(story=story, method=method, seed=seed).exists()
            ):
                continue
            job = generation_job_create(
                method=method,
                stories=[story],
                story_mode=mode,
                seeds=[seed],
                settings_overrides=shape,
                queue=False,
            )
            generation_render(item_ids=list(job.items.values_list("pk", flat=True)))
            job.refresh_from_db()
            if job.status != GenerationJob.Status.DONE:
                raise RuntimeError(
                    f"the demo story {story.slug} could not be rendered by {name}: {job.error}"
                )
            made += 1
    return made


def seed_demo_metric_run() -> MetricRun | None:
    """Queue, as a catalog run, the metrics of every demo video that lacks them: `make demo`'s worker
    computes them in the background. None when every video has its metrics already (a second run)."""
    digests = [definition.digest for definition in metric_definitions().values()]
    if not videos_lacking_metrics(digests=digests).exists():
        return None
    return services.metric_run_create(created_by=None)
