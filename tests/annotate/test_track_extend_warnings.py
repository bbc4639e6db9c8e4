from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from annotate.models import Comparison, Track, TrackItem
from annotate.services import track_extend_preview
from generation.models import Video
from tests.factories import MethodFactory, make_track, make_video

pytestmark = pytest.mark.django_db


def _case(track: Track) -> dict:
    comparison = TrackItem.objects.filter(track=track).first().comparison
    return {"identity": comparison.identity, "prompt": comparison.prompt}


def _post(client: Client, track: Track, name: str, videos: list[Video], **extra: object):
    data = {
        "methods": sorted({video.method_id for video in videos}),
        "identities": sorted({video.identity_id for video in videos}),
        "prompts": sorted({video.prompt_id for video in videos}),
        **extra,
    }
    return client.post(reverse(name, args=[track.pk]), data, headers={"HX-Request": "true"})


def test_adding_videos_of_another_size_and_length_warns_naming_both(admin_client: Client):
    track = make_track(methods=2)  # 32×32, four frames
    new = make_video(method=MethodFactory(), frames=12, size=64, **_case(track))

    response = _post(admin_client, track, "manage_tracks:extend_preview", [new])

    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert "The new videos are 64×64" in body
    assert "while the others are 32×32" in body
    assert "s long" in body  # the durations differ too
    assert TrackItem.objects.filter(track=track).count() == 1  # a preview adds nothing


def test_adding_videos_like_the_tracks_warns_of_nothing(admin_client: Client):
    track = make_track(methods=2)
    new = make_video(method=MethodFactory(), frames=4, size=32, **_case(track))

    preview = track_extend_preview(
        track=track, videos=Video.objects.filter(pk=new.pk), same_method_pairs=False
    )

    assert preview.shape_warnings == []
    assert preview.comparisons == 2


def test_same_method_pairs_that_differ_only_by_seed_are_asked_for_and_left_out_by_default(
    admin_client: Client,
):
    track = make_track(methods=2)
    case = _case(track)
    first_method = Comparison.objects.get(track_items__track=track).video_a.method
    other_seed = make_video(method=first_method, seed=7, frames=4, size=32, **case)
    other_method = make_video(method=MethodFactory(), frames=4, size=32, **case)
    chosen = [other_seed, other_method]

    preview = _post(admin_client, track, "manage_tracks:extend_preview", chosen).content.decode()
    assert "These videos add <strong>4 comparisons</strong>" in preview
    assert "1 pair would compare a method with itself" in preview
    assert "They are left out" in preview

    response = _post(admin_client, track, "manage_tracks:extend", chosen)

    assert response.status_code == 302
    pairs = Comparison.objects.filter(track_items__track=track).select_related("video_a", "video_b")
    assert len(pairs) == 5
    assert all(pair.video_a.method_id != pair.video_b.method_id for pair in pairs)
    track.refresh_from_db()
    assert track.items_total == 5


def test_same_method_pairs_are_added_when_asked_for(admin_client: Client):
    track = make_track(methods=2)
    first_method = Comparison.objects.get(track_items__track=track).video_a.method
    other_seed = make_video(method=first_method, seed=7, frames=4, size=32, **_case(track))

    _post(admin_client, track, "manage_tracks:extend", [other_seed], same_method_pairs="on")

    track.refresh_from_db()
    assert track.items_total == 3


def test_adding_without_a_method_is_refused_naming_it(admin_client: Client):
    track = make_track(methods=2)
    response = admin_client.post(
        reverse("manage_tracks:extend", args=[track.pk]), {"identities": [], "prompts": []}
    )

    assert response.status_code == 400
    assert "Methods: This field is required." in response.content.decode()
