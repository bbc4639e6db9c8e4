"""Quality checks of studies: gold matchups, repeated matchups, the screen-out rule for crowd participants."""

from __future__ import annotations

import re

import pytest

from annotate.gold import make_gold_pairs
from annotate.models import Choice, Criterion, GoldAnswer, Judgment, Rater
from generation.models import Video
from studies import services
from studies.errors import ParticipantScreenedOut, StudyFrozen, StudySetupError
from studies.models import Matchup, Participant, ParticipantDecision, Study
from tests.studies.conftest import make_study, take_part

CROWD = {"PROLIFIC_PID": "crowd-worker-1", "STUDY_ID": "s1", "SESSION_ID": "x1"}


def make_gold(catalog, limit: int = 6) -> list[GoldAnswer]:
    """Made identity-fidelity gold pairs: a video of ours against the same prompt for another person."""
    return make_gold_pairs(
        criterion=Criterion.IDENTITY_FIDELITY, videos=Video.objects.filter(method=catalog.ours), limit=limit
    )


def checked_study(catalog, **options) -> Study:
    options.setdefault("matchups_per_participant", 12)
    options.setdefault("gold_matchups_per_participant", 3)
    options.setdefault("repeat_matchups_per_participant", 3)
    return make_study(catalog, **options)


def wrong_pick(matchup: Matchup) -> int:
    """The display position of the video that contradicts the matchup's known identity-fidelity answer."""
    gold = GoldAnswer.objects.get(comparison=matchup.comparison, criterion=Criterion.IDENTITY_FIDELITY)
    comparison = matchup.comparison
    wrong = comparison.video_b_id if gold.answer == Choice.A else comparison.video_a_id
    return matchup.video_ids.index(wrong)


def asked(matchup: Matchup) -> list[str]:
    return [
        q.criterion
        for q in matchup.participant.study.questions.all()
        if matchup.asks_element_consistency or not q.is_element_consistency
    ]


def answer(participant: Participant, matchup: Matchup, picks: dict[str, int]) -> None:
    services.answers_save(participant=participant, matchup_id=matchup.pk, picks=picks, elapsed_ms=4000)


# --- the plan ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_a_plan_has_exactly_the_configured_gold_and_repeats_each_repeat_later_with_sides_swapped(
    catalog, seed
):
    golds = make_gold(catalog)
    study = checked_study(catalog)
    plan = list(take_part(study, seed=seed).matchups.order_by("position"))

    assert [m.position for m in plan] == list(range(12))
    purposes = [m.purpose for m in plan]
    assert purposes.count("gold") == 3 and purposes.count("repeat") == 3 and purposes.count("real") == 6

    gold_comparisons = {g.comparison_id for g in golds}
    gold = [m for m in plan if m.purpose == Matchup.Purpose.GOLD]
    assert len({m.comparison_id for m in gold}) == 3  # never the same gold pair twice
    for matchup in gold:
        assert matchup.comparison_id in gold_comparisons
        assert set(matchup.video_ids) == {matchup.comparison.video_a_id, matchup.comparison.video_b_id}

    repeats = [m for m in plan if m.purpose == Matchup.Purpose.REPEAT]
    assert len({m.repeat_of_id for m in repeats}) == 3  # no two repeats of one original
    for repeat in repeats:
        original = repeat.repeat_of
        assert original.purpose == Matchup.Purpose.REAL
        assert repeat.position > original.position
        assert repeat.video_ids == original.video_ids[::-1]
        assert repeat.comparison_id == original.comparison_id
        assert repeat.asks_element_consistency == original.asks_element_consistency


def test_gold_pairs_outside_the_studys_people_or_questions_are_not_planned(catalog):
    make_gold(catalog)
    study = checked_study(catalog, status=Study.Status.DRAFT)
    services.study_update(study=study, identities=catalog.identities[:1])
    study = services.study_status_set(study=study, status=Study.Status.OPEN)
    # Made identity pairs ask about one person; only those about the study's person may be shown.
    plan = take_part(study).matchups.all()
    for matchup in plan.filter(purpose=Matchup.Purpose.GOLD):
        assert matchup.comparison.identity_id == catalog.identities[0].pk


def test_without_a_gold_comparison_the_plan_has_none_and_the_admin_page_says_how_to_make_them(
    catalog, admin_client
):
    study = checked_study(catalog)
    page = admin_client.get(f"/studies/{study.pk}/").content.decode()
    assert 'id="gold-missing"' in page and "manage.py make_gold --criterion" in page

    purposes = [m.purpose for m in take_part(study).matchups.all()]
    assert len(purposes) == 12 and purposes.count("gold") == 0 and purposes.count("repeat") == 3

    make_gold(catalog)
    assert 'id="gold-missing"' not in admin_client.get(f"/studies/{study.pk}/").content.decode()


# --- the participant's page -------------------------------------------------------------------------


def normalised(html: str) -> str:
    """The page with what differs between any two matchups taken out: ids, numbers, media names, prompt."""
    html = re.sub(r"<blockquote>.*?</blockquote>", "<blockquote></blockquote>", html, flags=re.S)
    html = re.sub(r"[0-9A-Za-z]{32,}", "H", html)  # media names and the CSRF token
    return re.sub(r"\d+", "N", html)


def test_the_pages_of_gold_and_repeated_matchups_are_structurally_identical_to_a_real_one(catalog, client):
    make_gold(catalog)
    study = checked_study(catalog, matchups_per_participant=16, gold_matchups_per_participant=4)
    base = f"/s/{study.public_slug}/"
    client.post(base, CROWD)
    client.post(f"{base}consent/", {"agree": "on"})
    participant = Participant.objects.get()
    plan = list(participant.matchups.order_by("position"))
    pages: dict[int, str] = {}
    for matchup in plan[:-1]:  # the last page has Finish instead of Next
        pages[matchup.position] = normalised(client.get(f"{base}m/{matchup.number}/").content.decode())
        # Right answers on the known criterion: this participant stays in.
        picks = dict.fromkeys(asked(matchup), 0)
        if matchup.purpose == Matchup.Purpose.GOLD:
            picks[Criterion.IDENTITY_FIDELITY] = 1 - wrong_pick(matchup)
        answer(participant, matchup, picks)

    def real_like(matchup: Matchup) -> str:
        twin = next(
            m
            for m in plan[1:-1]
            if m.purpose == Matchup.Purpose.REAL
            and m.asks_element_consistency == matchup.asks_element_consistency
        )
        return pages[twin.position]

    checked = [m for m in plan[1:-1] if m.purpose != Matchup.Purpose.REAL]
    assert {m.purpose for m in checked} == {"gold", "repeat"}
    for matchup in checked:
        assert pages[matchup.position] == real_like(matchup), matchup.purpose
        assert "gold" not in pages[matchup.position].lower()
        assert "repeat" not in pages[matchup.position].lower()


# --- judgments ------------------------------------------------------------------------------------------


def test_judgments_of_gold_and_repeated_matchups_carry_their_flags_and_the_original(catalog):
    make_gold(catalog)
    participant = take_part(checked_study(catalog), seed=7)
    for matchup in participant.matchups.order_by("position"):
        answer(participant, matchup, dict.fromkeys(asked(matchup), 1))

    for matchup in participant.matchups.all():
        judgments = Judgment.objects.filter(study_answers__matchup=matchup)
        assert judgments.count() == len(asked(matchup))
        for judgment in judgments:
            assert judgment.is_gold == (matchup.purpose == Matchup.Purpose.GOLD)
            assert judgment.is_repeat == (matchup.purpose == Matchup.Purpose.REPEAT)
            if matchup.purpose == Matchup.Purpose.REPEAT:
                original = Judgment.objects.get(
                    study_answers__matchup=matchup.repeat_of, criterion=judgment.criterion
                )
                assert judgment.repeat_of == original
                # Sides swapped and the same display position picked: the other video this time.
                assert judgment.shown_left != original.shown_left and judgment.choice != original.choice
            else:
                assert judgment.repeat_of is None


# --- the screen-out rule -------------------------------------------------------------------------------


def answer_failing_gold(participant: Participant, *, wrong_elsewhere: bool = False) -> list[Matchup]:
    """Answer in order, contradicting the known answer on each gold matchup (or, with
    ``wrong_elsewhere``, keeping it and picking the other video on every other question);
    returns the gold matchups answered."""
    answered = []
    for matchup in participant.matchups.order_by("position"):
        picks = dict.fromkeys(asked(matchup), 0)
        if matchup.purpose == Matchup.Purpose.GOLD:
            wrong = wrong_pick(matchup)
            picks = dict.fromkeys(asked(matchup), 1 - wrong if wrong_elsewhere else 0)
            picks[Criterion.IDENTITY_FIDELITY] = 1 - wrong if wrong_elsewhere else wrong
            answered.append(matchup)
        answer(participant, matchup, picks)
        participant.refresh_from_db()
        if participant.is_screened_out:
            break
    return answered


def test_a_crowd_participant_failing_two_gold_matchups_is_screened_out_and_their_answers_count_nowhere(
    catalog, client
):
    make_gold(catalog)
    study = checked_study(catalog, screened_out_code="SCREENED-42", completion_code="DONE-1")
    base = f"/s/{study.public_slug}/"
    client.post(base, CROWD)
    client.post(f"{base}consent/", {"agree": "on"})
    participant = Participant.objects.get()
    assert participant.is_crowd

    gold_answered = answer_failing_gold(participant)

    assert len(gold_answered) == 2  # screened out at the second failure, not before
    assert participant.status == Participant.Status.SCREENED_OUT
    assert Rater.objects.get(pk=participant.rater_id).excluded
    decision = ParticipantDecision.objects.get(participant=participant)
    assert decision.action == ParticipantDecision.Action.SCREEN_OUT
    assert decision.reason == "failed 2 of 2 gold matchups"
    assert decision.decided_by is None

    open_matchup = participant.matchups.filter(answered_at__isnull=True).first()
    with pytest.raises(ParticipantScreenedOut):
        answer(participant, open_matchup, dict.fromkeys(asked(open_matchup), 0))

    response = client.get(f"{base}m/1/", follow=True)
    page = response.content.decode()
    assert response.redirect_chain[-1][0] == f"{base}done/"
    assert "this study has no more matchups for you" in page and "SCREENED-42" in page
    assert "DONE-1" not in page and "gold" not in page.lower() and "fail" not in page.lower()


def test_a_participant_without_a_crowd_id_is_never_screened_out(catalog):
    make_gold(catalog)
    participant = take_part(checked_study(catalog), seed=3)
    assert not participant.is_crowd
    assert len(answer_failing_gold(participant)) == 3
    participant.refresh_from_db()
    assert participant.status == Participant.Status.ACTIVE
    services.participant_finish(participant=participant)
    assert not Rater.objects.get(pk=participant.rater_id).excluded
    assert not ParticipantDecision.objects.exists()


def test_only_the_criterion_with_a_known_answer_decides_a_gold_matchup(catalog):
    make_gold(catalog)
    participant = take_part(checked_study(catalog), seed=4, crowd=CROWD)
    assert len(answer_failing_gold(participant, wrong_elsewhere=True)) == 3
    participant.refresh_from_db()
    assert participant.status == Participant.Status.ACTIVE


def test_the_screen_out_rule_set_to_0_screens_nobody_out(catalog):
    make_gold(catalog)
    participant = take_part(checked_study(catalog, screen_out_after_failed_gold=0), crowd=CROWD)
    assert len(answer_failing_gold(participant)) == 3
    participant.refresh_from_db()
    assert participant.status == Participant.Status.ACTIVE


# --- settings and bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("gold_matchups_per_participant", 4, "more than a quarter of the 12 matchups"),
        ("repeat_matchups_per_participant", 5, "more than a quarter of the 12 matchups"),
        ("gold_matchups_per_participant", -1, "Use 0 for no gold matchups"),
        ("screen_out_after_failed_gold", -2, "Use 0 to turn the screen-out rule off"),
    ],
)
def test_the_form_refuses_checks_beyond_a_quarter_or_negative_with_a_clear_message(
    catalog, admin_client, field, value, message
):
    from tests.studies.test_study_admin_views import design_post

    response = admin_client.post(
        "/studies/new/", design_post(catalog, matchups_per_participant=12, **{field: value})
    )
    assert response.status_code == 200 and message in response.content.decode()
    assert not Study.objects.exists()


def test_the_services_refuse_too_many_checks_and_keep_them_frozen_once_open(catalog):
    with pytest.raises(StudySetupError, match="more than a quarter of the 8 matchups"):
        make_study(catalog, matchups_per_participant=8, gold_matchups_per_participant=3)
    assert not Study.objects.exists()
    study = checked_study(catalog)
    with pytest.raises(StudyFrozen):
        services.study_update(study=study, repeat_matchups_per_participant=1)
    with pytest.raises(StudyFrozen):
        services.study_update(study=study, screen_out_after_failed_gold=3)
    # The screened-out code is a crowd setting like the completion code: it may be fixed at any time.
    assert services.study_update(study=study, screened_out_code="NEW").screened_out_code == "NEW"


def test_a_short_study_gets_checks_within_a_quarter_by_default(catalog):
    study = services.study_create(
        name="Short",
        ours=catalog.ours,
        baselines=catalog.baselines,
        identities=catalog.identities,
        prompts=catalog.prompts,
        matchups_per_participant=6,
    )
    assert study.name == "Short"
    assert (study.gold_matchups_per_participant, study.repeat_matchups_per_participant) == (1, 1)
    assert study.screen_out_after_failed_gold == 2


def test_a_best_of_all_repeat_stays_linked_when_its_original_is_answered_again(catalog):
    study = checked_study(catalog, preset="personalvideo")
    participant = take_part(study, seed=2)
    repeat = participant.matchups.filter(purpose=Matchup.Purpose.REPEAT).order_by("position").first()
    original = repeat.repeat_of
    for matchup in participant.matchups.filter(position__lte=repeat.position).order_by("position"):
        answer(participant, matchup, dict.fromkeys(asked(matchup), 0))
    # Sides swapped and the same display position: the repeat picked the video the original did not.
    criterion = asked(original)[0]
    answer(participant, original, {criterion: len(original.video_ids) - 1})  # now the repeat's pick

    originals = Judgment.objects.filter(study_answers__matchup=original, criterion=criterion)
    linked = Judgment.objects.filter(
        study_answers__matchup=repeat, criterion=criterion, repeat_of__isnull=False
    )
    assert linked.exists()
    for judgment in linked:
        assert judgment.is_repeat and judgment.repeat_of in originals
        assert judgment.repeat_of.comparison_id == judgment.comparison_id
