"""The agreement of the automatic metrics with people: what counts, the numbers against the libraries."""

from __future__ import annotations

import pytest
from scipy.stats import kendalltau
from statsmodels.stats.proportion import proportion_confint

from annotate.models import Comparison, Judgment, Rater, Track, TrackSeat
from annotate.rankings import fit_scores
from generation.metrics.definitions import METRICS
from studies.metric_agreement import (
    agreement_summary,
    bt_scores,
    criterion_agreement,
    criterion_tallies,
    judged_of,
    metric_source,
)
from studies.rankings import RankingOptionsError, RankingScope, judged
from tests.factories import make_video_metric
from tests.studies.conftest import fake_video
from tests.studies.metric_world import (
    AGREEING,
    BINS_OF_THREE,
    COMPARED,
    DISAGREEING_BY_WEIGHT,
    MetricWorld,
    build_metric_world,
    method_means,
)

pytestmark = pytest.mark.django_db

IF = "identity_fidelity"


@pytest.fixture
def world() -> MetricWorld:
    return build_metric_world()


def scope(world: MetricWorld) -> RankingScope:
    return RankingScope(tracks=(world.track.pk,))


def wilson(successes: int, n: int) -> tuple[float, float]:
    low, high = proportion_confint(successes, n, alpha=0.05, method="wilson")
    return float(low), float(high)


def test_the_agreement_is_the_share_of_decided_comparisons_where_both_pick_the_same_video(world):
    result = criterion_agreement(scope=scope(world), criterion=IF)

    a = result.agreement
    assert a is not None and result.source is not None and result.source.spec.name == "face_identity"
    assert (a.n, a.agree) == (len(COMPARED), len(AGREEING)) == (9, 5)
    assert a.share == pytest.approx(5 / 9)
    assert (a.low, a.high) == pytest.approx(wilson(5, 9))


def test_undecided_missing_and_equal_values_are_left_out_and_counted(world):
    a = criterion_agreement(scope=scope(world), criterion=IF).agreement

    assert a is not None
    assert a.judged == 14
    assert a.undecided == 2  # c7 (1 : 1 and a tie), c8 (ties only)
    assert a.missing == 2  # c9 (B has no row), c10 (A found no face)
    assert a.metric_ties == 1  # c11
    assert a.judged == a.n + a.undecided + a.missing + a.metric_ties


def test_agreement_by_gap_comes_in_quantile_bins_with_their_wilson_intervals(world):
    a = criterion_agreement(scope=scope(world), criterion=IF, bins=3).agreement

    assert a is not None
    assert [(b.n, b.agree) for b in a.bins] == BINS_OF_THREE
    for b, (n, agree) in zip(a.bins, BINS_OF_THREE, strict=True):
        assert (b.ci_low, b.ci_high) == pytest.approx(wilson(agree, n))
    assert a.bins[0].low == pytest.approx(0.03) and a.bins[-1].high == pytest.approx(0.60)
    assert all(x.high == pytest.approx(y.low) for x, y in zip(a.bins, a.bins[1:], strict=False))


def test_more_bins_than_distinct_gaps_merge_into_fewer(world):
    a = criterion_agreement(scope=scope(world), criterion=IF, bins=20).agreement

    assert a is not None
    assert sum(b.n for b in a.bins) == 9
    assert len(a.bins) <= 9


def test_the_disagreements_come_most_striking_first_with_the_comparison_and_both_sides(world):
    a = criterion_agreement(scope=scope(world), criterion=IF).agreement

    assert a is not None and a.disagreeing == 4
    assert [d.comparison for d in a.disagreements] == [world.comparisons[k].pk for k in DISAGREEING_BY_WEIGHT]
    first = a.disagreements[0]  # c4: all three for A, the metric prefers B (0.40 < 0.62)
    assert (first.people, first.metric, first.n_a, first.n_b) == ("A", "B", 3, 0)
    assert first.weight == pytest.approx(1.0 * 0.22)
    assert (first.method_a, first.method_b) == ("good", "bad")


def test_kendall_tau_compares_the_bradley_terry_order_with_the_mean_metric_signed_by_its_direction(world):
    result = criterion_agreement(scope=scope(world), criterion=IF)

    data = judged(scope(world), IF)
    scores = dict(zip(data.methods, fit_scores(data), strict=True))
    means = method_means()
    methods = sorted(scores)
    expected = kendalltau([scores[m] for m in methods], [-means[m] for m in methods])  # lower is better
    order = result.order
    assert order is not None
    assert order.tau == pytest.approx(expected.statistic)
    assert order.p_value == pytest.approx(expected.pvalue)
    assert order.methods == ["good", "mid", "bad"]  # people's order, best first
    assert order.means == pytest.approx([means[m] for m in order.methods])


def test_gold_checks_excluded_raters_and_excluded_seats_do_not_count(world):
    c11 = world.comparisons["c11"]  # a metric tie: a vote more on it would change nothing anyway
    c7 = world.comparisons["c7"]  # undecided 1 : 1; any counted vote would decide it
    rater = world.raters[4]
    Judgment.objects.create(comparison=c7, criterion=IF, choice="A", shown_left="A", rater=rater,
                            track=world.track, is_gold=True)  # fmt: skip
    gone = Rater.objects.create(kind=Rater.Kind.PARTICIPANT, excluded=True)
    Judgment.objects.create(
        comparison=c7, criterion=IF, choice="A", shown_left="A", rater=gone, track=world.track
    )
    seat_rater = world.raters[3]
    TrackSeat.objects.create(track=world.track, user=seat_rater.user, rater=seat_rater, excluded=True)
    Judgment.objects.create(comparison=c11, criterion=IF, choice="B", shown_left="A", rater=seat_rater,
                            track=world.track)  # fmt: skip

    a = criterion_agreement(scope=scope(world), criterion=IF).agreement

    assert a is not None and a.undecided == 2 and (a.n, a.agree) == (9, 5)


def test_only_the_named_tracks_votes_count(world):
    other = Track.objects.create(name="other", kind=Track.Kind.IDENTITY_FIDELITY)
    Judgment.objects.create(comparison=world.comparisons["c7"], criterion=IF, choice="A", shown_left="A",
                            rater=world.raters[4], track=other)  # fmt: skip

    mine = criterion_agreement(scope=scope(world), criterion=IF).agreement
    everything = criterion_agreement(scope=RankingScope(), criterion=IF).agreement

    assert mine is not None and everything is not None
    assert (mine.undecided, mine.n) == (2, 9)
    assert (everything.undecided, everything.n) == (1, 10)  # c7 is now 2 : 1 for A, and the metric agrees


def test_the_rows_of_one_definition_are_read_the_one_with_most_rows_unless_another_is_named(world):
    video = world.videos["c1"][0]
    other = make_video_metric(video, "face_identity", 0.99, settings={"frames": 4})  # another definition

    source = metric_source("face_identity")
    assert source.definition != other.definition
    assert source.rows == 27 and source.computed == 26  # 14 pairs, c9 without a B row; c10's A no face

    named = criterion_agreement(scope=scope(world), criterion=IF, definition=other.definition)
    assert named.source is not None and named.source.rows == 1
    assert named.agreement is not None and named.agreement.n == 0 and named.agreement.missing == 12


def test_a_definition_that_is_not_a_digest_or_has_no_rows_is_refused(world):
    with pytest.raises(RankingOptionsError) as bad:
        criterion_agreement(scope=scope(world), criterion=IF, definition="latest")
    assert bad.value.field == "definition" and bad.value.status == 400
    with pytest.raises(RankingOptionsError) as unknown:
        criterion_agreement(scope=scope(world), criterion=IF, definition="0" * 64)
    assert unknown.value.status == 404


def test_a_criterion_without_a_metric_says_so_instead_of_numbers(world):
    result = criterion_agreement(scope=scope(world), criterion="element_consistency")

    assert result.agreement is None and result.source is None
    assert "No automatic metric stands in for element consistency" in result.reason


def test_text_alignment_without_weights_says_it_is_unavailable(world):
    for video, _ in world.videos.values():
        make_video_metric(video, "text_alignment", status="unavailable", note="no local CLIP weights")

    result = criterion_agreement(scope=scope(world), criterion="prompt_controllability")

    assert result.agreement is None
    assert "unavailable" in result.reason and "no local CLIP weights" in result.reason
    assert result.source is not None and result.source.spec is METRICS["text_alignment"]


def test_a_metric_never_computed_says_to_run_the_metrics(world):
    result = criterion_agreement(scope=scope(world), criterion="visual_quality")

    assert result.agreement is None and "not been computed" in result.reason


def test_the_summary_lists_every_judged_criterion_that_has_a_metric(world):
    rows = agreement_summary(scope=scope(world), criteria=[IF, "element_consistency"])

    assert [row.criterion for row in rows] == [IF]
    assert rows[0].agreement is not None and rows[0].agreement.share == pytest.approx(5 / 9)


def test_the_method_scores_are_the_rankings_fit_of_the_same_votes(world):
    data = judged(scope(world), IF)
    expected = dict(zip(data.methods, fit_scores(data), strict=True))

    assert bt_scores(judged_of(criterion_tallies(scope(world), IF))) == pytest.approx(expected)


def test_a_pair_of_one_methods_seeds_counts_for_agreement_but_not_for_the_methods_order(world):
    case = world.comparisons["c1"]
    first, second = (
        fake_video(method=world.methods["mid"], identity=case.identity, prompt=case.prompt, seed=s)
        for s in (1, 2)
    )
    seeds = Comparison.objects.create(
        video_a=first, video_b=second, identity=case.identity, prompt=case.prompt
    )
    make_video_metric(first, "face_identity", 0.2)
    make_video_metric(second, "face_identity", 0.6)
    Judgment.objects.create(comparison=seeds, criterion=IF, choice="A", shown_left="A", rater=world.raters[0],
                            track=world.track)  # fmt: skip
    before = bt_scores(judged_of(criterion_tallies(scope(world), IF)))

    a = criterion_agreement(scope=scope(world), criterion=IF).agreement

    assert a is not None and (a.n, a.agree) == (10, 6)
    data = judged(scope(world), IF)
    assert before == pytest.approx(dict(zip(data.methods, fit_scores(data), strict=True)))
