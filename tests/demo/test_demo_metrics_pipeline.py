"""The demo's cartoon videos through the whole metrics pipeline: detection, embedding, aggregation, storage
and the pages. Cartoons test the plumbing, not identity: dlib's network was trained on photographs and
puts two different cartoon faces within its "same person" distance (metrics-notes.md), so nothing here
says anything about how well the metric tells people apart; the real-face tests are in
tests/generation/metrics."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from generation.models import Video, VideoMetric
from generation.services import video_metrics_compute

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_with_metrics(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command(
        "seed_demo",
        "--identities",
        "1",
        "--prompts",
        "2",
        "--with-votes",
        "--workers",
        "1",
        stdout=StringIO(),
    )
    for video in Video.objects.of_methods().filter(rendering__isnull=True):
        video_metrics_compute(video_id=video.pk)


def test_the_cartoon_faces_are_found_embedded_aggregated_and_stored(demo_with_metrics):
    faces = VideoMetric.objects.filter(name="face_identity", status=VideoMetric.Status.COMPUTED)

    assert faces.exists(), "the HOG detector found no face on any demo video"
    for metric in faces:
        assert metric.details["frames_with_face"] >= 1
        assert 0 < metric.details["face_rate"] <= 1
        assert metric.value == pytest.approx(metric.details["mean"])
        assert metric.details["worst_decile"] >= metric.value - 1e-9
    assert VideoMetric.objects.filter(name="flicker", status=VideoMetric.Status.COMPUTED).count() == (
        Video.objects.of_methods().filter(rendering__isnull=True).count()
    )


def test_the_metrics_and_agreement_pages_show_the_stored_cartoon_values(demo_with_metrics, admin_client):
    overview = admin_client.get("/manage/metrics/").content.decode()
    agreement = admin_client.get("/manage/metrics/agreement/", {"criterion": "identity_fidelity"})

    assert "Face identity" in overview and "ours" in overview
    html = agreement.content.decode()
    assert agreement.status_code == 200 and "data-agreement" in html
    assert 'data-caveat="cartoons"' in html
