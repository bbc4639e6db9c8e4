from __future__ import annotations

from collections import Counter

import pytest

from generation.models import Video
from studies.models import Matchup, Study
from tests.studies.conftest import build_catalog, fake_video, make_study, take_part


def ours_left(matchup: Matchup, ours_id: int) -> bool:
    return Video.objects.get(pk=matchup.video_ids[0]).method_id == ours_id


@pytest.mark.parametrize("matchups", [7, 12, 40])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_baseline_is_met_equally_often_and_sides_are_counterbalanced(catalog, matchups, seed):
    study = make_study(catalog, matchups_per_participant=matchups)
    participant = take_part(study, seed=seed)
    plan = list(participant.matchups.all())
    assert len(plan) == matchups

    per_baseline = Counter(m.baseline_id for m in plan)
    assert set(per_baseline) == {b.pk for b in catalog.baselines}
    assert max(per_baseline.values()) - min(per_baseline.values()) <= 1

    left = [ours_left(m, catalog.ours.pk) for m in plan]
    assert abs(left.count(True) - left.count(False)) <= 1
    for baseline in catalog.baselines:
        sides = [ours_left(m, catalog.ours.pk) for m in plan if m.baseline_id == baseline.pk]
        assert abs(sides.count(True) - sides.count(False)) <= 1


def test_ours_and_the_baseline_show_the_same_identity_prompt_and_seed(db):
    catalog = build_catalog(baselines=2, identities=2, prompts=2, seeds=(0, 1, 2))
    participant = take_part(make_study(catalog, matchups_per_participant=16))
    for matchup in participant.matchups.all():
        videos = Video.objects.filter(pk__in=matchup.video_ids)
        assert {v.method_id for v in videos} == {catalog.ours.pk, matchup.baseline_id}
        assert {(v.identity_id, v.prompt_id, v.seed) for v in videos} == {
            (matchup.identity_id, matchup.prompt_id, videos[0].seed)
        }
        assert matchup.comparison is not None
        assert {matchup.comparison.video_a_id, matchup.comparison.video_b_id} == set(matchup.video_ids)
        assert matchup.comparison.video_a_id < matchup.comparison.video_b_id


def test_without_a_common_seed_the_same_identity_and_prompt_are_paired(db):
    catalog = build_catalog(baselines=1, identities=1, prompts=1, seeds=())
    identity, prompt = catalog.identities[0], catalog.prompts[0]
    fake_video(method=catalog.ours, identity=identity, prompt=prompt, seed=5)
    fake_video(method=catalog.baselines[0], identity=identity, prompt=prompt, seed=9)
    participant = take_part(make_study(catalog, matchups_per_participant=2))
    for matchup in participant.matchups.all():
        videos = Video.objects.filter(pk__in=matchup.video_ids)
        assert {(v.identity_id, v.prompt_id) for v in videos} == {(identity.pk, prompt.pk)}
        assert {v.seed for v in videos} == {5, 9}


def test_identities_and_prompts_are_spread_and_no_case_repeats_while_others_are_unused(db):
    catalog = build_catalog(baselines=1, identities=3, prompts=4)
    participant = take_part(make_study(catalog, matchups_per_participant=12), seed=3)
    plan = list(participant.matchups.all())
    assert len({(m.identity_id, m.prompt_id) for m in plan}) == 12
    participant = take_part(make_study(catalog, matchups_per_participant=6), seed=4)
    plan = list(participant.matchups.all())
    identities = Counter(m.identity_id for m in plan)
    prompts = Counter(m.prompt_id for m in plan)
    assert sorted(identities.values()) == [2, 2, 2]
    assert max(prompts.values()) - min(prompts.values()) <= 1


def test_the_study_as_a_whole_stays_balanced_across_participants(catalog):
    study = make_study(catalog, matchups_per_participant=4)
    for seed in range(3):
        take_part(study, seed=seed)
    totals = Counter(Matchup.objects.filter(participant__study=study).values_list("baseline_id", flat=True))
    assert sorted(totals.values()) == [4, 4, 4]


def test_element_consistency_is_asked_exactly_where_the_prompt_keeps_elements(catalog):
    participant = take_part(make_study(catalog, matchups_per_participant=24), seed=5)
    plan = list(participant.matchups.select_related("prompt"))
    assert any(m.prompt.keeps_elements for m in plan) and not all(m.prompt.keeps_elements for m in plan)
    for matchup in plan:
        assert matchup.asks_element_consistency == matchup.prompt.keeps_elements


def test_element_consistency_on_a_share_is_asked_on_that_share_of_the_matchups_where_it_applies(catalog):
    study = make_study(
        catalog,
        matchups_per_participant=24,
        element_policy=Study.ElementPolicy.FRACTION,
        element_fraction=0.5,
    )
    plan = list(take_part(study, seed=6).matchups.select_related("prompt"))
    applicable = [m for m in plan if m.prompt.keeps_elements]
    asked = [m for m in plan if m.asks_element_consistency]
    assert set(asked) <= set(applicable)
    assert len(asked) == round(0.5 * len(applicable))


def test_a_study_without_the_element_question_never_asks_it(catalog):
    study = make_study(catalog, preset="concatid", matchups_per_participant=12)
    assert not take_part(study).matchups.filter(asks_element_consistency=True).exists()


def test_best_of_all_shows_every_method_on_one_case_with_ours_in_each_position_equally_often(catalog):
    study = make_study(catalog, preset="personalvideo", matchups_per_participant=10)
    assert study.format == Study.Format.BEST_OF_ALL
    plan = list(take_part(study, seed=2).matchups.all())
    methods = {catalog.ours.pk, *(b.pk for b in catalog.baselines)}
    ours_positions = Counter()
    for matchup in plan:
        videos = Video.objects.in_bulk(matchup.video_ids)
        shown = [videos[pk] for pk in matchup.video_ids]
        assert {v.method_id for v in shown} == methods
        assert len({(v.identity_id, v.prompt_id, v.seed) for v in shown}) == 1
        ours_positions[next(k for k, v in enumerate(shown) if v.method_id == catalog.ours.pk)] += 1
    assert set(ours_positions) == {0, 1, 2, 3}
    assert max(ours_positions.values()) - min(ours_positions.values()) <= 1


def test_consenting_twice_keeps_the_first_plan(catalog):
    from studies import services

    participant = take_part(make_study(catalog))
    before = list(participant.matchups.values_list("pk", "video_ids"))
    services.participant_consent(participant=participant, confirmed=True)
    assert list(participant.matchups.values_list("pk", "video_ids")) == before
