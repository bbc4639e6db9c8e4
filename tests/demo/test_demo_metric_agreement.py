"""The demo with simulated votes gives the "Metrics against people" page something to show once metrics
exist. The demo's videos are cartoons: these tests check the plumbing, not how well a metric tells
identity (a face metric finds no face on a cartoon, and the page says so)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from demo.links import demo_links
from generation.metrics.definitions import METRIC_FOR_CRITERION
from generation.models import Video
from studies.metric_agreement import voted_criteria
from studies.rankings import RankingScope
from tests.factories import make_video_metric

pytestmark = pytest.mark.django_db

URL = "/manage/metrics/agreement/"


@pytest.fixture
def demo(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command(
        "seed_demo", "--identities", "2", "--prompts", "2", "--size", "32", "--frames", "4", "--with-votes",
        stdout=StringIO(),
    )  # fmt: skip


def test_the_demos_votes_are_on_criteria_that_have_metrics(demo):
    voted = set(voted_criteria(RankingScope()))

    assert {"identity_fidelity", "visual_quality", "prompt_controllability"} <= voted
    assert {"face_identity", "flicker", "text_alignment"} <= {
        METRIC_FOR_CRITERION[c] for c in voted if c in METRIC_FOR_CRITERION
    }


def test_with_flicker_values_the_visual_quality_agreement_shows_numbers_and_says_these_are_cartoons(
    demo, admin_client
):
    # Stand-ins for what the metrics worker stores: any value per video will do for the plumbing.
    for video in Video.objects.order_by("pk"):
        make_video_metric(video, "flicker", (video.pk * 37 % 101) / 1000)

    page = admin_client.get(URL, {"criterion": "visual_quality"})

    html = page.content.decode()
    assert page.status_code == 200 and "data-agreement" in html and "Where people and the metric" in html
    assert 'data-caveat="cartoons"' in html and "test that the plumbing works, not how well" in html


def test_a_face_metric_that_found_no_face_on_the_cartoons_says_so(demo, admin_client):
    for video in Video.objects.order_by("pk"):
        make_video_metric(video, "face_identity", status="no_face", note="no face on any sampled frame")

    html = admin_client.get(URL, {"criterion": "identity_fidelity"}).content.decode()

    assert "Face identity gave no value on any of its" in html and "no face found" in html
    assert "data-agreement" not in html


def test_the_demo_banner_links_the_page():
    assert dict(demo_links("http://127.0.0.1:8000"))[
        "Metrics against people (study admin, ML team)"
    ].endswith(URL)
