from __future__ import annotations

import pytest

from generation.models import Reference, Video
from tests.studies.conftest import build_catalog, make_study


@pytest.fixture
def media_catalog(db, tmp_path):
    return build_catalog(baselines=2, identities=2, prompts=1, real_media=tmp_path)


def join(client, study) -> None:
    client.post(f"/s/{study.public_slug}/")
    client.post(f"/s/{study.public_slug}/consent/", {"agree": "on"})


def test_a_participant_sees_the_videos_and_primary_reference_of_their_own_matchups_only(
    media_catalog, client
):
    study = make_study(media_catalog, matchups_per_participant=2)
    join(client, study)
    participant = study.participants.get()
    mine = {pk for m in participant.matchups.all() for pk in m.video_ids}
    my_identities = set(participant.matchups.values_list("identity_id", flat=True))
    for video in Video.objects.all():
        status = client.get(f"/media/{video.file.name}").status_code
        assert status == (200 if video.pk in mine else 404), video
        if video.poster:
            assert client.get(f"/media/{video.poster.name}").status_code == (200 if video.pk in mine else 404)
    for reference in Reference.objects.all():
        expected = 200 if reference.identity_id in my_identities else 404
        assert client.get(f"/media/{reference.file.name}").status_code == expected


def test_the_matchup_page_shows_the_reference_the_prompt_and_two_anonymous_videos(media_catalog, client):
    study = make_study(media_catalog, matchups_per_participant=2)
    join(client, study)
    matchup = study.participants.get().matchups.select_related("prompt").get(position=0)
    page = client.get(f"/s/{study.public_slug}/m/1/").content.decode()
    assert "Left Video" in page and "Right Video" in page
    assert matchup.prompt.shown_text in page
    assert "Matchup 1 of 2" in page
    for method in (media_catalog.ours, *media_catalog.baselines):
        assert method.name not in page
    assert "seed" not in page.lower()
    for video in Video.objects.filter(pk__in=matchup.video_ids):
        assert video.file.name in page


def test_a_withdrawn_participant_sees_no_more_videos(media_catalog, client):
    study = make_study(media_catalog, matchups_per_participant=2)
    join(client, study)
    video = Video.objects.get(pk=study.participants.get().matchups.get(position=0).video_ids[0])
    assert client.get(f"/media/{video.file.name}").status_code == 200
    client.post(f"/s/{study.public_slug}/withdraw/")
    assert client.get(f"/media/{video.file.name}").status_code == 404


def test_someone_without_a_session_sees_nothing(media_catalog, client):
    make_study(media_catalog, matchups_per_participant=2)
    video = Video.objects.first()
    assert client.get(f"/media/{video.file.name}").status_code == 404
