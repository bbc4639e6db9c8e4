"""The leaderboard and checkpoint comparison through the API: computing, reading, and bad input."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotate.models import Criterion, Track
from tests.factories import make_track
from tests.studies.ranking_world import annotator_rater, strongest_first, vote_by_strength

pytestmark = pytest.mark.django_db


@pytest.fixture
def track() -> Track:
    track = make_track(methods=3)
    vote_by_strength(track, [annotator_rater(f"r{k}") for k in range(3)])
    return track


def test_a_leaderboard_is_computed_by_post_and_read_by_get(ml_api, track):
    options = {"tracks": str(track.pk), "rounds": 30, "seed": 1}
    url = reverse("api:rankings")
    assert ml_api.get(url, options).status_code == 404  # never computed: the message says to POST

    posted = ml_api.post(url, options, format="json")
    assert posted.status_code == 200 and posted.json()["status"] == "done"

    read = ml_api.get(url, options | {"criterion": Criterion.IDENTITY_FIDELITY}).json()
    (board,) = read["leaderboards"]
    assert board["criterion"] == "identity_fidelity" and board["rounds"] == 30
    assert [row["method"] for row in board["methods"]] == [m.name for m in strongest_first(track)]
    best = board["methods"][0]
    assert best["low"] <= best["score"] <= best["high"] and best["rank_upper"] == 1
    assert read["judgments"] == 9 and read["options"]["tracks"] == [track.pk]


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ({"rounds": "0"}, "rounds", "greater than or equal to 1"),
        ({"rounds": "100000000"}, "rounds", "less than or equal to 100000"),
        ({"tracks": "1;2"}, "tracks", "does not match"),
        ({"sort": "score"}, "sort", "Unknown parameter"),
    ],
)
def test_bad_ranking_options_are_a_400_naming_the_option(ml_api, track, query, field, words):
    response = ml_api.get(reverse("api:rankings"), query)
    assert response.status_code == 400 and words in response.json()[field][0]
    if field != "sort":
        posted = ml_api.post(reverse("api:rankings"), query, format="json")
        assert posted.status_code == 400 and words in posted.json()[field][0]


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ({"tracks": "99999"}, "No track with id 99999."),
        ({"criterion": "visual_quality"}, "Nobody judged visual quality"),
    ],
)
def test_options_naming_nothing_there_are_a_404_that_says_what(ml_api, track, query, words):
    response = ml_api.get(reverse("api:rankings"), query)
    assert response.status_code == 404 and words in response.json()["detail"]


def test_the_checkpoint_comparison_answers_for_two_methods_and_refuses_unknown_ones(ml_api, track):
    new, old, _ = strongest_first(track)
    url = reverse("api:checkpoints")

    body = ml_api.get(url, {"new": new.pk, "old": old.pk}).json()

    (row,) = body["criteria"]
    assert (row["wins"], row["losses"], row["n"]) == (3, 0, 3) and body["half_width"] == 0.05
    missing = ml_api.get(url, {"new": new.pk, "old": 999999})
    assert missing.status_code == 404 and "No method with id 999999" in missing.json()["detail"]
    same = ml_api.get(url, {"new": new.pk, "old": new.pk})
    assert same.status_code == 404 and "two different methods" in same.json()["detail"]
    bad = ml_api.get(url, {"new": new.pk, "old": old.pk, "half_width": "0.7"})
    assert bad.status_code == 400 and "half_width" in bad.json()


def test_annotators_may_not_read_rankings(annotator_api):
    assert annotator_api.get(reverse("api:rankings")).status_code == 403
