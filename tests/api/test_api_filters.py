"""Filters: a bad value or an unknown filter is a 400 naming the field; judgments hide who must be hidden."""

from __future__ import annotations

from pathlib import Path

import pytest
from rest_framework.test import APIClient

from exports.read import rater_public_id
from generation.models import Video
from generation.services import video_degraded_copy
from tests.exports.export_world import World, add_quality_checks, build_world


@pytest.fixture
def world(db: None, tmp_path: Path) -> World:
    return build_world(tmp_path)


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/videos/?identity=abc", "identity"),
        ("/api/videos/?origin=somewhere", "origin"),
        ("/api/judgments/?criterion=beauty", "criterion"),
        ("/api/judgments/?created_after=yesterday", "created_after"),
        ("/api/judgments/?rater=not-a-salted-id", "rater"),
        ("/api/tracks/?is_paused=maybe", "is_paused"),
        ("/api/prompts/?task=everything", "task"),
        ("/api/judgments/?critrion=identity_fidelity", "critrion"),
        ("/api/videos/?identity=9223372036854775808", "identity"),
        ("/api/videos/?seed=0.0", "seed"),
        ("/api/tracks/?is_paused=", "is_paused"),
        ("/api/judgments/?criterion=beauty&criterion=identity_fidelity", "criterion"),
        ("/api/identities/?page_size=5&page_size=7", "page_size"),
    ],
)
def test_a_bad_filter_gets_400_naming_the_field(ml_api: APIClient, url: str, field: str) -> None:
    response = ml_api.get(url)
    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_judgments_never_list_excluded_raters_or_withdrawn_participants(
    world: World, ml_api: APIClient
) -> None:
    ids, raters, url = [], set(), "/api/judgments/?page_size=5"
    while url:
        page = ml_api.get(url).json()
        ids += [j["id"] for j in page["results"]]
        raters |= {j["rater"] for j in page["results"]}
        url = page["next"]
    assert len(ids) == 23 == len(set(ids))  # five pages by cursor, every judgment once
    assert set(ids).isdisjoint(world.excluded_judgments)
    assert raters == {rater_public_id(world.raters[name].pk) for name in ("u1", "u2", "u3", "p1")}


def test_judgments_list_no_gold_repeat_or_excluded_seat_judgment(world: World, ml_api: APIClient) -> None:
    checks = add_quality_checks(world)
    listed = {j["id"] for j in ml_api.get("/api/judgments/?page_size=100").json()["results"]}
    assert len(listed) == 23
    assert listed.isdisjoint([*checks.gold, checks.repeat, *checks.excluded_seat])
    assert checks.repeat_of in listed  # the original is a vote; only its repeat is a check


def test_judgments_filter_by_study_source_and_salted_rater(world: World, ml_api: APIClient) -> None:
    study = ml_api.get(f"/api/judgments/?study={world.study_id}").json()["results"]
    assert [(j["source"], j["source_id"], j["choice"]) for j in study] == [
        ("study", world.study_id, "A"),
        ("study", world.study_id, "B"),
    ]
    salted = rater_public_id(world.raters["u3"].pk)
    by_rater = ml_api.get(f"/api/judgments/?rater={salted}&source=track").json()["results"]
    assert len(by_rater) == 4 and {j["rater"] for j in by_rater} == {salted}


def test_videos_filter_by_identity(world: World, ml_api: APIClient) -> None:
    ada = world.identities["ada"]
    videos = ml_api.get(f"/api/videos/?identity={ada.pk}").json()["results"]
    assert len(videos) == 3 and {v["identity"] for v in videos} == {ada.pk}


def test_videos_leave_out_the_copies_made_for_gold_comparisons(world: World, ml_api: APIClient) -> None:
    ada = world.identities["ada"]
    copy = video_degraded_copy(video=Video.objects.filter(identity=ada).first())
    videos = ml_api.get(f"/api/videos/?identity={ada.pk}").json()["results"]
    assert len(videos) == 3 and copy.pk not in {v["id"] for v in videos}


def test_comparisons_of_a_track_leave_out_its_check_items(world: World, ml_api: APIClient) -> None:
    from annotate.models import TrackItem

    fidelity = world.tracks["fidelity"]
    work = set(fidelity.items.values_list("comparison_id", flat=True))
    # A comparison of another track handed out in this one as a gold check only.
    gold = next(c for c in world.comparisons.values() if c.pk not in work)
    TrackItem.objects.create(track=fidelity, comparison=gold, is_check=True)
    listed = {
        c["id"] for c in ml_api.get(f"/api/comparisons/?track={fidelity.pk}&page_size=100").json()["results"]
    }
    assert listed == work
