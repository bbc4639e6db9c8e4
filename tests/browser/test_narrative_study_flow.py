"""The sequential narrative study in Chromium: a participant goes from the instructions and consent
through two story matchups to the end; the page fits a laptop screen."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import User

from annotate.models import Judgment
from generation.models import Method, Video
from studies.models import Participant
from tests.browser.conftest import sign_in
from tests.browser.test_screen_fit import measure_at_every_size, orientation  # noqa: F401 (a fixture)
from tests.browser.test_study_flow import answer_every_question, join_study
from tests.studies.conftest import build_story_catalog, make_study

pytestmark = pytest.mark.django_db(transaction=True)

SHOTS = Path("/tmp")


def test_a_participant_takes_a_narrative_study_from_consent_to_completion(
    page, chromium, csp_watch, live_server, tmp_path
):
    catalog = build_story_catalog(baselines=1, stories=2, references=tmp_path)
    study = make_study(
        catalog, name="Narrative study", matchups_per_participant=2, min_watch_fraction=1.0,
        completion_code="STORY-DONE",
    )  # fmt: skip
    page.goto(f"{live_server.url}/s/{study.public_slug}/")
    assert page.get_by_text("a short story told in a few numbered shots").is_visible()
    served = join_study(page, f"{live_server.url}/s/{study.public_slug}/")
    # Each joined file carries its shot starts for the shot strip; nothing on the page names a method.
    assert served.count('data-shot-starts="0 0.5 1"') == 2
    assert not any(method.name in served for method in Method.objects.all())

    for number in (1, 2):
        page.wait_for_url(f"**/m/{number}/")
        matchup = Participant.objects.get().matchups.get(position=number - 1)
        story = Video.objects.select_related("rendering__story").get(pk=matchup.video_ids[0]).rendering.story
        shots = page.locator("ol.story-shots li")
        assert shots.all_inner_texts() == [prompt.shown_text for prompt in story.shot_prompts()]
        assert page.locator(".study-views figcaption").all_inner_texts() == ["Back"]
        # Both joined files play through before the answers unlock, as for clips.
        page.locator("button[data-vote]:enabled").wait_for()
        asked = answer_every_question(page, "Left Video" if number == 1 else "Right Video")
        assert asked == 4
        if number == 1:
            page.screenshot(path=SHOTS / "study_narrative_matchup.png", full_page=True)
        page.get_by_role("button", name="Next" if number == 1 else "Finish").click()

    page.wait_for_url("**/done/")
    assert page.locator("#completion-code").inner_text() == "STORY-DONE"
    participant = Participant.objects.get()
    assert participant.status == Participant.Status.COMPLETED
    judgments = Judgment.objects.filter(rater=participant.rater)
    assert judgments.count() == 8
    assert set(judgments.values_list("criterion", flat=True)) == {
        "identity_consistency",
        "body_consistency",
        "narrative_adherence",
        "continuity",
    }
    for matchup in participant.matchups.all():
        assert min(matchup.watched) > 0.96

    # The admin reads the four criteria in the results and the figure.
    User.objects.create_user("study-admin-n", password="pw-study-admin-n", is_staff=True)
    admin_context = chromium.new_context(viewport={"width": 1280, "height": 900})
    csp_watch.watch(admin_context)
    admin = admin_context.new_page()
    sign_in(admin, live_server.url, "study-admin-n", "pw-study-admin-n")
    admin.goto(f"{live_server.url}/studies/{study.pk}/results/")
    for label in ("Identity consistency", "Body consistency", "Narrative adherence", "Continuity"):
        assert admin.get_by_role("cell", name=label).first.is_visible()
    admin.wait_for_function("document.querySelector('img.results-figure').naturalWidth > 0")
    admin.screenshot(path=SHOTS / "study_narrative_results.png", full_page=True)
    admin.goto(f"{live_server.url}/studies/{study.pk}/")
    admin.screenshot(path=SHOTS / "study_narrative_detail.png", full_page=True)
    admin_context.close()


def test_the_first_question_of_a_narrative_matchup_is_in_view_at_laptop_sizes(
    page,
    live_server,
    tmp_path,
    orientation,  # noqa: F811 (the fixture imported above)
):
    catalog = build_story_catalog(baselines=1, stories=1, references=tmp_path)
    study = make_study(catalog, matchups_per_participant=2, min_watch_fraction=1.0)
    join_study(page, f"{live_server.url}/s/{study.public_slug}/")

    def first_question():
        return page.locator("fieldset.study-q").first

    measure_at_every_size(page, first_question, f"study_narrative_{orientation}")
