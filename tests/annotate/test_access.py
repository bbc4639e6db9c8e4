from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from annotate.models import Track
from generation.models import Reference, Video
from tests.annotate.test_views import make_track_with_references
from tests.factories import MethodFactory, make_video

pytestmark = pytest.mark.django_db


@pytest.fixture
def track(annotator) -> Track:
    return make_track_with_references(kind=Track.Kind.IDENTITY_FIDELITY, annotators=[annotator], frames=8)


def media_names(track: Track) -> list[str]:
    """Every file and poster of the track's videos and of its identity's references."""
    comparison = track.comparisons.first()
    videos = Video.objects.filter(identity=comparison.identity)
    references = Reference.objects.filter(identity=comparison.identity)
    names = [name for row in [*videos, *references] for name in (row.file.name, row.poster.name) if name]
    assert len(names) == 3 * 2 + 2 + 2  # three videos with posters, two images, one clip with poster
    return names


def status_of(client: Client, name: str) -> int:
    return client.get(reverse("media", args=[name])).status_code


def test_an_annotator_seated_on_the_track_sees_its_videos_and_references(annotator_client, track):
    for name in media_names(track):
        assert status_of(annotator_client, name) == 200, name


def test_an_outsider_gets_404_for_every_file(outsider_client, track):
    for name in media_names(track):
        assert status_of(outsider_client, name) == 404, name


def test_an_annotator_seated_only_on_another_track_gets_404(client, second_annotator, track):
    make_track_with_references(
        kind=Track.Kind.IDENTITY_FIDELITY, annotators=[second_annotator], frames=8, shade=40
    )
    client.force_login(second_annotator)
    for name in media_names(track):
        assert status_of(client, name) == 404, name


def test_an_anonymous_visitor_gets_404(client, track):
    for name in media_names(track):
        assert status_of(client, name) == 404, name


def test_a_video_of_the_same_person_outside_the_track_stays_hidden(annotator_client, track):
    comparison = track.comparisons.first()
    stray = make_video(
        method=MethodFactory(), identity=comparison.identity, prompt=comparison.prompt, frames=8
    )
    assert status_of(annotator_client, stray.file.name) == 404
    assert status_of(annotator_client, stray.poster.name) == 404


def test_unseating_the_annotator_closes_the_media_again(annotator_client, annotator, track):
    track.seats.filter(user=annotator).delete()
    for name in media_names(track):
        assert status_of(annotator_client, name) == 404, name
