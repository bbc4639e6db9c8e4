"""Imported and uploaded videos are stored re-encoded, so nothing in a served file tells its method."""

from __future__ import annotations

import json
import re
from fractions import Fraction
from pathlib import Path

import av
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from generation.models import Video
from generation.services import catalog_import
from lib.hashing import sha256_file
from tests.factories import IdentityFactory, MethodFactory, PromptFactory, gradient_frames, make_video

pytestmark = pytest.mark.django_db

# What `strings` finds of an encoder: x264's SEI ("x264 - core … options: …"), FFmpeg's muxer and codec tags.
ENCODER_STRINGS = re.compile(rb"(?:x264|Lavf|Lavc|libx264)[ -~]*")


def write_tagged_mp4(path: Path, *, shade: int, title: str = "method-X", **x264: str) -> Path:
    """Eight 64×64 frames encoded unlike the platform does, with tags naming a method."""
    with av.open(str(path), mode="w", format="mp4") as out:
        out.metadata.update({"title": title, "comment": f"rendered by {title}"})
        stream = out.add_stream("libx264", rate=Fraction(8))
        stream.width = stream.height = 64
        stream.pix_fmt = "yuv420p"
        stream.options = x264 or {"crf": "30", "preset": "ultrafast"}
        stream.metadata["handler_name"] = f"{title} handler"
        for array in gradient_frames(count=8, size=64, shade=shade):
            for packet in stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def import_one(folder: Path, *, shade: int = 40) -> tuple[Video, Path]:
    source = write_tagged_mp4(folder / "baseline.mp4", shade=shade)
    manifest = {
        "identities": [
            {
                "slug": "ada",
                "name": "Ada",
                "references": [{"file": "baseline.mp4", "kind": "video", "primary": True}],
            }
        ],
        "prompts": [{"slug": "p1", "task": "full", "full_text": "A woman on a beach."}],
        "methods": [{"name": "method-X", "role": "baseline"}],
        "videos": [{"file": "baseline.mp4", "method": "method-X", "identity": "ada", "prompt": "p1"}],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    catalog_import(manifest_path=folder)
    return Video.objects.get(), source


def served(client, name: str) -> bytes:
    response = client.get(reverse("media", args=[name]))
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def stream_shape(data: bytes, folder: Path) -> tuple[str, str | None, str | None]:
    path = folder / "probe.mp4"
    path.write_bytes(data)
    with av.open(str(path)) as container:
        context = container.streams.video[0].codec_context
        return context.name, context.profile, context.pix_fmt


def test_an_imported_video_is_served_without_the_tags_naming_its_method(admin_client, tmp_path):
    video, source = import_one(tmp_path)
    assert b"method-X" in source.read_bytes()

    body = served(admin_client, video.file.name)

    assert b"method-X" not in body
    assert b"rendered by" not in body
    assert (video.width, video.height, video.num_frames, video.fps) == (64, 64, 8, 8.0)


def test_a_rendered_and_an_imported_video_carry_the_same_encoding_and_encoder_strings(admin_client, tmp_path):
    imported, source = import_one(tmp_path)
    rendered = make_video(frames=8, size=64)
    # The import was made otherwise (crf 30, ultrafast: another profile) and says so in its SEI.
    assert b"crf=30" in source.read_bytes()
    assert (
        stream_shape(source.read_bytes(), tmp_path)[1]
        != stream_shape(served(admin_client, rendered.file.name), tmp_path)[1]
    )

    rendered_body, imported_body = (
        served(admin_client, rendered.file.name),
        served(admin_client, imported.file.name),
    )

    assert ENCODER_STRINGS.findall(imported_body) == ENCODER_STRINGS.findall(rendered_body) == []
    assert stream_shape(imported_body, tmp_path) == stream_shape(rendered_body, tmp_path)
    assert stream_shape(rendered_body, tmp_path)[0::2] == ("h264", "yuv420p")


def test_the_catalog_keeps_the_original_sha256_and_tags(tmp_path):
    video, source = import_one(tmp_path)

    assert video.original_sha256 == sha256_file(source)
    assert video.sha256 == sha256_file(Path(settings.MEDIA_ROOT) / video.file.name)
    assert video.original_metadata["tags"]["title"] == "method-X"
    assert video.original_metadata["streams"][0]["tags"]["handler_name"] == "method-X handler"
    assert video.original_metadata["streams"][0]["codec"] == "h264"


def test_the_django_admin_shows_the_original_sha256_and_tags(admin_user, client, tmp_path):
    video, _ = import_one(tmp_path)
    client.force_login(admin_user)

    page = client.get(reverse("admin:generation_video_change", args=[video.pk])).content.decode()

    assert video.original_sha256 in page
    assert "method-X handler" in page


def stored_files() -> set[Path]:
    # Hidden ".part-" files count too.
    return {path for path in Path(settings.MEDIA_ROOT).rglob("*") if path.is_file()}


def _upload(client, path: Path):
    data = {
        "method": MethodFactory(name="baseline-x").pk,
        "identity": IdentityFactory().pk,
        "prompt": PromptFactory().pk,
        "seed": 5,
        "file": SimpleUploadedFile(path.name, path.read_bytes(), content_type="video/mp4"),
    }
    return client.post(reverse("generation:video_upload"), data)


def test_an_uploaded_video_is_served_without_its_tags(admin_client, tmp_path):
    source = write_tagged_mp4(tmp_path / "upload.mp4", shade=60, title="method-Y")

    assert _upload(admin_client, source).status_code == 302

    video = Video.objects.get()
    assert b"method-Y" not in served(admin_client, video.file.name)
    assert (video.original_sha256, video.original_metadata["tags"]["title"]) == (
        sha256_file(source),
        "method-Y",
    )


def test_the_same_clip_with_other_tags_is_refused_and_nothing_is_stored(admin_client, tmp_path):
    first = write_tagged_mp4(tmp_path / "first.mp4", shade=70, title="method-Y", crf="23", preset="veryfast")
    second = write_tagged_mp4(
        tmp_path / "second.mp4", shade=70, title="method-Z", crf="23", preset="veryfast"
    )
    assert _upload(admin_client, first).status_code == 302
    files = stored_files()

    response = _upload(admin_client, second)

    assert response.status_code == 400
    assert "has the same frames as a video already in the catalog" in response.content.decode()
    assert Video.objects.count() == 1
    assert stored_files() == files
