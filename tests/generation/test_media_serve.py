from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from tests.factories import IdentityFactory, MethodFactory, PromptFactory, make_video

pytestmark = pytest.mark.django_db


@pytest.fixture
def video():
    return make_video(
        method=MethodFactory(name="secret-method"),
        identity=IdentityFactory(slug="jane-identity"),
        prompt=PromptFactory(slug="beach-prompt"),
        seed=987654,
        frames=16,
    )


def _file_bytes(video) -> bytes:
    return (Path(settings.MEDIA_ROOT) / video.file.name).read_bytes()


def test_the_media_url_reveals_no_method_identity_or_seed(video):
    url = reverse("media", args=[video.file.name])
    for secret in ("secret-method", "jane", "beach", "987654", str(video.pk)):
        assert secret not in url
    assert re.fullmatch(r"/media/m/[\w-]{2}/[\w-]{24}\.mp4", url)


def test_a_study_admin_gets_the_whole_file(admin_client, video):
    response = admin_client.get(reverse("media", args=[video.file.name]))
    assert response.status_code == 200
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Type"] == "video/mp4"
    assert b"".join(response.streaming_content) == _file_bytes(video)


def test_a_range_request_gets_206_with_exactly_those_bytes(admin_client, video):
    response = admin_client.get(reverse("media", args=[video.file.name]), HTTP_RANGE="bytes=100-199")
    assert response.status_code == 206
    body = b"".join(response.streaming_content)
    assert body == _file_bytes(video)[100:200]
    assert response["Content-Length"] == "100"
    assert response["Content-Range"] == f"bytes 100-199/{video.bytes}"


def test_a_suffix_range_gets_the_last_bytes(admin_client, video):
    response = admin_client.get(reverse("media", args=[video.file.name]), HTTP_RANGE="bytes=-50")
    assert response.status_code == 206
    assert b"".join(response.streaming_content) == _file_bytes(video)[-50:]


def test_an_unsatisfiable_range_gets_416(admin_client, video):
    response = admin_client.get(reverse("media", args=[video.file.name]), HTTP_RANGE=f"bytes={video.bytes}-")
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{video.bytes}"


def test_an_anonymous_visitor_gets_404(client, video):
    assert client.get(reverse("media", args=[video.file.name])).status_code == 404


def test_a_signed_in_outsider_gets_404_for_video_and_poster(outsider_client, video):
    assert outsider_client.get(reverse("media", args=[video.file.name])).status_code == 404
    assert outsider_client.get(reverse("media", args=[video.poster.name])).status_code == 404


def test_an_unknown_name_gets_404(admin_client):
    assert admin_client.get("/media/m/xx/does-not-exist.mp4").status_code == 404


def test_a_path_outside_the_media_folder_gets_404(admin_client):
    assert admin_client.get("/media/../config/settings.py").status_code == 404
    assert admin_client.get("/media/%2e%2e/config/settings.py").status_code == 404


def test_behind_nginx_the_file_is_handed_over_with_x_accel_redirect(admin_client, video, settings):
    settings.MEDIA_ACCEL_REDIRECT_PREFIX = "/protected-media/"
    response = admin_client.get(reverse("media", args=[video.file.name]))
    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == f"/protected-media/{video.file.name}"
    assert response.content == b""


def test_a_nul_byte_in_the_media_name_is_not_found(client):
    assert client.get("/media/%00").status_code == 404
    assert client.get("/media/m/ab/x%00y.mp4").status_code == 404
