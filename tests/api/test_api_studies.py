"""GET /api/studies/: a study says what kind it is and, when narrative, which stories it draws from."""

from __future__ import annotations

from rest_framework.test import APIClient

from tests.studies.conftest import build_catalog, build_story_catalog, make_study


def test_a_narrative_study_lists_its_kind_and_stories_and_a_clip_study_none(
    ml_api: APIClient, tmp_path
) -> None:
    narrative = make_study(build_story_catalog(baselines=1, stories=1, references=tmp_path), name="Stories")
    clips = make_study(build_catalog(baselines=1, identities=1, prompts=1), name="Clips")

    rows = {row["id"]: row for row in ml_api.get("/api/studies/").json()["results"]}
    assert rows[narrative.pk]["kind"] == "narrative" and rows[narrative.pk]["preset"] == "narrative"
    assert rows[narrative.pk]["stories"] == [story.pk for story in narrative.stories.all()]
    assert rows[narrative.pk]["identities"] == [] and rows[narrative.pk]["prompts"] == []
    assert rows[clips.pk]["kind"] == "clips" and rows[clips.pk]["stories"] == []
