"""The identity track's reference gallery, grouped by viewpoint; the controllability mode is unchanged."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from annotate.models import Track
from annotate.vote_path import PanelMedia, reference_groups
from generation.models import Reference
from tests.annotate.test_views import make_track_with_references, open_assignment, watch_plausibly, work_url

pytestmark = pytest.mark.django_db


def references_of(track: Track) -> dict[str, Reference]:
    identity = track.comparisons.first().identity
    return {reference.kind: reference for reference in Reference.objects.filter(identity=identity)}


def labels(html: str) -> list[str]:
    return re.findall(r'<h3 class="view-label">([^<]*)</h3>', html)


def test_the_gallery_groups_references_front_first_then_profile_and_back(annotator_client, annotator):
    track = make_track_with_references(kind=Track.Kind.IDENTITY_FIDELITY, annotators=[annotator])
    refs = references_of(track)
    # The primary face is in profile: the groups, not the gallery's own order, put the front first.
    Reference.objects.filter(pk=refs["face"].pk).update(viewpoint="profile_right")
    Reference.objects.filter(pk=refs["portrait"].pk).update(viewpoint="front")
    Reference.objects.filter(pk=refs["video"].pk).update(viewpoint="back")

    html = annotator_client.get(work_url(track)).content.decode()

    assert labels(html) == ["Front", "Profile", "Back"]
    places = [
        html.index(reverse("media", args=[refs[kind].file.name])) for kind in ("portrait", "face", "video")
    ]
    assert places == sorted(places)
    assert html.index(">Front<") < places[0] < html.index(">Profile<") < places[1] < html.index(">Back<")


def test_references_of_unknown_viewpoint_come_last_as_other(annotator_client, annotator):
    track = make_track_with_references(kind=Track.Kind.IDENTITY_FIDELITY, annotators=[annotator])
    refs = references_of(track)
    Reference.objects.filter(pk=refs["portrait"].pk).update(viewpoint="three_quarter_left")

    html = annotator_client.get(work_url(track)).content.decode()

    assert labels(html) == ["Three-quarter", "Other"]
    assert html.index(reverse("media", args=[refs["portrait"].file.name])) < html.index(">Other<")


def test_a_gallery_of_unknown_viewpoints_has_no_group_labels(annotator_client, annotator):
    track = make_track_with_references(kind=Track.Kind.IDENTITY_FIDELITY, annotators=[annotator])

    html = annotator_client.get(work_url(track)).content.decode()

    assert labels(html) == []
    assert html.count('<section class="view-group') == 1
    assert 'alt="Reference 1"' in html and 'alt="Reference 2"' in html


def test_the_controllability_mode_still_shows_only_the_primary_reference(annotator_client, annotator):
    track = make_track_with_references(kind=Track.Kind.PROMPT_CONTROLLABILITY, annotators=[annotator])
    refs = references_of(track)
    Reference.objects.filter(identity=refs["face"].identity).update(viewpoint="front")

    html = annotator_client.get(work_url(track)).content.decode()

    assert labels(html) == []
    shown = [kind for kind, ref in refs.items() if reverse("media", args=[ref.file.name]) in html]
    assert shown == ["face"]


def test_grouping_keeps_the_work_page_and_the_vote_within_their_queries(
    annotator_client, annotator, django_assert_max_num_queries
):
    track = make_track_with_references(kind=Track.Kind.IDENTITY_FIDELITY, annotators=[annotator], frames=8)
    refs = references_of(track)
    for kind, viewpoint in (("face", "front"), ("portrait", "profile_left"), ("video", "back")):
        Reference.objects.filter(pk=refs[kind].pk).update(viewpoint=viewpoint)
    assignment = open_assignment(annotator_client, track)
    watch_plausibly(annotator_client, track, assignment)
    with django_assert_max_num_queries(12):
        annotator_client.get(work_url(track))
    with django_assert_max_num_queries(8):
        response = annotator_client.post(
            reverse("annotate:vote", args=[track.pk, assignment.pk]),
            {"choice": "left"},
            headers={"HX-Request": "true"},
        )
    assert response.status_code == 200 and labels(response.content.decode()) == ["Front", "Profile", "Back"]


def test_groups_number_references_in_the_gallerys_order():
    media = [
        PanelMedia(url=f"/m/{view}", poster_url="", viewpoint=view) for view in ("back", "front", "unknown")
    ]
    groups = reference_groups(media)
    assert [(group.label, [n for n, _ in group.references]) for group in groups] == [
        ("Front", [2]),
        ("Back", [1]),
        ("Other", [3]),
    ]
