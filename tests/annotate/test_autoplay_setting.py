"""The annotator's "start the next pair by itself": stored per user, carried by the panel to the player."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from annotate.models import AnnotatorSettings, Track
from annotate.selectors import annotator_autoplay_next
from tests.annotate.test_views import (
    make_track_with_references,
    open_assignment,
    vote_url,
    watch_plausibly,
    work_url,
)

pytestmark = pytest.mark.django_db

SETTING_URL = reverse("annotate:autoplay_set")


@pytest.fixture
def identity_track(annotator) -> Track:
    return make_track_with_references(kind=Track.Kind.IDENTITY_FIDELITY, annotators=[annotator])


def test_the_next_pair_starts_by_itself_until_the_annotator_says_otherwise(annotator_client, identity_track):
    page = annotator_client.get(work_url(identity_track)).content.decode()
    assert 'data-autoplay="on"' in page
    assert 'name="autoplay_next"' in page and f'hx-post="{SETTING_URL}"' in page
    assert not AnnotatorSettings.objects.exists()  # the default needs no row


def test_turning_it_off_is_stored_for_the_user_and_shown_on_the_next_page(annotator_client, identity_track):
    annotator = User.objects.get(username="annotator-1")
    response = annotator_client.post(SETTING_URL, {}, headers={"HX-Request": "true"})  # an unticked box

    assert response.status_code == 204
    assert annotator_autoplay_next(user=annotator) is False
    page = annotator_client.get(work_url(identity_track)).content.decode()
    assert 'data-autoplay="off"' in page
    assert "checked> Autoplay" not in page


def test_the_panel_after_a_vote_reads_the_setting_from_the_session_and_a_full_page_from_the_database(
    annotator_client, identity_track
):
    annotator_client.post(SETTING_URL, {}, headers={"HX-Request": "true"})
    assignment = open_assignment(annotator_client, identity_track)
    watch_plausibly(annotator_client, identity_track, assignment)
    # Changed elsewhere (another browser): this session keeps its copy until its next full page.
    AnnotatorSettings.objects.filter(user__username="annotator-1").update(autoplay_next=True)

    response = annotator_client.post(
        vote_url(identity_track, assignment), {"choice": "left"}, headers={"HX-Request": "true"}
    )
    assert 'data-autoplay="off"' in response.content.decode()
    assert 'data-autoplay="on"' in annotator_client.get(work_url(identity_track)).content.decode()


def test_a_value_that_is_neither_on_nor_off_is_refused_and_names_the_field(annotator_client):
    response = annotator_client.post(SETTING_URL, {"autoplay_next": "maybe"})

    assert response.status_code == 400
    assert "autoplay_next" in response.content.decode()
    assert not AnnotatorSettings.objects.exists()


def test_only_a_signed_in_user_can_change_it(client):
    response = client.post(SETTING_URL, {"autoplay_next": "on"})

    assert response.status_code == 302 and "login" in response["Location"]
    assert not AnnotatorSettings.objects.exists()
