"""Metrics against people through the API: the agreement of one criterion, the paper table, bad input."""

from __future__ import annotations

import pytest
from django.urls import reverse
from statsmodels.stats.proportion import proportion_confint

from generation.models import Method
from tests.studies.metric_world import DISAGREEING_BY_WEIGHT, MetricWorld, build_metric_world

pytestmark = pytest.mark.django_db

IF = "identity_fidelity"


@pytest.fixture
def world() -> MetricWorld:
    return build_metric_world()


def test_the_paths_are_under_api_metrics():
    assert reverse("api:metric-agreement") == "/api/metrics/agreement/"
    assert reverse("api:metric-table") == "/api/metrics/table/"


def test_the_agreement_of_a_criterion_has_its_numbers_and_disagreements(ml_api, world):
    body = ml_api.get(
        reverse("api:metric-agreement"), {"criterion": IF, "tracks": world.track.pk, "bins": 3}
    ).json()

    assert body["available"] is True and body["reason"] == ""
    assert body["metric"]["name"] == "face_identity" and body["metric"]["better"] == "lower"
    assert body["metric"]["computed"] == 26 and body["metric"]["statuses"] == {"computed": 26, "no_face": 1}
    agreement = body["agreement"]
    assert (agreement["n"], agreement["agree"], agreement["undecided"], agreement["missing"]) == (9, 5, 2, 2)
    low, high = proportion_confint(5, 9, alpha=0.05, method="wilson")
    assert (agreement["low"], agreement["high"]) == pytest.approx((low, high))
    assert [(b["n"], b["agree"]) for b in agreement["bins"]] == [(3, 2), (3, 0), (3, 3)]
    order = [d["comparison"] for d in agreement["disagreements"]]
    assert order == [world.comparisons[k].pk for k in DISAGREEING_BY_WEIGHT]
    assert body["method_order"]["tau"] == pytest.approx(1.0)
    assert [m["method"] for m in body["method_order"]["methods"]] == ["good", "mid", "bad"]
    assert any("ArcFace" in note for note in body["notes"])


def test_cartoons_are_named_in_the_notes(ml_api, world):
    Method.objects.filter(name="bad").update(backend=Method.Backend.PROCEDURAL)

    body = ml_api.get(reverse("api:metric-agreement"), {"criterion": IF}).json()

    assert any(
        "cartoons" in note and "not how well a metric tells identity" in note for note in body["notes"]
    )


def test_a_criterion_without_a_metric_answers_with_the_reason(ml_api, world):
    for comparison in world.comparisons.values():
        comparison.judgments.update(criterion="element_consistency")

    body = ml_api.get(reverse("api:metric-agreement"), {"criterion": "element_consistency"}).json()

    assert body["available"] is False and body["metric"] is None and body["agreement"] is None
    assert "No automatic metric stands in for element consistency" in body["reason"]


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ({}, "criterion", "This field is required."),
        ({"criterion": "beauty"}, "criterion", "is not a valid choice"),
        ({"criterion": IF, "bins": "0"}, "bins", "greater than or equal to 1"),
        ({"criterion": IF, "definition": "newest"}, "definition", "does not match"),
        ({"criterion": IF, "tracks": "1;2"}, "tracks", "does not match"),
        ({"criterion": IF, "sort": "gap"}, "sort", "Unknown parameter"),
    ],
)
def test_bad_agreement_options_are_a_400_naming_the_option(ml_api, world, query, field, words):
    response = ml_api.get(reverse("api:metric-agreement"), query)
    assert response.status_code == 400 and words in response.json()[field][0]


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ({"criterion": IF, "tracks": "99999"}, "No track with id 99999."),
        ({"criterion": "visual_quality"}, "Nobody judged visual quality"),
        ({"criterion": IF, "definition": "b" * 64}, "No face identity values under definition"),
    ],
)
def test_agreement_options_naming_nothing_there_are_a_404_that_says_what(ml_api, world, query, words):
    response = ml_api.get(reverse("api:metric-agreement"), query)
    assert response.status_code == 404 and words in response.json()["detail"]


def test_the_paper_table_answers_means_with_intervals_and_win_rates(ml_api, world):
    good = world.methods["good"]
    bad = world.methods["bad"]

    body = ml_api.get(reverse("api:metric-table"), {"methods": f"{good.pk},{bad.pk}"}).json()

    assert body["methods"] == ["bad", "good"] and body["videos"] == "judged"
    (face,) = body["metrics"]
    assert face["name"] == "face_identity" and [c["best"] for c in face["cells"]] == [False, True]
    cell = face["cells"][1]
    assert cell["method"] == "good" and cell["low"] < cell["mean"] < cell["high"]
    (rates,) = body["win_rates"]
    assert rates["criterion"] == IF and rates["cells"][1]["n"] == 12
    assert {m["name"] for m in body["missing"]} >= {"text_alignment"}


@pytest.mark.parametrize(
    ("name", "query", "field"),
    [
        ("api:metric-agreement", {"criterion": IF, "definition": ""}, "definition"),
        ("api:metric-agreement", {"criterion": IF, "bins": ""}, "bins"),
        ("api:metric-table", {"videos": ""}, "videos"),
    ],
)
def test_an_empty_value_is_refused_rather_than_read_as_the_default(ml_api, world, name, query, field):
    response = ml_api.get(reverse(name), query)
    assert response.status_code == 400 and field in response.json()


def test_bad_table_options_are_a_400_or_a_404(ml_api, world):
    url = reverse("api:metric-table")
    assert ml_api.get(url, {"methods": "a,b"}).status_code == 400
    assert ml_api.get(url, {"videos": "some"}).status_code == 400
    missing = ml_api.get(url, {"methods": "98765"})
    assert missing.status_code == 404 and "No method with id 98765." in missing.json()["detail"]


def test_annotators_and_strangers_may_not_read_the_agreement(annotator_api, anonymous_api):
    for name in ("api:metric-agreement", "api:metric-table"):
        assert annotator_api.get(reverse(name), {"criterion": IF}).status_code == 403
        assert anonymous_api.get(reverse(name), {"criterion": IF}).status_code == 401
