from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from generation.media import probe_video
from tests.factories import make_video

pytestmark = pytest.mark.django_db


def test_it_encodes_h264_yuv420p_with_a_poster_and_records_the_shape():
    video = make_video(frames=10, size=64)
    path = Path(settings.MEDIA_ROOT) / video.file.name
    info = probe_video(path)
    assert (info.codec, info.width, info.height, info.num_frames) == ("h264", 64, 64, 10)
    assert (video.width, video.height, video.num_frames, video.fps) == (64, 64, 10, 8.0)
    assert video.duration == pytest.approx(1.25, abs=0.01)
    assert len(video.sha256) == 64
    assert (Path(settings.MEDIA_ROOT) / video.poster.name).is_file()


def test_stored_names_are_opaque():
    video = make_video(seed=4242)
    for name in (video.file.name, video.poster.name):
        assert "4242" not in name
        assert video.method.name not in name
        assert video.identity.slug not in name
