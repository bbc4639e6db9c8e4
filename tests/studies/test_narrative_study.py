"""The sequential narrative study: stories as cases, their joined files paired, the setup checks, the
participant's page and the results; clip studies never show a story's videos."""

from __future__ import annotations

import re

import pytest

from generation.models import Method, Reference, Video
from studies import selectors, services
from studies.models import Study
from studies.results import study_results
from tests.factories import make_story, make_story_rendering
from tests.studies.conftest import (
    answer_all,
    build_catalog,
    build_story_catalog,
    fake_video,
    make_study,
    take_part,
)
from tests.studies.test_study_admin_views import design_post

NARRATIVE_CRITERIA = ["identity_consistency", "body_consistency", "narrative_adherence", "continuity"]


@pytest.fixture
def stories(db, tmp_path):
    return build_story_catalog(baselines=2, stories=2, seeds=(0, 1), references=tmp_path)


def test_a_narrative_matchup_pairs_the_joined_files_of_one_story_with_the_same_seed(stories):
    study = make_study(stories, matchups_per_participant=8)
    assert study.is_narrative and study.is_pairwise
    participant = take_part(study)
    assert participant.matchups.count() == 8
    seen_stories = set()
    for matchup in participant.matchups.all():
        videos = list(Video.objects.filter(pk__in=matchup.video_ids).select_related("rendering"))
        assert {v.method_id for v in videos} == {stories.ours.pk, matchup.baseline_id}
        assert all(v.rendering is not None and v.shot is None for v in videos)  # joined files only
        (story_id,) = {v.rendering.story_id for v in videos}
        assert len({v.rendering.seed for v in videos}) == 1
        story = next(s for s in stories.stories if s.pk == story_id)
        assert matchup.identity_id == story.identity_id
        assert matchup.prompt_id == story.shot_prompts()[0].pk
        assert set(matchup.video_ids) == {matchup.comparison.video_a_id, matchup.comparison.video_b_id}
        seen_stories.add(story_id)
    assert seen_stories == {s.pk for s in stories.stories}


def test_a_clip_study_never_shows_a_storys_shots_or_joined_files(db, tmp_path):
    catalog = build_catalog(baselines=1, identities=1, prompts=1)
    story = make_story(catalog.identities[0], shots=2)
    for method in (catalog.ours, *catalog.baselines):
        make_story_rendering(story, method, frames=4)
    # The story's prompts are chosen too: its shots share person and prompt with the study's cases.
    study = make_study(catalog, prompts=[*catalog.prompts, *story.shot_prompts()], matchups_per_participant=6)

    shown = {pk for matchup in take_part(study).matchups.all() for pk in matchup.video_ids}
    assert shown and not Video.objects.filter(pk__in=shown, rendering__isnull=False).exists()
    (row,) = selectors.study_case_pool(study=study)
    assert row.cases == 1 and row.prompts == 1
    assert not selectors.study_videos(study=study).filter(rendering__isnull=False).exists()


def test_a_narrative_study_with_no_rendered_story_pair_says_so_and_does_not_open(db, tmp_path):
    catalog = build_story_catalog(baselines=1, stories=1, references=tmp_path)
    lonely = Method.objects.create(name="never-rendered", role=Method.Role.BASELINE)
    study = make_study(catalog, status=Study.Status.DRAFT, baselines=[lonely])

    (problem,) = services.study_setup_problems(study=study)
    assert problem.startswith(f"No chosen story has renderings of ours and {lonely.name}:")
    with pytest.raises(services.StudySetupError, match="No chosen story has renderings"):
        services.study_status_set(study=study, status=Study.Status.OPEN)

    study.stories.clear()
    assert services.study_setup_problems(study=study) == ["Choose at least one story."]


def test_a_clip_video_of_a_storys_person_makes_no_narrative_case(db, tmp_path):
    catalog = build_story_catalog(baselines=1, stories=1, references=tmp_path)
    story = catalog.stories[0]
    fake_video(method=catalog.ours, identity=story.identity, prompt=story.shot_prompts()[0], seed=7)
    pools = selectors.study_pools(study=make_study(catalog, status=Study.Status.DRAFT))
    (cases,) = pools.values()
    assert len(cases) == 1 and cases[0].story_id == story.pk


def test_the_narrative_preset_is_created_from_the_form_with_its_four_questions_and_stories(
    stories, admin_client
):
    response = admin_client.post("/studies/new/", design_post(stories, preset="narrative"))
    study = Study.objects.get()
    assert response["Location"] == f"/studies/{study.pk}/"
    assert study.kind == Study.Kind.NARRATIVE and study.format == Study.Format.PAIRWISE
    assert list(study.questions.values_list("criterion", flat=True)) == NARRATIVE_CRITERIA
    assert set(study.stories.all()) == set(stories.stories)
    assert "shot" in study.instructions and "withdraw" in study.instructions

    page = admin_client.get(f"/studies/{study.pk}/").content.decode()
    assert '<th class="num">Stories</th>' in page and "No chosen story" not in page
    edit = admin_client.get(f"/studies/{study.pk}/edit/").content.decode()
    assert "Which video flows more smoothly from shot to shot?" in edit  # editable like any question


def test_the_form_asks_a_narrative_study_for_stories_and_a_clip_study_for_people_and_prompts(
    stories, admin_client
):
    response = admin_client.post("/studies/new/", design_post(stories, preset="narrative", stories=[]))
    assert response.status_code == 200 and not Study.objects.exists()
    assert "A sequential narrative study needs at least one story." in response.content.decode()

    response = admin_client.post("/studies/new/", design_post(stories))
    assert response.status_code == 200 and not Study.objects.exists()
    assert "Choose at least one person to draw cases from." in response.content.decode()
    assert "Choose at least one prompt to draw cases from." in response.content.decode()


def test_the_matchup_page_shows_the_story_shot_by_shot_and_every_viewpoint_without_naming_a_method(
    stories, client
):
    study = make_study(stories, matchups_per_participant=2)
    slug = study.public_slug
    client.post(f"/s/{slug}/")
    client.post(f"/s/{slug}/consent/", {"agree": "on"})
    page = client.get(f"/s/{slug}/m/1/").content.decode()

    matchup = study.participants.get().matchups.get(position=0)
    story = Video.objects.select_related("rendering__story").get(pk=matchup.video_ids[0]).rendering.story
    shots = re.search(r'<ol class="story-shots">(.*?)</ol>', page, re.S).group(1)
    assert re.findall(r"<li>(.*?)</li>", shots) == [p.shown_text for p in story.shot_prompts()]
    assert page.count('data-shot-starts="0 0.5 1"') == 2
    back = Reference.objects.get(identity=story.identity, viewpoint="back")
    assert back.file.name in page and "<figcaption>Back</figcaption>" in page
    for method in Method.objects.all():
        assert method.name not in page
    # The back view is the participant's to see while the study shows it.
    assert client.get(f"/media/{back.file.name}").status_code == 200


def test_the_four_narrative_criteria_are_in_the_results_under_their_labels_and_one_holm_family(stories):
    study = make_study(stories, matchups_per_participant=4)
    answer_all(take_part(study, seed=1), pick=0)
    answer_all(take_part(study, seed=2), pick=1)

    results = study_results(study=study)
    assert {row.criterion for row in results.rows} == set(NARRATIVE_CRITERIA)
    assert {row.question for row in results.rows} == {
        "Identity consistency",
        "Body consistency",
        "Narrative adherence",
        "Continuity",
    }
    assert len(results.rows) == 4 * 2 and all(row.n > 0 for row in results.rows)
    assert results.tested == 8 and all(row.p_holm >= row.p_value for row in results.rows)


def test_a_draft_narrative_study_previews_its_story_pages(stories, admin_client):
    study = make_study(stories, status=Study.Status.DRAFT, matchups_per_participant=2)
    page = admin_client.get(f"/studies/{study.pk}/preview/m/1/").content.decode()
    assert '<ol class="story-shots">' in page and page.count("data-shot-starts=") == 2
    assert not study.participants.exists()
