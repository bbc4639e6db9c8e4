from __future__ import annotations

import re

import pytest

from annotate.models import Choice, Judgment, Side
from generation.models import Video
from studies import services
from studies.errors import IncompleteAnswers, InvalidAnswer, NotYours, StudyNotOpen
from studies.models import Answer, Matchup, Study
from tests.studies.conftest import make_study, take_part


def criteria_of(matchup: Matchup) -> list[str]:
    questions = matchup.participant.study.questions.all()
    return [
        q.criterion for q in questions if matchup.asks_element_consistency or not q.is_element_consistency
    ]


def first_matchup(participant) -> Matchup:
    return participant.matchups.select_related("comparison").get(position=0)


def test_an_answer_is_a_judgment_in_canonical_terms_with_the_side_shown_left(catalog):
    participant = take_part(make_study(catalog))
    matchup = first_matchup(participant)
    criteria = criteria_of(matchup)
    services.answers_save(
        participant=participant, matchup_id=matchup.pk, picks=dict.fromkeys(criteria, 1), elapsed_ms=4200
    )
    judgments = Judgment.objects.filter(rater=participant.rater)
    assert judgments.count() == len(criteria)
    left_video = matchup.video_ids[0]
    shown_left = Side.A if matchup.comparison.video_a_id == left_video else Side.B
    right_side = Side.B if shown_left == Side.A else Side.A
    for judgment in judgments:
        assert judgment.comparison_id == matchup.comparison_id
        assert judgment.shown_left == shown_left
        assert judgment.choice == right_side  # picked the right video
        assert judgment.track is None and judgment.response_ms == 4200
    assert set(judgments.values_list("criterion", flat=True)) == set(criteria)
    matchup.refresh_from_db()
    assert matchup.answered_at is not None and matchup.time_ms == 4200


def test_previous_and_next_change_an_answer_without_adding_a_second_one(catalog):
    participant = take_part(make_study(catalog))
    matchup = first_matchup(participant)
    criteria = criteria_of(matchup)
    services.answers_save(participant=participant, matchup_id=matchup.pk, picks=dict.fromkeys(criteria, 0))
    before = set(Judgment.objects.filter(rater=participant.rater).values_list("pk", flat=True))

    # Back to the page, the first question changed to the right video, the rest kept.
    services.answers_save(
        participant=participant, matchup_id=matchup.pk, picks={criteria[0]: 1}, require_all=False
    )
    services.answers_save(participant=participant, matchup_id=matchup.pk, picks={criteria[0]: 1})

    judgments = Judgment.objects.filter(rater=participant.rater)
    assert set(judgments.values_list("pk", flat=True)) == before
    assert Answer.objects.filter(matchup=matchup).count() == len(criteria)
    changed = judgments.get(criterion=criteria[0])
    right_video = Video.objects.get(pk=matchup.video_ids[1])
    assert changed.choice == (Choice.A if matchup.comparison.video_a_id == right_video.pk else Choice.B)
    assert Answer.objects.get(matchup=matchup, criterion=criteria[0]).picked == 1


def test_previous_and_next_through_the_pages_change_an_answer_without_adding_one(catalog, client):
    study = make_study(catalog, matchups_per_participant=3)
    base = f"/s/{study.public_slug}/"
    client.post(base)
    client.post(f"{base}consent/", {"agree": "on"})
    participant = study.participants.get()
    m1, m2 = participant.matchups.get(position=0), participant.matchups.get(position=1)
    answers = {f"q_{c}": "0" for c in criteria_of(m1)}
    assert (
        client.post(f"{base}m/1/", {"matchup": m1.pk, "go": "next", **answers})["Location"] == f"{base}m/2/"
    )
    assert client.post(f"{base}m/2/", {"matchup": m2.pk, "go": "previous"})["Location"] == f"{base}m/1/"
    page = client.get(f"{base}m/1/").content.decode()
    assert len(re.findall(r'type="radio" name="q_\w+" value="\d" checked', page)) == len(answers)
    changed = {**answers, f"q_{criteria_of(m1)[0]}": "1"}
    client.post(f"{base}m/1/", {"matchup": m1.pk, "go": "next", **changed})
    assert Judgment.objects.filter(rater=participant.rater).count() == len(answers)
    assert Answer.objects.get(matchup=m1, criterion=criteria_of(m1)[0]).picked == 1


def test_next_needs_every_question_answered_but_previous_keeps_what_there_is(catalog):
    participant = take_part(make_study(catalog))
    matchup = first_matchup(participant)
    criteria = criteria_of(matchup)
    with pytest.raises(IncompleteAnswers):
        services.answers_save(participant=participant, matchup_id=matchup.pk, picks={criteria[0]: 0})
    services.answers_save(
        participant=participant, matchup_id=matchup.pk, picks={criteria[0]: 0}, require_all=False
    )
    assert Answer.objects.filter(matchup=matchup).count() == 1
    matchup.refresh_from_db()
    assert matchup.answered_at is None


def test_the_page_shows_a_clear_error_when_a_question_is_left_open(catalog, client):
    study = make_study(catalog, matchups_per_participant=3)
    base = f"/s/{study.public_slug}/"
    client.post(base)
    client.post(f"{base}consent/", {"agree": "on"})
    m1 = study.participants.get().matchups.get(position=0)
    response = client.post(f"{base}m/1/", {"matchup": m1.pk, "go": "next", f"q_{criteria_of(m1)[0]}": "0"})
    assert response.status_code == 400
    assert b"Please answer every question" in response.content


def test_answers_to_another_participants_matchup_are_refused(catalog, client):
    study = make_study(catalog)
    mine, theirs = take_part(study, seed=1), take_part(study, seed=2)
    their_matchup = first_matchup(theirs)
    with pytest.raises(NotYours):
        services.answers_save(
            participant=mine, matchup_id=their_matchup.pk, picks=dict.fromkeys(criteria_of(their_matchup), 0)
        )
    assert not Judgment.objects.exists()

    # Through the page: the form names their matchup, the session is mine.
    client.post(f"/s/{study.public_slug}/")
    client.post(f"/s/{study.public_slug}/consent/", {"agree": "on"})
    data = {"matchup": their_matchup.pk, "go": "next", **{f"q_{c}": "0" for c in criteria_of(their_matchup)}}
    assert client.post(f"/s/{study.public_slug}/m/1/", data).status_code == 404
    assert not Judgment.objects.exists()


def test_a_closed_study_takes_no_answers(catalog, client):
    study = make_study(catalog)
    participant = take_part(study)
    matchup = first_matchup(participant)
    services.study_status_set(study=study, status=Study.Status.CLOSED)
    with pytest.raises(StudyNotOpen):
        services.answers_save(
            participant=participant, matchup_id=matchup.pk, picks=dict.fromkeys(criteria_of(matchup), 0)
        )
    assert not Judgment.objects.exists()


def test_a_closed_study_page_says_so_and_stores_nothing(catalog, client):
    study = make_study(catalog)
    base = f"/s/{study.public_slug}/"
    client.post(base)
    client.post(f"{base}consent/", {"agree": "on"})
    m1 = study.participants.get().matchups.get(position=0)
    services.study_status_set(study=study, status=Study.Status.CLOSED)
    response = client.post(
        f"{base}m/1/", {"matchup": m1.pk, "go": "next", **{f"q_{c}": "0" for c in criteria_of(m1)}}
    )
    assert response.status_code == 409
    assert b"closed" in response.content
    assert not Judgment.objects.exists()


def test_a_pick_outside_the_shown_videos_or_an_unasked_question_is_refused(catalog, client):
    participant = take_part(make_study(catalog))
    matchup = first_matchup(participant)
    with pytest.raises(InvalidAnswer):
        services.answers_save(
            participant=participant, matchup_id=matchup.pk, picks={criteria_of(matchup)[0]: 2}
        )
    with pytest.raises(InvalidAnswer):
        services.answers_save(participant=participant, matchup_id=matchup.pk, picks={"dynamic_degree": 0})


def test_nonsense_posted_to_a_matchup_page_is_a_400_not_a_500(catalog, client):
    study = make_study(catalog)
    base = f"/s/{study.public_slug}/"
    client.post(base)
    client.post(f"{base}consent/", {"agree": "on"})
    for data in (
        {},
        {"matchup": "x", "go": "next"},
        {"matchup": "1", "go": "sideways"},
        {"q_identity_fidelity": "9"},
    ):
        assert client.post(f"{base}m/1/", data).status_code == 400
    assert client.get(f"{base}m/0/").status_code == 302
    assert client.get(f"{base}m/99999/").status_code == 302


def test_the_last_page_finishes_only_when_every_page_is_answered(catalog, client):
    study = make_study(catalog, matchups_per_participant=2, completion_code="C0DE-42")
    participant = take_part(study)
    last = participant.matchups.get(position=1)
    services.answers_save(
        participant=participant, matchup_id=last.pk, picks=dict.fromkeys(criteria_of(last), 0)
    )
    with pytest.raises(IncompleteAnswers) as error:
        services.participant_finish(participant=participant)
    assert error.value.position == 0


def test_a_best_of_all_pick_wins_over_every_other_video_and_a_change_replaces_those_wins(catalog):
    study = make_study(catalog, preset="personalvideo", matchups_per_participant=4)
    participant = take_part(study)
    matchup = first_matchup(participant)
    criterion = criteria_of(matchup)[0]
    services.answers_save(
        participant=participant, matchup_id=matchup.pk, picks={criterion: 2}, require_all=False
    )
    winner = matchup.video_ids[2]

    def wins() -> set[int]:
        rows = Judgment.objects.filter(rater=participant.rater, criterion=criterion).select_related(
            "comparison"
        )
        return {(j.comparison.video_a_id if j.choice == Choice.A else j.comparison.video_b_id) for j in rows}

    assert Judgment.objects.filter(rater=participant.rater).count() == 3
    assert wins() == {winner}
    services.answers_save(
        participant=participant, matchup_id=matchup.pk, picks={criterion: 0}, require_all=False
    )
    assert Judgment.objects.filter(rater=participant.rater).count() == 3
    assert wins() == {matchup.video_ids[0]}
