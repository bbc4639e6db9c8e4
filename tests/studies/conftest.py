"""A small catalog for studies: ours, baselines, people and prompts, and helpers to take part."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from generation import services as catalog_services
from generation.models import Identity, Method, Prompt, Reference, Story, Video
from studies import services
from studies.models import Participant, Study
from tests.factories import (
    IdentityFactory,
    MethodFactory,
    PromptFactory,
    make_story,
    make_story_rendering,
    make_video,
)


@dataclass
class Catalog:
    ours: Method
    baselines: list[Method]
    identities: list[Identity]
    prompts: list[Prompt]


def fake_video(*, method: Method, identity: Identity, prompt: Prompt, seed: int = 0) -> Video:
    """A video row without a media file: plans and results never open the file."""
    return Video.objects.create(
        method=method, identity=identity, prompt=prompt, seed=seed, file=f"fake/{uuid.uuid4().hex}.mp4",
        sha256=uuid.uuid4().hex * 2, bytes=1, width=16, height=16, num_frames=2, fps=8, duration=0.25,
        codec="h264",
    )  # fmt: skip


def primary_reference(identity: Identity, tmp_dir: Path) -> Reference:
    path = tmp_dir / f"{identity.slug}.png"
    Image.new("RGB", (32, 32), (identity.pk * 40 % 256, 120, 160)).save(path)
    return catalog_services.reference_create(
        identity=identity, kind=Reference.Kind.PORTRAIT, source=path, is_primary=True
    )


def build_catalog(
    *,
    baselines: int = 3,
    identities: int = 3,
    prompts: int = 4,
    seeds: tuple[int, ...] = (0,),
    real_media: Path | None = None,
) -> Catalog:
    """Every method has a video of every (identity, prompt, seed). Even-numbered prompts are differential
    prompts that leave hairstyle and clothing out (element consistency applies), odd ones full prompts.

    With ``real_media`` (a folder) the videos are real MP4s and each identity has a primary reference.
    """
    ours = MethodFactory(role=Method.Role.OURS)
    baseline_rows = [MethodFactory() for _ in range(baselines)]
    identity_rows = [IdentityFactory() for _ in range(identities)]
    prompt_rows = [
        PromptFactory()
        if k % 2 == 0
        else PromptFactory(task=Prompt.Task.FULL, omitted_aspects=[], differential_text="")
        for k in range(prompts)
    ]
    for identity in identity_rows:
        if real_media is not None:
            primary_reference(identity, real_media)
        for prompt in prompt_rows:
            for method in [ours, *baseline_rows]:
                for seed in seeds:
                    if real_media is not None:
                        make_video(
                            method=method, identity=identity, prompt=prompt, seed=seed, frames=4, size=32
                        )
                    else:
                        fake_video(method=method, identity=identity, prompt=prompt, seed=seed)
    return Catalog(ours=ours, baselines=baseline_rows, identities=identity_rows, prompts=prompt_rows)


@dataclass
class StoryCatalog:
    ours: Method
    baselines: list[Method]
    stories: list[Story]


def build_story_catalog(
    *, baselines: int = 2, stories: int = 2, shots: int = 3, seeds: tuple[int, ...] = (0,), references: Path
) -> StoryCatalog:
    """Every method has a rendering of every story for each seed (real MP4s); each story's person has a
    primary reference (front) and a back view."""
    ours = MethodFactory(role=Method.Role.OURS)
    baseline_rows = [MethodFactory() for _ in range(baselines)]
    story_rows = []
    for _ in range(stories):
        identity = IdentityFactory()
        Reference.objects.filter(pk=primary_reference(identity, references).pk).update(viewpoint="front")
        path = references / f"{identity.slug}-back.png"
        Image.new("RGB", (32, 32), (30, identity.pk * 50 % 256, 90)).save(path)
        back = catalog_services.reference_create(
            identity=identity, kind=Reference.Kind.FULL_BODY, source=path
        )
        Reference.objects.filter(pk=back.pk).update(viewpoint="back")
        story = make_story(identity, shots=shots)
        for method in [ours, *baseline_rows]:
            for seed in seeds:
                make_story_rendering(story, method, seed=seed, frames=4)
        story_rows.append(story)
    return StoryCatalog(ours=ours, baselines=baseline_rows, stories=story_rows)


def make_study(
    catalog: Catalog | StoryCatalog, *, status: str = Study.Status.OPEN, **options: object
) -> Study:
    options.setdefault("matchups_per_participant", 12)
    # Tests of the watch rule set it; the others are about answers, given straight away.
    options.setdefault("min_watch_fraction", 0.0)
    # Likewise the quality checks: tests of gold and repeated matchups turn them on.
    options.setdefault("gold_matchups_per_participant", 0)
    options.setdefault("repeat_matchups_per_participant", 0)
    if isinstance(catalog, StoryCatalog):
        options.setdefault("preset", "narrative")
        options.setdefault("stories", catalog.stories)
    else:
        options.setdefault("identities", catalog.identities)
        options.setdefault("prompts", catalog.prompts)
    options.setdefault("baselines", catalog.baselines)
    study = services.study_create(
        name=options.pop("name", "A study"),  # type: ignore[arg-type]
        ours=catalog.ours,
        **options,  # type: ignore[arg-type]
    )
    if status != Study.Status.DRAFT:
        study = services.study_status_set(study=study, status=Study.Status.OPEN)
    if status == Study.Status.CLOSED:
        study = services.study_status_set(study=study, status=Study.Status.CLOSED)
    return study


def take_part(study: Study, *, seed: int = 0, crowd: dict[str, str] | None = None) -> Participant:
    """Join and consent: the participant has a plan."""
    participant = services.participant_join(study=study, crowd_params=crowd)
    return services.participant_consent(participant=participant, confirmed=True, rng=random.Random(seed))


def answer_all(participant: Participant, *, pick: int = 0, elapsed_ms: int = 5000) -> None:
    """Answer every question of every matchup with the same display position, then finish."""
    for matchup in participant.matchups.order_by("position"):
        criteria = [
            q.criterion
            for q in participant.study.questions.all()
            if matchup.asks_element_consistency or not q.is_element_consistency
        ]
        services.answers_save(
            participant=participant,
            matchup_id=matchup.pk,
            picks=dict.fromkeys(criteria, pick),
            elapsed_ms=elapsed_ms,
        )
    services.participant_finish(participant=participant)


@pytest.fixture
def catalog(db: None) -> Catalog:
    return build_catalog()
