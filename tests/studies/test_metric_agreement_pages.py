"""The "Metrics against people" page, its figure and the comparison page: who sees them, what they show."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from generation.models import Method
from tests.factories import make_video_metric
from tests.studies.metric_world import DISAGREEING_BY_WEIGHT, MetricWorld, build_metric_world

pytestmark = pytest.mark.django_db

IF = "identity_fidelity"
URL = "/manage/metrics/agreement/"


@pytest.fixture
def world() -> MetricWorld:
    return build_metric_world()


@pytest.fixture
def ml_client(client: Client) -> Client:
    user = User.objects.create_user("ml-person", password="pw-ml-team-1")
    user.groups.add(Group.objects.get_or_create(name="ML team")[0])
    client.force_login(user)
    return client


def test_the_page_lives_at_its_management_url():
    assert reverse("metric_agreement:agreement") == URL


def test_a_study_admin_sees_the_agreement_its_interval_tau_and_the_dlib_caveat(admin_client, world):
    page = admin_client.get(URL, {"tracks": world.track.pk, "criterion": IF})

    assert page.status_code == 200
    html = page.content.decode()
    assert "<b data-agreement>0.556</b>" in html  # 5 of 9
    assert "5 / 9" in html and "<b data-tau>1.000</b>" in html
    assert "2 undecided, 2 missing a value, 1 metric ties left out" in html
    assert 'data-caveat="dlib"' in html and "not comparable with the ArcFace" in html


def test_the_disagreements_link_each_comparison_to_its_page(admin_client, world):
    html = admin_client.get(URL, {"tracks": world.track.pk, "criterion": IF}).content.decode()

    ids = [world.comparisons[key].pk for key in DISAGREEING_BY_WEIGHT]
    positions = [html.index(f'data-comparison="{pk}"') for pk in ids]
    assert positions == sorted(positions)
    for pk in ids:
        assert reverse("metric_agreement:comparison", args=[pk]) in html


def test_the_ml_team_sees_the_page_too(ml_client, world):
    assert ml_client.get(URL, {"criterion": IF}).status_code == 200


def test_annotators_and_outsiders_get_a_404_and_strangers_are_sent_to_sign_in(
    annotator_client, world, outsider
):
    assert annotator_client.get(URL).status_code == 404
    assert annotator_client.get(reverse("metric_agreement:comparison", args=[1])).status_code == 404
    assert annotator_client.get(reverse("metric_agreement:table")).status_code == 404
    stranger = Client()
    assert stranger.get(URL)["Location"].startswith("/accounts/login/")
    stranger.force_login(outsider)
    assert stranger.get(URL).status_code == 404


def test_a_criterion_tab_sent_by_htmx_gets_the_options_and_result_alone(admin_client, world):
    page = admin_client.get(URL, {"tracks": world.track.pk, "criterion": IF}, headers={"HX-Request": "true"})

    html = page.content.decode()
    assert page.status_code == 200 and html.lstrip().startswith('<div id="agreement-result">')
    assert "<html" not in html and "What the numbers mean" not in html and 'aria-label="Rankings"' not in html
    assert "data-agreement" in html
    assert f'<option value="{IF}" selected>' in html  # the form follows the tab


def test_a_refused_criterion_stays_chosen_in_the_form(admin_client, world):
    html = admin_client.get(URL, {"criterion": "visual_quality"}).content.decode()
    assert '<option value="visual_quality" selected>' in html


def test_the_tabs_name_htmx_and_keep_a_plain_link(admin_client, world):
    html = admin_client.get(URL, {"tracks": world.track.pk}).content.decode()

    assert f'href="?tracks={world.track.pk}&amp;criterion={IF}"' in html
    assert f'hx-get="?tracks={world.track.pk}&amp;criterion={IF}"' in html
    assert 'hx-target="#agreement-result"' in html


def test_every_criterion_is_summed_up_by_default(admin_client, world):
    html = admin_client.get(URL, {"tracks": world.track.pk}).content.decode()

    assert 'data-criterion="identity_fidelity"' in html and "Face identity" in html
    assert "56 %" in html  # 5/9 rounded


@pytest.mark.parametrize(
    ("query", "status", "words"),
    [
        ({"bins": "0"}, 400, "gap bins must be a whole number from 1 to 20"),
        ({"bins": "many"}, 400, "gap bins must be a whole number"),
        ({"tracks": "abc"}, 400, "“abc” is not a track id"),
        ({"tracks": "99999"}, 404, "No track with id 99999."),
        ({"criterion": "beauty"}, 400, "Unknown criterion “beauty”."),
        ({"criterion": "visual_quality"}, 404, "Nobody judged visual quality"),
        ({"criterion": IF, "definition": "newest"}, 400, "is not a definition digest"),
        ({"criterion": IF, "definition": "a" * 64}, 404, "No face identity values under definition"),
        ({"definition": "a" * 64}, 400, "A definition belongs to one metric"),
    ],
)
def test_bad_options_are_refused_with_what_is_wrong(admin_client, world, query, status, words):
    page = admin_client.get(URL, query)

    assert page.status_code == status
    assert words in page.content.decode()


def test_a_criterion_without_a_metric_says_so(admin_client, world):
    for comparison in world.comparisons.values():
        comparison.judgments.update(criterion="element_consistency")

    html = admin_client.get(URL, {"criterion": "element_consistency"}).content.decode()

    assert "No automatic metric stands in for element consistency" in html
    assert "data-agreement" not in html


def test_text_alignment_without_weights_says_unavailable_instead_of_numbers(admin_client, world):
    for comparison in world.comparisons.values():
        comparison.judgments.update(criterion="prompt_controllability")
    for pair in world.videos.values():
        for video in pair:
            make_video_metric(video, "text_alignment", status="unavailable", note="no local CLIP weights")

    html = admin_client.get(URL, {"criterion": "prompt_controllability"}).content.decode()

    assert "Text alignment is unavailable on this installation: no local CLIP weights" in html
    assert "data-agreement" not in html


def test_cartoon_methods_bring_the_note_that_they_test_plumbing_not_identity(admin_client, world):
    html = admin_client.get(URL, {"criterion": IF}).content.decode()
    assert 'data-caveat="cartoons"' not in html

    Method.objects.filter(name="good").update(backend=Method.Backend.PROCEDURAL)
    html = admin_client.get(URL, {"criterion": IF}).content.decode()
    assert 'data-caveat="cartoons"' in html and "test that the plumbing works, not" in html


@pytest.mark.parametrize(("fmt", "magic"), [("svg", b"<?xml"), ("png", b"\x89PNG"), ("pdf", b"%PDF")])
def test_the_agreement_figure_downloads_in_each_format(admin_client, world, fmt, magic):
    response = admin_client.get(reverse("metric_agreement:figure", args=[fmt]), {"criterion": IF})

    assert response.status_code == 200 and response.content.startswith(magic)
    assert response["Content-Disposition"] == f'attachment; filename="agreement-identity_fidelity.{fmt}"'


def test_the_figure_is_the_same_bytes_each_time(admin_client, world):
    url = reverse("metric_agreement:figure", args=["svg"])
    assert (
        admin_client.get(url, {"criterion": IF}).content == admin_client.get(url, {"criterion": IF}).content
    )


def test_a_figure_needs_one_criterion_with_numbers(admin_client, world):
    url = reverse("metric_agreement:figure", args=["svg"])
    assert admin_client.get(url).status_code == 400
    assert admin_client.get(url, {"criterion": "beauty"}).status_code == 400
    assert (
        admin_client.get(reverse("metric_agreement:figure", args=["gif"]), {"criterion": IF}).status_code
        == 404
    )
    for comparison in world.comparisons.values():
        comparison.judgments.update(criterion="element_consistency")
    assert admin_client.get(url, {"criterion": "element_consistency"}).status_code == 404


def test_the_comparison_page_shows_both_methods_the_votes_and_each_metric(admin_client, world):
    comparison = world.comparisons["c4"]

    page = admin_client.get(reverse("metric_agreement:comparison", args=[comparison.pk]))

    assert page.status_code == 200
    html = page.content.decode()
    assert "A: good" in html and "B: bad" in html
    assert '<tr data-criterion="identity_fidelity"><td>Identity fidelity</td><td class="num">3</td>' in html
    row = html.split('data-metric="face_identity"')[1].split("</tr>")[0]
    assert "0.6200" in row and "0.4000" in row and "<td>B</td>" in row  # lower is better: B
    assert admin_client.get(reverse("metric_agreement:comparison", args=[987654])).status_code == 404


def test_the_comparison_page_says_when_a_video_found_no_face(admin_client, world):
    page = admin_client.get(reverse("metric_agreement:comparison", args=[world.comparisons["c10"].pk]))

    row = page.content.decode().split('data-metric="face_identity"')[1].split("</tr>")[0]
    assert "No face found" in row and "0.4500" in row


def test_the_rankings_tabs_lead_to_the_agreement_and_table_pages(admin_client, world):
    html = admin_client.get(reverse("rankings:leaderboard")).content.decode()
    assert URL in html and reverse("metric_agreement:table") in html
