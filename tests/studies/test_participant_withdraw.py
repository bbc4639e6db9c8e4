from __future__ import annotations

from annotate.models import Judgment
from studies import services
from studies.models import Participant
from studies.results import answers_csv, study_results
from tests.studies.conftest import answer_all, make_study, take_part


def test_withdrawal_removes_the_participant_from_results_and_from_what_export_reads(catalog):
    study = make_study(catalog, matchups_per_participant=6)
    staying, leaving = take_part(study, seed=1), take_part(study, seed=2)
    answer_all(staying, pick=0)
    answer_all(leaving, pick=1)
    counted_before = sum(row.n for row in study_results(study=study).rows)

    services.participant_withdraw(participant=leaving)

    leaving.refresh_from_db()
    assert leaving.status == Participant.Status.WITHDRAWN and leaving.rater.excluded
    exported = Judgment.objects.filter(rater__excluded=False)
    assert not exported.filter(rater=leaving.rater).exists()
    assert (
        exported.filter(rater=staying.rater).count() == Judgment.objects.filter(rater=staying.rater).count()
    )
    results = study_results(study=study)
    assert sum(row.n for row in results.rows) == counted_before // 2
    assert results.participants["withdrawn"] == 1 and results.participants["completed"] == 1
    assert results.answers == staying.matchups.values("answers").count()
    hidden = services.salted_hash("study", study.pk, "participant", leaving.pk)[:16]
    assert hidden not in answers_csv(study=study)


def test_a_withdrawn_participant_can_give_no_more_answers_and_is_told_so(catalog, client):
    study = make_study(catalog, matchups_per_participant=3)
    base = f"/s/{study.public_slug}/"
    client.post(base)
    client.post(f"{base}consent/", {"agree": "on"})
    confirm = client.get(f"{base}withdraw/")
    assert b"Withdraw from the study?" in confirm.content
    response = client.post(f"{base}withdraw/")
    assert b"You have withdrawn" in response.content and b"excluded" in response.content
    participant = study.participants.get()
    assert participant.rater.excluded
    for url in (base, f"{base}m/1/", f"{base}consent/", f"{base}done/"):
        assert client.get(url)["Location"] == f"{base}withdraw/"
    m1 = participant.matchups.get(position=0)
    assert client.post(f"{base}m/1/", {"matchup": m1.pk, "go": "next"}).status_code == 302
    assert not Judgment.objects.exists()


def test_withdrawing_twice_changes_nothing(catalog):
    participant = take_part(make_study(catalog))
    first = services.participant_withdraw(participant=participant)
    second = services.participant_withdraw(participant=participant)
    assert first.withdrawn_at == second.withdrawn_at
