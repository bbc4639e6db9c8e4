from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from generation.metrics.compute import ReferenceMedia
from tests.generation.metrics.media import astronaut, face_video, grace_hopper, texture


@pytest.fixture(scope="session")
def media_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("metrics-media")


@pytest.fixture(scope="session")
def astronaut_video(media_folder: Path) -> Path:
    return face_video(media_folder / "astronaut.mp4")


@pytest.fixture(scope="session")
def astronaut_references(media_folder: Path) -> list[ReferenceMedia]:
    """The photograph as PNG and mirrored as JPEG: two references of the person in the video."""
    image = Image.fromarray(astronaut())
    image.save(media_folder / "astronaut.png")
    image.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(media_folder / "astronaut-mirrored.jpg", quality=85)
    return [
        ReferenceMedia(path=media_folder / "astronaut.png", is_clip=False, viewpoint="unknown"),
        ReferenceMedia(path=media_folder / "astronaut-mirrored.jpg", is_clip=False, viewpoint="unknown"),
    ]


@pytest.fixture(scope="session")
def grace_hopper_reference(media_folder: Path) -> ReferenceMedia:
    Image.fromarray(grace_hopper()).save(media_folder / "grace-hopper.png")
    return ReferenceMedia(path=media_folder / "grace-hopper.png", is_clip=False, viewpoint="unknown")


@pytest.fixture(scope="session")
def faceless_reference(media_folder: Path) -> ReferenceMedia:
    Image.fromarray(texture(256, 256, seed=3)).save(media_folder / "texture.png")
    return ReferenceMedia(path=media_folder / "texture.png", is_clip=False, viewpoint="front")
