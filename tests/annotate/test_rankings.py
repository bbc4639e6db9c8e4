"""Leaderboards: choix's fit, the rater-clustered bootstrap's coverage, upper ranks, win rates, fragility."""

from __future__ import annotations

import itertools
import json
import math

import choix
import numpy as np
import pytest
from scipy import sparse

from annotate import rankings
from annotate.rankings import ALPHA, Judged, RankingError, _elo_batch, fit_scores, leaderboard


def judged(rows: list[tuple[int, int, float, int]], methods: tuple[str, ...] = ("A", "B", "C")) -> Judged:
    """Judgments from (first, second, outcome, rater) rows."""
    first, second, outcome, rater = (np.array(column) for column in zip(*rows, strict=True))
    return Judged(methods, first.astype(np.int64), second.astype(np.int64), outcome.astype(float), rater)


def repeated(
    first: int, second: int, outcome: float, times: int, rater: int = 0
) -> list[tuple[int, int, float, int]]:
    return [(first, second, outcome, rater)] * times


# --- the fit ---------------------------------------------------------------------------------------


def test_scores_equal_choixs_fit_of_the_win_matrix_on_the_elo_scale() -> None:
    rng = np.random.default_rng(3)
    n, size = 5, 400
    first = rng.integers(0, n, size)
    second = (first + rng.integers(1, n, size)) % n
    outcome = rng.choice([0.0, 0.5, 1.0], size)
    data = Judged(tuple("ABCDE"), first, second, outcome, rng.integers(0, 20, size))
    matrix = np.zeros((n, n))
    for a, b, o in zip(first, second, outcome, strict=True):  # the win matrix the slow, obvious way
        matrix[a, b] += o
        matrix[b, a] += 1.0 - o
    params = choix.ilsr_pairwise_dense(matrix, alpha=ALPHA)
    expected = 1000.0 + 400.0 * np.log10(np.exp(params - params.mean()))

    scores = fit_scores(data)

    np.testing.assert_allclose(scores, expected, atol=1e-6)
    assert scores.mean() == pytest.approx(1000.0)
    board = leaderboard(data, rounds=20)
    np.testing.assert_allclose(board.score, np.sort(expected)[::-1], atol=1e-6)
    assert board.methods == tuple(np.array(data.methods)[np.argsort(-expected)])


def test_a_method_that_won_every_comparison_and_one_cut_off_from_the_rest_keep_finite_scores() -> None:
    rows = repeated(0, 1, 1.0, 5) + repeated(2, 3, 1.0, 3)  # A never lost; {A, B} and {C, D} never met
    scores = fit_scores(judged(rows, ("A", "B", "C", "D")))
    assert np.all(np.isfinite(scores))
    assert scores[0] > scores[1] and scores[2] > scores[3]


def test_every_bootstrap_round_fitted_at_once_equals_choixs_fit_of_that_rounds_matrix() -> None:
    # Bootstrap-like rounds: raters drawn with replacement, some rounds with a method that never lost or
    # a pair nobody judged.
    rng = np.random.default_rng(4)
    n, raters = 6, 12
    per_rater = rng.poisson(rng.uniform(0, 3, (raters, n, n)))
    per_rater[:, np.arange(n), np.arange(n)] = 0
    per_rater[:, 5, :] = 0  # method 5 never wins: only the prior keeps it finite
    weights = rng.multinomial(raters, np.full(raters, 1 / raters), size=30)
    matrices = np.einsum("br,rij->bij", weights, per_rater).astype(float)
    matrices[0, 0, :] = 0  # and in one round method 0 never wins either
    batch = _elo_batch(matrices)
    for wins, scores in zip(matrices, batch, strict=True):
        params = choix.ilsr_pairwise_dense(wins, alpha=ALPHA, max_iter=100_000, tol=1e-12)
        np.testing.assert_allclose(scores, 1000.0 + 400.0 / math.log(10) * params, atol=1e-6)


def test_a_round_newton_has_not_settled_gets_choixs_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rankings, "NEWTON_STEPS", 1)
    wins = np.array([[[0.0, 30.0, 2.0], [1.0, 0.0, 5.0], [0.0, 4.0, 0.0]]])
    params = choix.ilsr_pairwise_dense(wins[0], alpha=ALPHA, max_iter=100_000, tol=1e-12)
    np.testing.assert_allclose(_elo_batch(wins)[0], 1000.0 + 400.0 / math.log(10) * params, atol=1e-6)


# --- coverage of the rater-clustered bootstrap -------------------------------------------------------

METHODS = 8
LOG_STRENGTH = np.linspace(-1.4, 1.4, METHODS)
DEVIATION = 0.9  # standard deviation of a rater's own deviation from each method's log-strength
TIE_SHARE = 0.1


def simulate(rng: np.random.Generator, raters: int) -> Judged:
    """Raters of varied reliability judging varied numbers of pairs, from a Bradley–Terry model.

    Rater r has log-strengths ``LOG_STRENGTH + d_r`` with ``d_r ~ N(0, DEVIATION^2)`` per method (its own
    taste, shared by all its judgments) and a reliability ``rho_r ~ U(0.5, 1)``: with chance ``1 - rho_r``
    it answers at random. Its number of judgments is log-normal (from a handful to a few hundred), pairs
    uniform, one judgment in ten a tie.
    """
    count = np.maximum(1, rng.lognormal(3.5, 0.9, raters).astype(np.int64))
    rater = np.repeat(np.arange(raters), count)
    size = len(rater)
    deviation = rng.normal(0.0, DEVIATION, (raters, METHODS))
    reliability = rng.uniform(0.5, 1.0, raters)
    first = rng.integers(0, METHODS, size)
    second = (first + rng.integers(1, METHODS, size)) % METHODS
    gap = LOG_STRENGTH[first] + deviation[rater, first] - LOG_STRENGTH[second] - deviation[rater, second]
    chance = 1.0 / (1.0 + np.exp(-gap))
    chance = np.where(rng.random(size) < reliability[rater], chance, 0.5)
    outcome = (rng.random(size) < chance).astype(float)
    outcome[rng.random(size) < TIE_SHARE] = 0.5
    return Judged(tuple(f"m{m}" for m in range(METHODS)), first, second, outcome, rater)


def population_scores() -> np.ndarray:
    """The scores the leaderboard estimates: the fit of the population's expected win matrix.

    With pairs drawn uniformly and independently of the rater, the expected share of i's wins over j is
    ``0.05 + 0.9 * (0.75 * E[sigmoid(s_i - s_j + e)] + 0.25 * 0.5)``: ties half, the mean reliability
    0.75, and ``e = d_ri - d_rj ~ N(0, 2 DEVIATION^2)``; the expectation is a 80-node Gauss–Hermite
    integral. Rater taste pulls these shares towards 1/2, so the true scores are closer together than
    ``LOG_STRENGTH``. The matrix is scaled to many judgments per pair so that choix's small prior (ALPHA)
    does not matter; the order of the scores is that of ``LOG_STRENGTH``.
    """
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    weights = weights / weights.sum()
    gap = LOG_STRENGTH[:, None] - LOG_STRENGTH[None, :]
    spread = math.sqrt(2.0) * DEVIATION * nodes
    sigmoid = (weights / (1.0 + np.exp(-(gap[:, :, None] + spread)))).sum(axis=2)
    share = TIE_SHARE / 2 + (1 - TIE_SHARE) * (0.75 * sigmoid + 0.25 * 0.5)
    matrix = 1e6 * share
    np.fill_diagonal(matrix, 0.0)
    params = choix.ilsr_pairwise_dense(matrix, alpha=ALPHA)
    return 1000.0 + 400.0 / math.log(10) * (params - params.mean())


def test_on_many_raters_the_fitted_order_is_the_true_one() -> None:
    data = simulate(np.random.default_rng(11), raters=600)
    assert np.all(np.diff(fit_scores(data)) > 0)
    assert np.all(np.diff(population_scores()) > 0)


def test_rater_clustered_intervals_cover_the_true_scores_and_judgment_level_ones_are_too_narrow() -> None:
    """50 seeded repetitions of 40 raters (about 1,800 judgments each time).

    The true scores lie within the rater-clustered 95 % intervals in at least 90 % of the 400
    method×repetition cases. Resampling single judgments on the same data treats each rater's shared
    taste as that many independent coin flips: its intervals are clearly narrower and cover the true
    scores far less often. 200 rounds per repetition rather than 1,000 keeps the test within seconds;
    percentile bounds from 200 rounds move by a few Elo points, not enough to matter here.
    """
    truth = population_scores()
    covered = {"rater": 0, "judgment": 0}
    width = {"rater": 0.0, "judgment": 0.0}
    repetitions = 50
    for repetition in range(repetitions):
        data = simulate(np.random.default_rng(1000 + repetition), raters=40)
        for resample in covered:
            board = leaderboard(data, rounds=200, seed=repetition, resample=resample)
            at = np.array([data.methods.index(m) for m in board.methods])
            covered[resample] += int(np.sum((board.low <= truth[at]) & (truth[at] <= board.high)))
            width[resample] += float(np.mean(board.high - board.low)) / repetitions
    cases = repetitions * METHODS
    assert covered["rater"] / cases >= 0.90
    assert covered["judgment"] / cases <= covered["rater"] / cases - 0.10
    assert width["judgment"] < 0.8 * width["rater"]


# --- the bootstrap's bookkeeping -------------------------------------------------------------------


@pytest.mark.parametrize("resample", ["rater", "judgment"])
def test_kinds_of_judgment_with_their_counts_give_the_leaderboard_of_every_judgment_to_the_bit(
    resample: str,
) -> None:
    rng = np.random.default_rng(11)
    size, n = 5_000, 4
    first = rng.integers(0, n, size)
    second = (first + rng.integers(1, n, size)) % n
    outcome = rng.choice([0.0, 0.5, 1.0], size, p=[0.3, 0.2, 0.5])
    every = Judged(tuple("ABCD"), first, second, outcome, rng.integers(100, 120, size))
    # Each (rater, first, second, outcome) once, with how many judgments it stands for, in a shuffled order.
    key = np.stack([every.rater, every.first, every.second, np.rint(every.outcome * 2).astype(np.int64)])
    kinds, count = np.unique(key, axis=1, return_counts=True)
    shuffled = np.random.default_rng(12).permutation(kinds.shape[1])
    kinds, count = kinds[:, shuffled], count[shuffled]
    assert kinds.shape[1] < len(every.first) / 5
    counted = Judged(every.methods, kinds[1], kinds[2], kinds[3] / 2.0, kinds[0], count)

    whole, summed = (leaderboard(data, rounds=200, seed=4, resample=resample) for data in (every, counted))

    assert json.dumps(summed.as_dict()) == json.dumps(whole.as_dict())
    for name in ("score", "low", "high", "judgments", "pair_counts", "win_rate"):
        np.testing.assert_array_equal(getattr(summed, name), getattr(whole, name))
    assert summed.total == len(every.first)
    np.testing.assert_array_equal(fit_scores(counted), fit_scores(every))


def test_the_bootstrap_is_reproducible_with_its_seed_and_reports_its_progress() -> None:
    data = simulate(np.random.default_rng(5), raters=30)
    calls: list[tuple[int, int]] = []
    first = leaderboard(data, rounds=120, seed=7, progress=lambda done, total: calls.append((done, total)))
    again = leaderboard(data, rounds=120, seed=7)
    other = leaderboard(data, rounds=120, seed=8)
    np.testing.assert_array_equal(first.low, again.low)
    np.testing.assert_array_equal(first.high, again.high)
    assert not np.array_equal(first.low, other.low)
    assert calls == [(50, 120), (100, 120), (120, 120)]
    assert (first.rounds, first.seed, first.resample, first.tie_rule) == (120, 7, "rater", "half")
    assert first.raters == 30 and first.total == len(data.first)


def test_the_upper_rank_counts_the_methods_whose_lower_bound_is_above_this_ones_upper_bound() -> None:
    rng = np.random.default_rng(2)
    rows = []
    for rater in range(40):
        # A beats B and C nearly always; B and C are even.
        rows += repeated(0, 1, 1.0, 9, rater) + repeated(1, 0, 1.0, 1, rater)
        rows += repeated(0, 2, 1.0, 9, rater) + repeated(2, 0, 1.0, 1, rater)
        rows += [(1, 2, float(rng.integers(0, 2)), rater) for _ in range(10)]
    board = leaderboard(judged(rows), rounds=200)
    assert board.methods[0] == "A"
    assert board.low[0] > max(board.high[1], board.high[2])
    assert board.low[1] < board.high[2] and board.low[2] < board.high[1]
    assert board.rank_upper.tolist() == [1, 2, 2]
    assert np.all(board.low <= board.score) and np.all(board.score <= board.high)


def test_win_rates_count_a_tie_as_half_a_win_and_are_nan_for_a_pair_never_judged() -> None:
    rows = repeated(0, 1, 1.0, 2) + repeated(1, 0, 1.0, 1) + repeated(0, 1, 0.5, 1) + repeated(1, 2, 1.0, 3)
    board = leaderboard(judged(rows), rounds=10)
    assert board.methods == ("A", "B", "C")
    assert board.win_rate[0, 1] == pytest.approx(2.5 / 4)
    assert board.win_rate[1, 0] == pytest.approx(1.5 / 4)
    assert board.win_rate[1, 2] == 1.0 and board.win_rate[2, 1] == 0.0
    assert math.isnan(board.win_rate[0, 2]) and math.isnan(board.win_rate[0, 0])
    assert board.pair_counts.tolist() == [[0, 4, 0], [4, 0, 3], [0, 3, 0]]
    assert board.judgments.tolist() == [4, 7, 3]
    out = json.loads(json.dumps(board.as_dict()))
    assert out["win_rate"][0][2] is None and out["win_rate"][0][1] == 0.625
    assert [row["method"] for row in out["methods"]] == ["A", "B", "C"]


# --- fragility -------------------------------------------------------------------------------------


def test_fragility_of_two_methods_is_the_lead_in_wins_plus_one() -> None:
    """A beat B 5 times, B beat A 3 times, and they tied twice.

    With two methods the fitted order is the order of their wins (ties half to each): the objective is
    symmetric in the two, so equal wins give equal scores and more wins a higher one. Removing one
    judgment lowers A's lead of 5 - 3 = 2 by at most 1 (a win of A), a tie leaves it as it is, and a win
    of B raises it. B gets ahead only once A's lead is negative: at least 3 removals, and 3 of A's wins
    do it (2 of them leave the two level, which is not a swap).
    """
    rows = repeated(0, 1, 1.0, 5) + repeated(1, 0, 1.0, 3) + repeated(0, 1, 0.5, 2)
    fragility = leaderboard(judged(rows, ("A", "B")), rounds=10).fragility
    assert fragility is not None
    assert (fragility.leader, fragility.runner_up) == ("A", "B")
    assert fragility.removals == 3
    assert fragility.removed == (("A", "B", 1.0, 3),)


def test_fragility_of_three_methods_equals_the_smallest_swap_found_by_trying_every_removal() -> None:
    """Every multiset of removals (864 of them) is refitted; the greedy count must be the least that swaps."""
    rows = (
        repeated(0, 1, 1.0, 5)
        + repeated(1, 0, 1.0, 2)
        + repeated(0, 2, 1.0, 2)
        + repeated(2, 0, 1.0, 1)
        + repeated(1, 2, 1.0, 3)
        + repeated(2, 1, 1.0, 1)
    )
    kinds = [(0, 1, 5), (1, 0, 2), (0, 2, 2), (2, 0, 1), (1, 2, 3), (2, 1, 1)]
    smallest = None
    for removal in itertools.product(*(range(times + 1) for _, _, times in kinds)):
        left = [
            row
            for (a, b, times), gone in zip(kinds, removal, strict=True)
            for row in repeated(a, b, 1.0, times - gone)
        ]
        if not left:
            continue  # nothing left: no leader, no swap
        scores = fit_scores(judged(left))
        if scores[1] > scores[0] and (smallest is None or sum(removal) < smallest):
            smallest = sum(removal)
    fragility = leaderboard(judged(rows), rounds=10).fragility
    assert fragility is not None
    assert (fragility.leader, fragility.runner_up) == ("A", "B")
    assert smallest is not None
    assert smallest > 1 and fragility.removals == smallest
    assert sum(count for *_, count in fragility.removed) == smallest


def test_no_fragility_count_when_no_removal_puts_the_runner_up_ahead() -> None:
    # Removing both of A's wins leaves the two level, never B ahead.
    fragility = leaderboard(judged(repeated(0, 1, 1.0, 2), ("A", "B")), rounds=10).fragility
    assert fragility is not None and fragility.removals is None and fragility.removed == ()


# --- bad input -------------------------------------------------------------------------------------


def test_bad_input_is_a_ranking_error_that_names_it() -> None:
    good = repeated(0, 1, 1.0, 2)
    cases = [
        (lambda: leaderboard(judged(good), rounds=0), "rounds"),
        (lambda: leaderboard(judged(good), rounds=100_001), "rounds"),
        (lambda: leaderboard(judged(good), resample="vote"), "resample"),
        (
            lambda: fit_scores(
                Judged(("A", "B"), np.array([], int), np.array([], int), np.array([]), np.array([], int))
            ),
            "no judgments",
        ),
        (
            lambda: fit_scores(
                Judged(("A", "B"), np.array([0, 1]), np.array([1]), np.array([1.0]), np.array([0]))
            ),
            "length",
        ),
        (
            lambda: fit_scores(
                Judged(("A", "B"), np.array([0]), np.array([1]), np.array([0.7]), np.array([0]))
            ),
            "outcome",
        ),
        (
            lambda: fit_scores(
                Judged(("A", "B"), np.array([0]), np.array([2]), np.array([1.0]), np.array([0]))
            ),
            "method codes",
        ),
        (
            lambda: fit_scores(
                Judged(("A", "B"), np.array([1]), np.array([1]), np.array([1.0]), np.array([0]))
            ),
            "itself",
        ),
        (
            lambda: fit_scores(
                Judged(
                    ("A", "B"), np.array([0]), np.array([1]), np.array([1.0]), np.array([0]), np.array([0])
                )
            ),
            "count",
        ),
    ]
    for call, words in cases:
        with pytest.raises(RankingError, match=words):
            call()


def test_each_clusters_cells_summed_in_a_table_equal_scipys_coo_sums() -> None:
    rng = np.random.default_rng(5)
    votes, clusters, n = 20_000, 40, 6
    cluster = rng.integers(0, clusters, votes)
    first = rng.integers(0, n, votes)
    second = (first + rng.integers(1, n, votes)) % n
    outcome = rng.choice([0.0, 0.5, 1.0], votes)
    win_cell, loss_cell = first * n + second, second * n + first
    assert clusters * n * n <= votes  # the table's side of rankings._cluster_cells
    by_table = rankings._cluster_cells(cluster, clusters, win_cell, loss_cell, outcome, 1.0 - outcome, n * n)
    by_coo = sparse.coo_matrix(
        (
            np.concatenate([outcome, 1.0 - outcome]),
            (np.concatenate([cluster, cluster]), np.concatenate([win_cell, loss_cell])),
        ),
        shape=(clusters, n * n),
    ).tocsr()
    np.testing.assert_array_equal(by_table.toarray(), by_coo.toarray())
