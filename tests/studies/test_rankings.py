"""The leaderboard and checkpoint pages: which judgments they read, what they show, and bad input."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotate.models import Comparison, Criterion, Rater, Track, TrackSeat
from annotate.rankings import fit_scores
from studies import rankings
from studies.models import Participant, RankingRun
from studies.rankings import (
    RankingOptions,
    RankingOptionsError,
    RankingScope,
    checkpoint_compare,
    judged,
    options_from_query,
    ranking_run_compute,
    ranking_run_start,
)
from tests.factories import make_track, make_video
from tests.studies.conftest import answer_all, build_catalog, make_study, take_part
from tests.studies.ranking_world import annotator_rater, method_of, strongest_first, vote, vote_by_strength

pytestmark = pytest.mark.django_db

IF = Criterion.IDENTITY_FIDELITY
VQ = Criterion.VISUAL_QUALITY


@pytest.fixture
def track() -> Track:
    """Three methods on one case: three comparisons."""
    return make_track(methods=3)


# --- what is read -----------------------------------------------------------------------------------


def test_the_track_judgments_read_leave_out_checks_excluded_raters_and_excluded_seats(track):
    raters = [annotator_rater(f"r{k}") for k in range(4)]
    vote_by_strength(track, raters[:2])
    comparison = track.comparisons.first()
    best = strongest_first(track)[0]
    vote(comparison, winner=best, rater=raters[0], track=track, is_gold=True)
    vote(comparison, winner=best, rater=raters[2], track=track)
    Rater.objects.filter(pk=raters[2].pk).update(excluded=True)
    vote(comparison, winner=best, rater=raters[3], track=track)
    TrackSeat.objects.create(track=track, user=raters[3].user, rater=raters[3], excluded=True)

    data = judged(RankingScope(tracks=(track.pk,)), IF)

    assert len(data.first) == 6  # 3 comparisons × the 2 raters in good standing
    assert set(data.rater.tolist()) == {raters[0].pk, raters[1].pk}
    assert sorted(data.methods) == sorted(m.name for m in strongest_first(track))


def test_a_pair_of_one_methods_seeds_and_other_tracks_are_not_read(track):
    rater = annotator_rater("r")
    vote_by_strength(track, [rater])
    other = make_track(methods=2)
    vote_by_strength(other, [rater])
    method = strongest_first(track)[0]
    case = track.comparisons.first()
    first = method.videos.get()
    second = make_video(method=method, identity=case.identity, prompt=case.prompt, seed=1, frames=4, size=32)
    seeds = Comparison.objects.create(
        video_a=first, video_b=second, identity=case.identity, prompt=case.prompt
    )
    vote(seeds, winner=method, rater=rater, track=track)

    assert len(judged(RankingScope(tracks=(track.pk,)), IF).first) == 3
    assert len(judged(RankingScope(), IF).first) == 4  # every track: this one's 3 and the other's 1


def test_a_studys_answers_count_and_a_withdrawn_participants_do_not():
    catalog = build_catalog(baselines=2, identities=2, prompts=2)
    study = make_study(catalog, matchups_per_participant=4)
    stays, leaves = take_part(study), take_part(study, seed=5)
    answer_all(stays)
    answer_all(leaves)
    Rater.objects.filter(pk=leaves.rater_id).update(excluded=True)
    Participant.objects.filter(pk=leaves.pk).update(status=Participant.Status.WITHDRAWN)

    data = judged(RankingScope(studies=(study.pk,)), IF)

    assert len(data.first) == 4 and set(data.rater.tolist()) == {stays.rater_id}
    assert catalog.ours.name in data.methods


def test_the_arrays_carry_each_judgments_outcome_for_its_first_method(track):
    rater = annotator_rater("r")
    comparison = track.comparisons.first()
    vote(comparison, winner=method_of(comparison, "B"), rater=rater, track=track)
    vote(comparison, winner=None, rater=rater, track=track)

    data = judged(RankingScope(tracks=(track.pk,)), IF)

    first = data.methods[data.first[0]]
    assert first == method_of(comparison, "A").name
    assert data.outcome.tolist() == [0.0, 0.5]


# --- the stored leaderboard ------------------------------------------------------------------------------


def test_a_computed_leaderboard_ranks_the_methods_by_their_library_fit(track):
    methods = vote_by_strength(track, [annotator_rater(f"r{k}") for k in range(5)])
    options = RankingOptions(scope=RankingScope(tracks=(track.pk,)), rounds=50, seed=3)

    run = ranking_run_start(options)

    board = run.boards[IF]
    assert run.status == RankingRun.Status.DONE and run.judgments == 15
    assert [row["method"] for row in board["methods"]] == [m.name for m in methods]
    data = judged(options.scope, IF)
    expected = dict(zip(data.methods, fit_scores(data), strict=True))
    scores = [row["score"] for row in board["methods"]]
    assert scores == pytest.approx([expected[m.name] for m in methods], abs=0.01)
    assert board["rounds"] == 50 and board["seed"] == 3


def test_a_large_scope_is_queued_and_its_result_replaces_the_last_one(track, monkeypatch):
    vote_by_strength(track, [annotator_rater("r")])
    monkeypatch.setattr(rankings, "INLINE_JUDGMENTS", 0)
    options = RankingOptions(scope=RankingScope(tracks=(track.pk,)), rounds=20)

    run = ranking_run_start(options)
    assert run.status == RankingRun.Status.QUEUED and run.boards == {}

    done = ranking_run_compute(run_id=run.pk)  # what the Celery task runs
    assert done is not None and done.status == RankingRun.Status.DONE and set(done.boards) == {IF}
    assert done.seconds is not None and done.computed_at is not None


def test_options_that_differ_are_stored_apart_and_the_same_options_share_a_row(track):
    a = RankingOptions(scope=RankingScope(tracks=(track.pk,)), rounds=10)
    assert options_from_query({"tracks": f"{track.pk}", "rounds": "10"}).key == a.key
    assert RankingOptions(scope=a.scope, rounds=11).key != a.key


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"rounds": "0"}, "rounds", "between 1 and 100,000; 0 is not"),
        ({"rounds": "100000000"}, "rounds", "100,000,000 is not"),
        ({"rounds": "many"}, "rounds", "whole number, not “many”"),
        ({"tracks": "99999"}, "tracks", "No track with id 99999."),
        ({"studies": "7,x"}, "studies", "“x” is not a study id"),
    ],
)
def test_bad_options_name_what_is_wrong(query, field, message):
    with pytest.raises(RankingOptionsError) as error:
        options_from_query(query)
    assert error.value.field == field and message in error.value.message


# --- the page --------------------------------------------------------------------------------------------


def test_the_leaderboard_page_computes_and_shows_the_ranking_with_intervals(admin_client, track):
    methods = vote_by_strength(track, [annotator_rater(f"r{k}") for k in range(4)])
    vote_by_strength(track, [annotator_rater("q")], criterion=VQ)

    page = admin_client.get(
        reverse("rankings:leaderboard"), {"tracks": track.pk, "criterion": IF, "rounds": 40}
    )

    assert page.status_code == 200
    html = page.content.decode()
    positions = [html.index(f"<td>{m.name}</td>") for m in methods]
    assert positions == sorted(positions)
    assert "Rank (upper bound)" in html and "Fragility" in html and "40 bootstrap rounds" in html
    side = admin_client.get(reverse("rankings:leaderboard"), {"tracks": track.pk, "rounds": 40})
    assert "Identity fidelity" in side.content.decode() and "Visual quality" in side.content.decode()


def test_a_criterion_nobody_judged_and_bad_rounds_are_refused_with_what_is_wrong(admin_client, track):
    vote_by_strength(track, [annotator_rater("r")])
    url = reverse("rankings:leaderboard")

    page = admin_client.get(url, {"tracks": track.pk, "criterion": VQ})
    assert page.status_code == 404 and "Nobody judged visual quality" in page.content.decode()
    for rounds in ("0", "100000000"):
        page = admin_client.get(url, {"tracks": track.pk, "rounds": rounds})
        assert page.status_code == 400 and "bootstrap rounds must be between" in page.content.decode()
    unknown = admin_client.get(url, {"tracks": "123456"})
    assert unknown.status_code == 404 and "No track with id 123456." in unknown.content.decode()


@pytest.mark.parametrize(("fmt", "magic"), [("svg", b"<?xml"), ("png", b"\x89PNG"), ("pdf", b"%PDF")])
def test_the_win_rate_figure_downloads_in_each_format(admin_client, track, fmt, magic):
    vote_by_strength(track, [annotator_rater("r")])
    query = {"tracks": track.pk, "criterion": IF, "rounds": 10}
    admin_client.get(reverse("rankings:leaderboard"), query)

    response = admin_client.get(reverse("rankings:figure", args=[fmt]), query)

    assert response.status_code == 200 and response.content.startswith(magic)
    assert "attachment" in response["Content-Disposition"]


def test_a_figure_of_options_never_computed_is_a_404(admin_client, track):
    response = admin_client.get(
        reverse("rankings:figure", args=["svg"]), {"tracks": track.pk, "criterion": IF}
    )
    assert response.status_code == 404


def test_annotators_do_not_reach_the_rankings(annotator_client):
    assert annotator_client.get(reverse("rankings:leaderboard")).status_code == 404
    assert annotator_client.get(reverse("rankings:checkpoints")).status_code == 404


# --- checkpoint against checkpoint -------------------------------------------------------------------------


def test_the_checkpoint_comparison_counts_head_to_head_wins_losses_and_ties(track):
    old, new, third = strongest_first(track)[1], strongest_first(track)[0], strongest_first(track)[2]
    head_to_head = track.comparisons.get(video_a__method__in=[old, new], video_b__method__in=[old, new])
    raters = [annotator_rater(f"r{k}") for k in range(6)]
    for k, rater in enumerate(raters):
        vote(head_to_head, winner=new if k < 4 else (old if k == 4 else None), rater=rater, track=track)
    elsewhere = track.comparisons.exclude(pk=head_to_head.pk).first()
    vote(elsewhere, winner=third, rater=raters[0], track=track)

    (row,) = checkpoint_compare(new=new, old=old, scope=RankingScope(tracks=(track.pk,)), half_width=0.1)

    assert (row.wins, row.losses, row.ties, row.raters) == (4, 1, 1, 6)
    assert row.rate == pytest.approx(4.5 / 6)
    assert row.low <= row.rate <= row.high and 0 <= row.p_better <= 1 and row.more_needed >= 0


def test_two_methods_never_compared_are_a_clear_error(admin_client):
    first, second = make_track(methods=2), make_track(methods=2)
    new = first.comparisons.first().video_a.method
    old = second.comparisons.first().video_a.method

    page = admin_client.get(reverse("rankings:checkpoints"), {"new": new.pk, "old": old.pk})

    assert page.status_code == 404 and "share no judged case" in page.content.decode()
    same = admin_client.get(reverse("rankings:checkpoints"), {"new": new.pk, "old": new.pk})
    assert same.status_code == 404 and "two different methods" in same.content.decode()


def test_the_checkpoint_page_answers_for_two_methods(admin_client, track):
    new, old = strongest_first(track)[:2]
    vote_by_strength(track, [annotator_rater(f"r{k}") for k in range(3)])

    page = admin_client.get(
        reverse("rankings:checkpoints"), {"new": new.pk, "old": old.pk, "half_width": "0.1"}
    )

    assert page.status_code == 200
    html = page.content.decode()
    assert f"{new.name} against {old.name}" in html and 'data-criterion="identity_fidelity"' in html
    assert '<td class="num">1.000</td>' in html  # every rater preferred the new method: a win rate of 1
