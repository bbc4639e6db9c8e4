from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib.sessions.backends.db import SessionStore as DBSessionStore
from django.contrib.sessions.models import Session
from django.db import DatabaseError, models

from annotate.models import Rater
from studies import services
from studies.errors import AlreadyTookPart, InvitationOnly, StudyFull, StudyNotOpen
from studies.models import Participant, Study
from tests.studies.conftest import answer_all, make_study, take_part

CROWD = {"PROLIFIC_PID": "5f1e2d3c4b5a69788796a5b4", "STUDY_ID": "st-77", "SESSION_ID": "se-99"}


def test_a_second_join_with_the_same_crowd_id_is_refused_politely(catalog):
    study = make_study(catalog)
    services.participant_join(study=study, crowd_params=CROWD)
    with pytest.raises(AlreadyTookPart, match="already taken part"):
        services.participant_join(study=study, crowd_params={**CROWD, "SESSION_ID": "another-session"})
    assert study.participants.count() == 1


def test_the_same_crowd_id_may_join_another_study(catalog):
    services.participant_join(study=make_study(catalog), crowd_params=CROWD)
    services.participant_join(study=make_study(catalog, name="Second"), crowd_params=CROWD)


def test_the_join_page_refuses_a_second_join_with_a_friendly_page(catalog, client):
    study = make_study(catalog)
    url = f"/s/{study.public_slug}/"
    assert client.post(url, CROWD).status_code == 302
    client.cookies.clear()  # another browser, same crowd id
    response = client.post(url, CROWD)
    assert response.status_code == 409
    assert b"already taken part" in response.content
    assert b"Withdraw" not in response.content


def test_crowd_ids_are_kept_only_as_salted_hashes(catalog):
    participant = services.participant_join(study=make_study(catalog), crowd_params=CROWD)
    assert len(participant.crowd_hash) == 64
    assert CROWD["PROLIFIC_PID"] not in participant.crowd_hash
    assert participant.crowd_hash != services.salted_hash(CROWD["PROLIFIC_PID"])
    assert participant.crowd_session_hash and participant.crowd_session_hash != participant.crowd_hash


def test_nothing_stored_anywhere_holds_the_crowd_id_or_the_ip_address(catalog, client):
    study = make_study(catalog, matchups_per_participant=2)
    url = f"/s/{study.public_slug}/"
    client.get(url, CROWD, REMOTE_ADDR="203.0.113.77")
    client.post(url, CROWD, REMOTE_ADDR="203.0.113.77")
    client.post(f"{url}consent/", {"agree": "on"}, REMOTE_ADDR="203.0.113.77")
    needles = [CROWD["PROLIFIC_PID"], CROWD["SESSION_ID"], "203.0.113.77"]
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, models.CharField | models.TextField | models.GenericIPAddressField):
                for needle in needles:
                    found = model.objects.filter(**{f"{field.name}__icontains": needle})
                    assert not found.exists(), f"{model.__name__}.{field.name} holds {needle}"
    for session in Session.objects.all():
        decoded = str(session.get_decoded())
        assert not any(needle in decoded for needle in needles)


def test_a_closed_or_draft_study_takes_nobody_in(catalog):
    for status in (Study.Status.DRAFT, Study.Status.CLOSED):
        with pytest.raises(StudyNotOpen):
            services.participant_join(study=make_study(catalog, status=status))


def test_an_invitation_only_study_refuses_the_public_link(catalog, client):
    study = make_study(catalog, public_join=False)
    with pytest.raises(InvitationOnly):
        services.participant_join(study=study)
    assert client.post(f"/s/{study.public_slug}/").status_code == 403


def test_a_personal_link_lets_its_holder_in(catalog, client):
    study = make_study(catalog, public_join=False)
    [invitation] = services.invitations_create(study=study, count=1)
    response = client.get(f"/s/i/{invitation.token}/")
    assert response.status_code == 302 and response["Location"] == f"/s/{study.public_slug}/"
    assert b"About this study" in client.get(response["Location"]).content
    assert client.post(f"/s/{study.public_slug}/")["Location"] == f"/s/{study.public_slug}/consent/"
    invitation.refresh_from_db()
    assert invitation.status == Participant.Status.JOINED


def test_an_unknown_personal_link_is_not_found(catalog, client):
    make_study(catalog)
    assert client.get("/s/i/not-a-real-token/").status_code == 404


def test_a_study_with_its_target_completed_turns_new_people_away(catalog):
    study = make_study(catalog, target_participants=1, matchups_per_participant=2)
    answer_all(take_part(study))
    with pytest.raises(StudyFull):
        services.participant_join(study=study)


def test_the_join_page_carries_crowd_ids_to_the_join_and_shows_the_filled_instructions(catalog, client):
    study = make_study(catalog, matchups_per_participant=40, contact="lab@example.org")
    response = client.get(f"/s/{study.public_slug}/", CROWD)
    text = response.content.decode()
    assert response.status_code == 200
    assert 'name="PROLIFIC_PID"' in text
    assert "You will see 40 pages" in text and "About 20–30 minutes" in text and "lab@example.org" in text
    assert "{matchups}" not in text


def test_a_returning_participant_continues_where_they_stopped(catalog, client):
    study = make_study(catalog, matchups_per_participant=3)
    base = f"/s/{study.public_slug}/"
    client.post(base)
    client.post(f"{base}consent/", {"agree": "on"})
    participant = Participant.objects.get()
    first = participant.matchups.get(position=0)
    criteria = [
        q.criterion
        for q in study.questions.all()
        if first.asks_element_consistency or not q.is_element_consistency
    ]
    data = {"matchup": first.pk, "go": "next", **{f"q_{c}": "1" for c in criteria}}
    assert client.post(f"{base}m/1/", data)["Location"] == f"{base}m/2/"
    assert client.get(base)["Location"] == f"{base}m/2/"
    assert client.get(f"{base}consent/")["Location"] == f"{base}m/2/"
    # and cannot skip past the first unanswered page
    assert client.get(f"{base}m/3/")["Location"] == f"{base}m/2/"


def test_a_personal_link_with_a_nul_byte_is_not_found(db, client):
    assert client.get("/s/i/%00/").status_code == 404


def test_a_join_while_the_cache_is_down_completes_and_records_one_participant(cache_redis, catalog, client):
    study = make_study(catalog)
    url = f"/s/{study.public_slug}/"
    cache_redis.stop()

    response = client.post(url, CROWD)
    assert response["Location"] == f"{url}consent/"
    assert study.participants.count() == 1
    assert client.get(f"{url}consent/").status_code == 200  # the browser's session knows the participant

    cache_redis.start()
    assert client.post(f"{url}consent/", {"agree": "on"}).status_code == 302
    assert study.participants.get().has_plan
    client.cookies.clear()  # another browser, same crowd id: refused, still one participant
    assert client.post(url, CROWD).status_code == 409
    assert study.participants.count() == 1


def test_a_join_whose_session_cannot_be_saved_leaves_no_participant(catalog, client, monkeypatch):
    study = make_study(catalog)

    def fail(self, must_create=False):
        raise DatabaseError("the session table is unavailable")

    monkeypatch.setattr(DBSessionStore, "save", fail)
    with pytest.raises(DatabaseError):
        client.post(f"/s/{study.public_slug}/", CROWD)
    assert not study.participants.exists()
    assert not Rater.objects.filter(kind=Rater.Kind.PARTICIPANT).exists()

    monkeypatch.undo()
    assert client.post(f"/s/{study.public_slug}/", CROWD).status_code == 302  # the person may try again
    assert study.participants.count() == 1
