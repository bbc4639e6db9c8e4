from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group, User
from django.core import mail
from django.test import Client
from django.urls import reverse

from annotate import people
from annotate.errors import PeopleError
from annotate.models import Assignment, Judgment, TrackItem, TrackSeat
from annotate.vote_path import assignment_next_for, judgment_submit, track_seat_exclude
from lib.roles import ANNOTATORS_GROUP, ML_TEAM_GROUP
from tests.factories import make_track

pytestmark = pytest.mark.django_db

LINK = re.compile(r'value="(http://testserver/accounts/welcome/[^"]+)"')


def _signs_in(username: str, password: str) -> bool:
    """Signing in through the sign-in page (and its lockout check) lands on the home page."""
    response = Client().post(reverse("login"), {"username": username, "password": password})
    return response.status_code == 302


def _add(client: Client, text: str, **data: object):
    return client.post(reverse("people:add"), {"people": text, **data})


def test_a_list_of_people_is_added_with_an_annotator_account_and_a_full_link_each(admin_client: Client):
    response = _add(admin_client, "ada@example.org\ngrace, linus")

    assert response.status_code == 200
    added = User.objects.filter(username__in=["ada@example.org", "grace", "linus"])
    assert added.count() == 3
    assert all(not person.has_usable_password() for person in added)
    assert set(Group.objects.get(name=ANNOTATORS_GROUP).user_set.all()) == set(added)
    assert User.objects.get(username="ada@example.org").email == "ada@example.org"
    assert len(LINK.findall(response.content.decode())) == 3


def test_a_list_with_a_bad_line_adds_nobody_and_names_the_line(admin_client: Client):
    response = _add(admin_client, "ada@example.org\ngrace hopper\nbad@\nlinus")

    page = response.content.decode()
    assert response.status_code == 400
    assert "Line 2: “grace hopper” is not a username" in page
    assert "Line 3: “bad@” is not a valid e-mail address" in page
    assert not User.objects.filter(username__in=["ada@example.org", "linus"]).exists()


def test_a_duplicate_and_an_existing_person_are_reported_and_nobody_is_added(admin_client: Client, annotator):
    response = _add(admin_client, f"ada, bob\nAda\n{annotator.username}")

    page = response.content.decode()
    assert response.status_code == 400
    assert "Line 2: “Ada” is listed twice (first on line 1)." in page
    assert f"Line 3: “{annotator.username}” already has an account." in page
    assert not User.objects.filter(username__in=["ada", "bob"]).exists()


def test_an_existing_e_mail_address_counts_as_an_existing_person(annotator):
    annotator.email = "amy@example.org"
    annotator.save()

    with pytest.raises(PeopleError, match=re.escape("Line 1: “AMY@example.org” already has an account.")):
        people.people_add(text="AMY@example.org")


def test_new_people_are_seated_on_the_chosen_tracks(admin_client: Client):
    track = make_track()
    _add(admin_client, "ada\ngrace", tracks=[track.pk])

    assert set(track.annotators.values_list("username", flat=True)) == {"ada", "grace"}
    assert assignment_next_for(track=track, user=User.objects.get(username="ada")) is not None


def test_a_person_is_seated_and_unseated_from_their_page_and_their_votes_stay(
    admin_client: Client, annotator
):
    first, second = make_track(min_watch_fraction=0.0), make_track()
    admin_client.post(reverse("people:tracks", args=[annotator.pk]), {"tracks": [first.pk]})
    assignment = assignment_next_for(track=first, user=annotator)
    assert assignment is not None
    judgment_submit(assignment_id=assignment.pk, user=annotator, side_choice="left")

    admin_client.post(reverse("people:tracks", args=[annotator.pk]), {"tracks": [second.pk]})

    assert list(TrackSeat.objects.filter(user=annotator).values_list("track", flat=True)) == [second.pk]
    assert Judgment.objects.filter(rater__user=annotator).count() == 1


def test_an_excluded_seat_stays_so_that_the_votes_keep_counting_nowhere(
    admin_client: Client, annotator, study_admin
):
    track = make_track(annotators=[annotator], name="Fidelity round 1")
    track_seat_exclude(seat=TrackSeat.objects.get(user=annotator), by=study_admin, reason="Clicks at random.")

    response = admin_client.post(reverse("people:tracks", args=[annotator.pk]), {"tracks": []})

    assert response.status_code == 400
    assert "is excluded from Fidelity round 1" in response.content.decode()
    assert TrackSeat.objects.filter(user=annotator, track=track, excluded=True).exists()


def test_the_sign_in_link_sets_a_password_once_and_then_says_it_was_used(
    admin_client: Client, client: Client
):
    link = LINK.findall(_add(admin_client, "ada@example.org").content.decode())[0]
    visitor = Client()

    form = visitor.get(link, follow=True)
    assert form.status_code == 200
    assert "Choose your password" in form.content.decode()
    done = visitor.post(
        form.redirect_chain[-1][0], {"new_password1": "lantern-oak-91", "new_password2": "lantern-oak-91"}
    )
    assert done.status_code == 302
    assert done["Location"] == reverse("login")
    assert _signs_in("ada@example.org", "lantern-oak-91")

    again = Client().get(link, follow=True)
    assert again.status_code == 410
    assert "This link was used" in again.content.decode()
    assert reverse("login") in again.content.decode()


def test_the_sign_in_link_is_e_mailed_to_a_person_with_an_address(admin_client: Client):
    link = LINK.findall(_add(admin_client, "ada@example.org, grace").content.decode())[0]

    assert [message.to for message in mail.outbox] == [["ada@example.org"]]
    assert link in mail.outbox[0].body


def test_a_deactivated_person_cannot_sign_in_and_keeps_their_votes(admin_client: Client, annotator):
    track = make_track(annotators=[annotator], min_watch_fraction=0.0)
    voted = assignment_next_for(track=track, user=annotator)
    assert voted is not None
    judgment_submit(assignment_id=voted.pk, user=annotator, side_choice="left")
    held = assignment_next_for(track=track, user=annotator)
    assert held is not None
    signed_in = Client()
    signed_in.force_login(annotator)

    response = admin_client.post(reverse("people:active", args=[annotator.pk]), {"on": "0"})

    assert response.status_code == 302
    assert not _signs_in(annotator.username, "pw-annotator-1")
    assert signed_in.get(reverse("annotate:track_list")).status_code == 302  # their session ended
    assert Judgment.objects.filter(rater__user=annotator).count() == 1
    assert Assignment.objects.get(pk=held.pk).status == Assignment.Status.EXPIRED
    assert TrackItem.objects.get(pk=held.item_id).claimed == 0
    assert TrackSeat.objects.filter(user=annotator, track=track).exists()


def test_a_reactivated_person_signs_in_again(admin_client: Client, annotator):
    admin_client.post(reverse("people:active", args=[annotator.pk]), {"on": "0"})
    admin_client.post(reverse("people:active", args=[annotator.pk]), {"on": "1"})

    assert _signs_in(annotator.username, "pw-annotator-1")


def test_a_person_is_put_in_the_ml_team_only_when_seated_nowhere(admin_client: Client, annotator):
    track = make_track(annotators=[annotator])
    refused = admin_client.post(reverse("people:ml_team", args=[annotator.pk]), {"on": "1"})
    assert refused.status_code == 400
    assert "seated on 1 track" in refused.content.decode()

    admin_client.post(reverse("people:tracks", args=[annotator.pk]), {"tracks": []})
    admin_client.post(reverse("people:ml_team", args=[annotator.pk]), {"on": "1"})

    assert annotator.groups.filter(name=ML_TEAM_GROUP).exists()
    assert not TrackSeat.objects.filter(track=track).exists()


def test_the_people_page_lists_each_person_with_status_and_tracks(admin_client: Client, annotator):
    make_track(annotators=[annotator], name="Fidelity round 1")
    people.people_add(text="ada")

    page = admin_client.get(reverse("people:list")).content.decode()

    assert "annotator-1" in page and "Fidelity round 1" in page
    assert "Invited" in page and "Active" in page
    assert "study-admin" not in page.split("<main")[1]


@pytest.mark.parametrize("name", ["people:list", "people:detail"])
def test_people_pages_are_a_404_for_everyone_but_study_admins(annotator_client: Client, annotator, name: str):
    args = [annotator.pk] if name == "people:detail" else []

    assert annotator_client.get(reverse(name, args=args)).status_code == 404


@pytest.mark.parametrize("name", ["people:add", "people:tracks", "people:active", "people:ml_team"])
def test_people_changes_are_a_404_for_everyone_but_study_admins(
    annotator_client: Client, annotator, name: str
):
    args = [] if name == "people:add" else [annotator.pk]
    response = annotator_client.post(reverse(name, args=args), {"people": "ada", "on": "0"})

    assert response.status_code == 404
    assert not User.objects.filter(username="ada").exists()
    assert User.objects.get(pk=annotator.pk).is_active


def test_a_fresh_link_lets_someone_who_forgot_their_password_choose_another(admin_client: Client, annotator):
    page = admin_client.post(reverse("people:link", args=[annotator.pk])).content.decode()
    link = re.search(r'value="(http://testserver/accounts/welcome/[^"]+)"', page)
    assert link is not None
    visitor = Client()

    form = visitor.get(link.group(1), follow=True)
    visitor.post(
        form.redirect_chain[-1][0], {"new_password1": "harbour-fig-27", "new_password2": "harbour-fig-27"}
    )

    assert _signs_in(annotator.username, "harbour-fig-27")
    assert not _signs_in(annotator.username, "pw-annotator-1")
