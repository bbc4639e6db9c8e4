"""A study admin previews a study's participant pages; nothing is stored or counted."""

from __future__ import annotations

from annotate.models import Comparison, Judgment, Rater
from studies.models import Answer, Matchup, Participant
from tests.studies.conftest import make_study

STORED = (Participant, Matchup, Answer, Judgment, Rater, Comparison)


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in STORED}


def test_an_admin_walks_through_every_page_and_nothing_is_stored(catalog, admin_client):
    study = make_study(catalog, matchups_per_participant=3, completion_code="DONE-1")
    before = counts()
    base = f"/studies/{study.pk}/preview/"

    information = admin_client.get(base).content.decode()
    assert "Preview" in information and "Nothing is stored or" in information
    assert "About this study" in information and "Checking your browser" in information
    assert f'action="{base}consent/"' in information

    consent = admin_client.get(f"{base}consent/").content.decode()
    assert "Your consent" in consent and f'action="{base}consent/"' in consent
    refused = admin_client.post(f"{base}consent/", {})
    assert refused.status_code == 400 and b"Please tick the box" in refused.content
    assert admin_client.post(f"{base}consent/", {"agree": "on"})["Location"] == f"{base}m/1/"

    for number in (1, 2, 3):
        page = admin_client.get(f"{base}m/{number}/").content.decode()
        assert f"Matchup {number} of 3" in page and "<video" in page and "Left Video" in page
        assert "/watch" not in page and "/s/" not in page  # nothing reports back to a participant's URL
        go = "finish" if number == 3 else "next"
        picks = {"q_identity_fidelity": 0, "q_visual_quality": 1, "go": go}
        target = admin_client.post(f"{base}m/{number}/", picks)["Location"]
        assert target == (f"{base}done/" if number == 3 else f"{base}m/{number + 1}/")
    assert admin_client.post(f"{base}m/2/", {"go": "previous"})["Location"] == f"{base}m/1/"

    done = admin_client.get(f"{base}done/").content.decode()
    assert "Thank you!" in done and "DONE-1" in done
    assert counts() == before
    assert admin_client.get(f"{base}m/4/").status_code == 404


def test_a_draft_can_be_previewed_and_the_study_page_links_to_it(catalog, admin_client):
    study = make_study(catalog, status="draft", matchups_per_participant=2)
    assert (
        f'href="/studies/{study.pk}/preview/"' in admin_client.get(f"/studies/{study.pk}/").content.decode()
    )
    assert admin_client.get(f"/studies/{study.pk}/preview/m/1/").status_code == 200
    assert counts()["Participant"] == 0


def test_only_study_admins_can_preview(catalog, outsider_client, annotator_client):
    study = make_study(catalog)
    for client in (outsider_client, annotator_client):
        for suffix in ("", "consent/", "m/1/", "done/"):
            assert client.get(f"/studies/{study.pk}/preview/{suffix}").status_code == 404
