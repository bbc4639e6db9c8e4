from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from annotate.models import Comparison, Track, TrackSeat
from annotate.services import track_pause_set
from annotate.vote_path import assignment_next_for, judgment_submit
from generation.models import Video
from tests.factories import IdentityFactory, MethodFactory, PromptFactory, make_track, make_video

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog() -> dict:
    """One identity, two prompts, three methods: 2 cases × 3 pairs = 6 comparisons."""
    identity = IdentityFactory()
    prompts = [PromptFactory(), PromptFactory()]
    methods = [MethodFactory(), MethodFactory(), MethodFactory()]
    for prompt in prompts:
        for method in methods:
            make_video(method=method, identity=identity, prompt=prompt, frames=4, size=32)
    return {"identities": [identity], "prompts": prompts, "methods": methods}


def _form_data(catalog: dict, **overrides: object) -> dict:
    data = {
        "name": "Fidelity round 1",
        "kind": Track.Kind.IDENTITY_FIDELITY,
        "identities": [i.pk for i in catalog["identities"]],
        "prompts": [p.pk for p in catalog["prompts"]],
        "methods": [m.pk for m in catalog["methods"]],
        "votes_needed": 3,
        "min_watch_fraction": 1.0,
        "lease_minutes": 10,
        "annotators": [],
        "instructions": "Pick the video that looks more like the person.",
    }
    data.update(overrides)
    return data


def test_a_study_admin_creates_a_track_through_the_form(admin_client: Client, catalog, annotator):
    data = _form_data(catalog, annotators=[annotator.pk], allow_tie="on", lease_minutes=5)
    response = admin_client.post(reverse("manage_tracks:new"), data, follow=True)

    track = Track.objects.get(name="Fidelity round 1")
    assert response.redirect_chain[-1][0] == reverse("manage_tracks:detail", args=[track.pk])
    assert track.items.count() == 6
    assert list(track.annotators.all()) == [annotator]
    assert track.allow_tie and not track.allow_both_bad
    assert track.lease_seconds == 300
    assert "created with 6 comparisons" in response.content.decode()


def test_the_new_track_form_selects_the_whole_catalog_by_default(admin_client: Client, catalog):
    form = admin_client.get(reverse("manage_tracks:new")).context["form"]

    assert set(form.initial["identities"]) == {i.pk for i in catalog["identities"]}
    assert set(form.initial["prompts"]) == {p.pk for p in catalog["prompts"]}
    assert set(form.initial["methods"]) == {m.pk for m in catalog["methods"]}
    assert form.initial.get("allow_tie") is None  # forced choice unless the admin says otherwise
    assert form["votes_needed"].value() == 3
    assert form["min_watch_fraction"].value() == 1.0


def test_the_annotator_list_offers_annotators_and_non_staff_but_not_other_staff(
    admin_client: Client, annotator, outsider, study_admin
):
    User.objects.create_user("other-admin", is_staff=True)
    User.objects.create_user("gone", is_active=False)
    form = admin_client.get(reverse("manage_tracks:new")).context["form"]

    offered = {user.username for user in form.fields["annotators"].queryset}
    assert offered == {"annotator-1", "outsider"}


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"methods": []}, "methods", "required"),
        ({"votes_needed": 0}, "votes_needed", "greater than or equal to 1"),
        ({"votes_needed": 51}, "votes_needed", "less than or equal to 50"),
        ({"min_watch_fraction": 3.5}, "min_watch_fraction", "less than or equal to 1"),
        ({"min_watch_fraction": 2}, "min_watch_fraction", "1 already means all of it"),
        ({"kind": "vibes"}, "kind", "not one of the available choices"),
    ],
)
def test_bad_input_is_a_form_error_naming_the_field_and_creates_nothing(
    admin_client: Client, catalog, overrides, field, words
):
    response = admin_client.post(reverse("manage_tracks:new"), _form_data(catalog, **overrides))

    assert response.status_code == 400
    assert words in " ".join(response.context["form"].errors[field])
    label = str(response.context["form"].fields[field].label or field.replace("_", " ").capitalize())
    assert label in response.content.decode()  # the error summary names the field
    assert not Track.objects.exists()


def test_a_selection_giving_no_comparison_is_a_form_error(admin_client: Client, catalog):
    # One method alone makes one video per case: there is no pair to compare.
    data = _form_data(catalog, methods=[catalog["methods"][0].pk])
    response = admin_client.post(reverse("manage_tracks:new"), data)

    assert response.status_code == 400
    assert "give no comparison" in " ".join(response.context["form"].non_field_errors())
    assert not Track.objects.exists()
    assert not Comparison.objects.exists()


def test_a_duplicate_name_is_a_form_error(admin_client: Client, catalog):
    admin_client.post(reverse("manage_tracks:new"), _form_data(catalog))
    response = admin_client.post(reverse("manage_tracks:new"), _form_data(catalog, name="fidelity ROUND 1"))

    assert response.status_code == 400
    assert "already exists" in " ".join(response.context["form"].errors["name"])
    assert Track.objects.count() == 1


def _manage_requests(track: Track) -> list[tuple[str, str, dict]]:
    return [
        ("get", reverse("manage_tracks:list"), {}),
        ("get", reverse("manage_tracks:new"), {}),
        ("post", reverse("manage_tracks:new"), {"name": "sneaky"}),
        ("get", reverse("manage_tracks:detail", args=[track.pk]), {}),
        ("post", reverse("manage_tracks:pause", args=[track.pk]), {"paused": "1"}),
        ("post", reverse("manage_tracks:annotators", args=[track.pk]), {"annotators": []}),
    ]


@pytest.mark.parametrize("persona", ["annotator_client", "outsider_client"])
def test_annotators_and_outsiders_get_404_on_every_manage_page(request, persona, annotator):
    track = make_track(annotators=[annotator], methods=2)
    client: Client = request.getfixturevalue(persona)

    for method, url, data in _manage_requests(track):
        assert getattr(client, method)(url, data).status_code == 404, (method, url)
    track.refresh_from_db()
    assert not track.is_paused
    assert list(track.annotators.all()) == [annotator]


def test_anonymous_visitors_are_sent_to_sign_in(client: Client):
    response = client.get(reverse("manage_tracks:list"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_an_unknown_track_is_a_404(admin_client: Client):
    assert admin_client.get(reverse("manage_tracks:detail", args=[999999])).status_code == 404


def test_pausing_through_htmx_returns_the_status_fragment(admin_client: Client):
    track = make_track(methods=2)
    url = reverse("manage_tracks:pause", args=[track.pk])
    response = admin_client.post(url, {"paused": "1"}, headers={"HX-Request": "true"})

    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body
    assert 'id="track-status"' in body
    assert "Resume track" in body
    track.refresh_from_db()
    assert track.is_paused


def test_resuming_without_htmx_redirects_to_the_track(admin_client: Client):
    track = make_track(methods=2)
    track_pause_set(track=track, paused=True)
    response = admin_client.post(reverse("manage_tracks:pause", args=[track.pk]), {"paused": "0"})

    assert response.status_code == 302
    assert response["Location"] == reverse("manage_tracks:detail", args=[track.pk])
    track.refresh_from_db()
    assert not track.is_paused


def test_a_pause_value_other_than_1_or_0_is_refused(admin_client: Client):
    track = make_track(methods=2)
    response = admin_client.post(reverse("manage_tracks:pause", args=[track.pk]), {"paused": "maybe"})

    assert response.status_code == 400
    track.refresh_from_db()
    assert not track.is_paused


def test_the_admin_seats_and_unseats_annotators(admin_client: Client, annotator, outsider):
    track = make_track(annotators=[annotator], methods=2)
    url = reverse("manage_tracks:annotators", args=[track.pk])
    response = admin_client.post(url, {"annotators": [outsider.pk]})

    assert response.status_code == 302
    assert set(TrackSeat.objects.filter(track=track).values_list("user__username", flat=True)) == {"outsider"}


def _vote(track: Track, user: User, side: str = "left") -> None:
    assignment = assignment_next_for(track=track, user=user)
    assert assignment is not None
    judgment_submit(
        assignment_id=assignment.pk,
        user=user,
        side_choice=side,
        now=assignment.issued_at + timedelta(seconds=5),
    )


def test_progress_numbers_are_right_after_a_few_votes(admin_client: Client, annotator, outsider):
    # 3 methods: 3 comparisons needing 2 votes each, 6 votes in all. Fewest-claimed-first spreads the
    # first three votes over the three comparisons; the fourth completes the first comparison.
    track = make_track(annotators=[annotator, outsider], methods=3, votes_needed=2, min_watch_fraction=0)
    for user in (annotator, outsider, annotator, outsider):
        _vote(track, user)
    assignment_next_for(track=track, user=annotator)  # an open lease, not a vote

    response = admin_client.get(reverse("manage_tracks:detail", args=[track.pk]))

    shown = response.context["track"]
    assert (shown.items_total, shown.items_complete) == (3, 1)
    assert (shown.votes_stored, shown.votes_total) == (4, 6)
    assert shown.annotator_count == 2
    rows = {row.username: row for row in response.context["annotators"]}
    assert rows["annotator-1"].votes == 2 and rows["annotator-1"].has_open_assignment
    assert rows["outsider"].votes == 2 and not rows["outsider"].has_open_assignment
    assert rows["annotator-1"].last_vote_at is not None
    body = response.content.decode()
    assert "1 / 3" in body and "4 / 6" in body and "67%" in body

    listed = admin_client.get(reverse("manage_tracks:list")).context["tracks"]
    assert [(t.items_complete, t.votes_stored) for t in listed] == [(1, 4)]


def test_former_annotators_still_show_with_their_votes(admin_client: Client, annotator, outsider):
    track = make_track(annotators=[annotator], methods=2, min_watch_fraction=0)
    _vote(track, annotator)
    admin_client.post(reverse("manage_tracks:annotators", args=[track.pk]), {"annotators": [outsider.pk]})

    rows = admin_client.get(reverse("manage_tracks:detail", args=[track.pk])).context["annotators"]

    assert [(row.username, row.votes, row.seated) for row in rows] == [
        ("outsider", 0, True),
        ("annotator-1", 1, False),
    ]


def test_the_manage_pages_keep_their_queries_bounded(
    admin_client: Client, django_assert_max_num_queries, annotator
):
    users = [User.objects.create_user(f"a-{n}") for n in range(6)]
    tracks = [make_track(annotators=[*users, annotator], methods=3, min_watch_fraction=0) for _ in range(3)]
    for track in tracks:
        _vote(track, annotator)
    # Session, user, then the data (the detail page adds the seat form): the same count for
    # 3 tracks × 7 annotators as for one; the detail page also counts the gold comparisons available
    # its comparisons by status and the annotators' cost figures.
    with django_assert_max_num_queries(3):
        admin_client.get(reverse("manage_tracks:list"))
    with django_assert_max_num_queries(9):
        admin_client.get(reverse("manage_tracks:detail", args=[tracks[0].pk]))


def test_the_track_page_warns_when_compared_videos_differ_in_size(admin_client):
    track = make_track(methods=2)
    url = reverse("manage_tracks:detail", args=[track.pk])
    assert "a rater can tell them apart" not in admin_client.get(url).content.decode()
    first, second = Video.objects.order_by("method__name").values_list("method__name", flat=True)
    Video.objects.filter(method__name=second).update(width=48, height=48)

    page = admin_client.get(url).content.decode()

    assert f"Method {second}&#x27;s videos are 48×48 while method {first}&#x27;s are 32×32" in page


def test_the_comparisons_page_lists_each_comparison_with_where_it_stands(admin_client, annotator):
    track = make_track(annotators=[annotator], methods=3, votes_needed=1, min_watch_fraction=0)
    _vote(track, annotator)
    url = reverse("manage_tracks:comparisons", args=[track.pk])

    page = admin_client.get(url).content.decode()
    decided = admin_client.get(url, {"status": "decided"}).content.decode()

    assert page.count('class="badge open"') == 2 and page.count('class="badge decided"') == 1
    assert decided.count("<tr>") == 2  # the header and the one decided comparison
    bad = admin_client.get(url, {"status": "finished"})
    assert bad.status_code == 400 and "Unknown status 'finished'" in bad.content.decode()
