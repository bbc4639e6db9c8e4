"""Leaderboards: Bradley–Terry scores of methods from pairwise judgments, as Chatbot Arena reports them.

The fit is choix's ``ilsr_pairwise_dense`` on the method×method win matrix (a tie is half a win to each
side), put on the Elo scale: ``1000 + 400 * log10(strength)``, centred so that the mean score is 1000.

Intervals come from a bootstrap that resamples **raters** (clusters) with replacement: one rater's
judgments move together, so a rater who prefers one method more than others do widens that method's
interval as it should. Resampling single judgments (``resample="judgment"``) is kept to show how much
too narrow intervals get when a rater's judgments are counted as independent. Each round's win matrix is
``weights @ per-cluster cells``: a sparse count of (pair cell, wins) per cluster times the multinomial
number of times each cluster was drawn, so no Python loop runs per judgment. The rounds are fitted
together by Newton's method on the objective choix maximises, checked against choix round by round.

Fragility (Huang et al. 2025, "Dropping just a handful of preferences can change top rankings"): the
smallest number of judgments whose removal puts the runner-up above the leader, found greedily. Judgments
of one kind (the same two methods, the same outcome) are interchangeable, so kinds are ranked by their
first-order (implicit-function) influence on ``score(leader) - score(runner_up)``, the most harmful
removed first, re-ranked after each refit, and a binary search over the count with real refits makes the
reported count a confirmed swap (an upper bound on the true minimum).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import choix
import numpy as np
from scipy import sparse

from annotate.bradley_terry import _hessian
from lib.arrays import unique_inverse

# choix's alpha: the rate added to every transition of its Markov chain. At its fixed point this is the
# maximum of the Bradley–Terry log-likelihood plus ``alpha * n * sum_i log softmax(scores)_i``, as if
# each method had won ``alpha * n`` extra picks among all n methods. That keeps a method that won every
# comparison, or one cut off from the others, at a finite score; at 0.01 it is 0.4 pseudo-wins per method
# with 40 methods, nothing beside thousands of judgments, yet a single unbeaten win stays finite (about
# 690 Elo above its opponent rather than infinitely far).
ALPHA = 0.01
MAX_ITER = 10_000  # choix's default of 100 iterations can be too few for a near-unbeaten method
ELO = 400 / math.log(10)  # natural-log strength to Elo points
MAX_ROUNDS = 100_000
PROGRESS_EVERY = 50
NEWTON_STEPS = 200
TOLERANCE = 1e-10
RESAMPLES = ("rater", "judgment")
DECIMALS = 2
FRAGILITY_STAGES = 30


class RankingError(ValueError):
    """Input a leaderboard cannot be computed from; the message names what was wrong."""


@dataclass(frozen=True)
class Judged:
    """The input: one row per judgment, or per kind of judgment with ``count``.

    Judgments of one rater on the same two methods, in the same order, with the same outcome are
    interchangeable in every figure here (sums of 0, 1/2 and 1 are exact in any order): a caller with
    millions of them passes each kind once with its count, and gets the same leaderboard to the bit.
    """

    methods: tuple[str, ...]  # method labels; index = code
    first: np.ndarray  # int method codes of the two sides
    second: np.ndarray
    outcome: np.ndarray  # float: 1.0 first won, 0.0 second won, 0.5 tie
    rater: np.ndarray  # int rater (cluster) ids, any integers
    count: np.ndarray | None = None  # whole numbers ≥ 1: the judgments each row stands for; None: one


@dataclass(frozen=True)
class Fragility:
    removals: (
        int | None
    )  # judgments whose removal swaps the first two (greedy upper bound); None: no swap found
    leader: str
    runner_up: str
    removed: tuple[tuple[str, str, float, int], ...]  # (method, opponent, outcome for method, count) removed


@dataclass(frozen=True)
class Leaderboard:
    methods: tuple[str, ...]  # best first
    score: np.ndarray  # Elo scale, mean 1000
    low: np.ndarray  # 95 % bootstrap percentile interval
    high: np.ndarray
    rank_upper: np.ndarray  # 1 + number of methods whose low > this high
    judgments: np.ndarray  # judgments per method
    win_rate: np.ndarray  # [i, j] in `methods` order: share of i's wins over j (ties half), NaN without any
    pair_counts: np.ndarray  # [i, j]: judgments between i and j
    fragility: Fragility | None  # None with fewer than two methods
    rounds: int
    seed: int
    resample: str  # "rater" (clusters) or "judgment"
    raters: int
    total: int
    tie_rule: str = field(default="half")  # a tie is half a win to each side

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: floats rounded, NaN as None."""

        def numbers(values: np.ndarray) -> list[Any]:
            return [None if math.isnan(v) else round(float(v), DECIMALS + 2) for v in values.ravel()]

        n = len(self.methods)
        fragility = None
        if self.fragility is not None:
            fragility = {
                "removals": self.fragility.removals,
                "leader": self.fragility.leader,
                "runner_up": self.fragility.runner_up,
                "removed": [
                    {"method": m, "opponent": o, "outcome": out, "count": c}
                    for m, o, out, c in self.fragility.removed
                ],
            }
        return {
            "methods": [
                {
                    "method": method,
                    "score": round(float(self.score[i]), DECIMALS),
                    "low": round(float(self.low[i]), DECIMALS),
                    "high": round(float(self.high[i]), DECIMALS),
                    "rank_upper": int(self.rank_upper[i]),
                    "judgments": int(self.judgments[i]),
                }
                for i, method in enumerate(self.methods)
            ],
            "win_rate": [numbers(self.win_rate[i]) for i in range(n)],
            "pair_counts": self.pair_counts.astype(int).tolist(),
            "fragility": fragility,
            "rounds": self.rounds,
            "seed": self.seed,
            "resample": self.resample,
            "raters": self.raters,
            "total": self.total,
            "tie_rule": self.tie_rule,
        }


def fit_scores(data: Judged) -> np.ndarray:
    """The library fit (Elo scale, mean 1000), in ``data.methods`` order."""
    first, second, outcome, _, count = _checked(data)
    n = len(data.methods)
    won, lost = _weighted(outcome, count)
    wins = np.bincount(first * n + second, won, minlength=n * n)
    wins += np.bincount(second * n + first, lost, minlength=n * n)
    return _elo(wins.reshape(n, n))


def leaderboard(
    data: Judged,
    *,
    rounds: int = 1000,
    seed: int = 0,
    resample: str = "rater",
    progress: Callable[[int, int], None] | None = None,
) -> Leaderboard:
    """Scores, rater-clustered bootstrap intervals, upper ranks, win rates and fragility of every method."""
    if isinstance(rounds, bool) or not isinstance(rounds, int | np.integer) or not 1 <= rounds <= MAX_ROUNDS:
        raise RankingError(f"rounds must be a whole number from 1 to {MAX_ROUNDS:,}, not {rounds!r}")
    if resample not in RESAMPLES:
        raise RankingError(f"resample must be one of {', '.join(RESAMPLES)}, not {resample!r}")
    first, second, outcome, rater, count = _checked(data)
    n = len(data.methods)
    cells = n * n
    won, lost = _weighted(outcome, count)
    wins = np.bincount(first * n + second, won, minlength=cells)
    wins += np.bincount(second * n + first, lost, minlength=cells)
    wins = wins.reshape(n, n)
    score = _elo(wins)

    # Per cluster, its wins in each (winner, loser) cell: a sparse (clusters, n*n) matrix.
    raters, rater_index = unique_inverse(rater)
    if resample == "rater":
        cluster = rater_index
    else:
        # Judgments of one kind (the same ordered pair, the same outcome) are interchangeable: drawing
        # N judgments with replacement is a multinomial draw over kinds with their observed shares.
        _, cluster = np.unique(
            (first * n + second) * 3 + np.rint(outcome * 2).astype(np.int64), return_inverse=True
        )
    clusters = int(cluster.max()) + 1
    by_cluster = _cluster_cells(cluster, clusters, first * n + second, second * n + first, won, lost, cells)
    cluster_size = np.bincount(cluster, count, minlength=clusters).astype(np.int64)
    total = int(count.sum())
    if resample == "judgment":
        by_cluster = sparse.diags(1.0 / cluster_size) @ by_cluster  # one judgment's cells per kind

    rng = np.random.default_rng(seed)
    boot = np.empty((rounds, n))
    draws = clusters if resample == "rater" else total
    shares = np.full(clusters, 1.0 / clusters) if resample == "rater" else cluster_size / total
    for start in range(0, rounds, PROGRESS_EVERY):
        chunk = min(PROGRESS_EVERY, rounds - start)
        weights = rng.multinomial(draws, shares, size=chunk).astype(np.float64)
        matrices = np.asarray((by_cluster.T @ weights.T).T).reshape(chunk, n, n)
        boot[start : start + chunk] = _elo_batch(matrices)
        if progress is not None:
            progress(start + chunk, rounds)
    low, high = np.percentile(boot, [2.5, 97.5], axis=0)

    order = np.argsort(-score, kind="stable")
    low, high, ordered_score = low[order], high[order], score[order]
    rank_upper = 1 + (low[None, :] > high[:, None]).sum(axis=1)
    ordered_wins = wins[np.ix_(order, order)]
    pair_counts = np.zeros((n, n))
    np.add.at(pair_counts, (first, second), count.astype(np.float64))
    pair_counts = pair_counts + pair_counts.T
    pair_counts = pair_counts[np.ix_(order, order)]
    with np.errstate(invalid="ignore", divide="ignore"):
        win_rate = np.where(pair_counts > 0, ordered_wins / pair_counts, np.nan)
    judgments = (np.bincount(first, count, minlength=n) + np.bincount(second, count, minlength=n)).astype(
        np.int64
    )
    methods = tuple(data.methods[i] for i in order)
    return Leaderboard(
        methods=methods,
        score=ordered_score,
        low=low,
        high=high,
        rank_upper=rank_upper,
        judgments=judgments[order],
        win_rate=win_rate,
        pair_counts=pair_counts.astype(np.int64),
        fragility=_fragility(data.methods, first, second, outcome, count, int(order[0]), int(order[1]))
        if n >= 2
        else None,
        rounds=int(rounds),
        seed=seed,
        resample=resample,
        raters=len(raters),
        total=total,
    )


def _checked(data: Judged) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    first, second = np.asarray(data.first), np.asarray(data.second)
    outcome, rater = np.asarray(data.outcome, dtype=np.float64), np.asarray(data.rater)
    count = np.ones(len(first), dtype=np.int64) if data.count is None else np.asarray(data.count)
    lengths = {len(first), len(second), len(outcome), len(rater), len(count)}
    if len(lengths) != 1:
        raise RankingError(
            f"first, second, outcome, rater and count must have one length each, not {len(first)}, "
            f"{len(second)}, {len(outcome)}, {len(rater)} and {len(count)}"
        )
    if not len(first):
        raise RankingError("no judgments to rank")
    n = len(data.methods)
    for name, codes in (("first", first), ("second", second)):
        if not np.issubdtype(codes.dtype, np.integer) or codes.min() < 0 or codes.max() >= n:
            raise RankingError(f"{name} must hold method codes from 0 to {n - 1}")
    if np.any(first == second):
        raise RankingError(f"a method judged against itself ({np.count_nonzero(first == second)} judgments)")
    if not np.all((outcome == 0.0) | (outcome == 0.5) | (outcome == 1.0)):
        raise RankingError("outcome must be 1.0 (first won), 0.0 (second won) or 0.5 (tie)")
    if not np.issubdtype(rater.dtype, np.integer):
        raise RankingError("rater must hold whole-number rater ids")
    if not np.issubdtype(count.dtype, np.integer) or count.min() < 1:
        raise RankingError("count must hold whole numbers of judgments, 1 or more")
    return (
        first.astype(np.int64, copy=False),
        second.astype(np.int64, copy=False),
        outcome,
        rater.astype(np.int64, copy=False),
        count.astype(np.int64, copy=False),
    )


def _weighted(outcome: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first side's wins and the second's of each row: its outcome (and 1 - outcome) times its count."""
    return outcome * count, (1.0 - outcome) * count


def _elo(wins: np.ndarray) -> np.ndarray:
    """choix's Bradley–Terry fit of a win matrix (``wins[i, j]``: i beat j), on the Elo scale."""
    if len(wins) == 1:
        return np.array([1000.0])
    params = choix.ilsr_pairwise_dense(wins, alpha=ALPHA, max_iter=MAX_ITER)
    return 1000.0 + ELO * (params - params.mean())


def _elo_batch(wins: np.ndarray) -> np.ndarray:
    """The same fit as ``_elo`` for a batch of win matrices ``wins[b]`` at once, by Newton's method.

    choix takes 0.5 to 2 ms per fit on a shared machine; Newton steps on the whole batch take a fraction
    of that per matrix. The objective is the one choix's fixed point maximises (see ALPHA):
    ``sum_ij W_ij log sigmoid(s_i - s_j) + alpha n sum_i log softmax(s)_i``; the tests check the scores
    against ``choix.ilsr_pairwise_dense`` round by round.
    """
    count, n, _ = wins.shape
    if n == 1:
        return np.full((count, 1), 1000.0)
    total = wins + wins.transpose(0, 2, 1)
    scores = np.zeros((count, n))
    shift = np.ones((n, n))
    active = np.arange(count)
    for _ in range(NEWTON_STEPS):
        if not len(active):
            break
        s = scores[active]
        # bradley_terry's Hessian of the negative log-likelihood (its own prior off), plus choix's prior.
        hessian, p = _hessian(s, total[active], 0.0)
        q = np.exp(s - s.max(axis=1, keepdims=True))
        q /= q.sum(axis=1, keepdims=True)
        hessian += ALPHA * n * n * (q[:, :, None] * np.eye(n) - q[:, :, None] * q[:, None, :])
        gradient = (wins[active] - total[active] * p).sum(axis=2) + ALPHA * n * (1.0 - n * q)
        # Both parts are blind to a common shift of the scores; adding 1 1^T fixes it without changing
        # the step on score differences.
        step = np.linalg.solve(hessian + shift, gradient[:, :, None])[:, :, 0]
        # Far from the optimum a full step can overshoot (a method that nearly never lost); a bounded one
        # still converges.
        scores[active] = s + np.clip(step, -2.0, 2.0)
        active = active[np.abs(step).max(axis=1) >= TOLERANCE]
    elo = 1000.0 + ELO * (scores - scores.mean(axis=1, keepdims=True))
    for b in active:  # a round Newton did not settle (none seen so far) gets choix's own fit
        elo[b] = _elo(wins[b])
    return elo


def _cluster_cells(
    cluster: np.ndarray,
    clusters: int,
    win_cell: np.ndarray,
    loss_cell: np.ndarray,
    won: np.ndarray,
    lost: np.ndarray,
    cells: int,
) -> sparse.csr_matrix:
    """Each cluster's wins per (winner, loser) cell, summed over its judgments."""
    if clusters * cells <= len(cluster):
        # Fewer (cluster, cell) slots than judgments (raters × method pairs, against millions of votes):
        # summed into a table of them, not through COO's per-entry copies (0.5 GB at five million
        # judgments). Outcomes are 0, 1/2 and 1, whose sums are exact in any order: the same figures.
        slot = cluster.astype(np.int64) * cells
        wins = np.bincount(slot + win_cell, won, minlength=clusters * cells)
        wins += np.bincount(slot + loss_cell, lost, minlength=clusters * cells)
        return sparse.csr_matrix(wins.reshape(clusters, cells))
    rows = np.concatenate([cluster, cluster])
    cols = np.concatenate([win_cell, loss_cell])
    values = np.concatenate([won, lost])
    # The COO constructor sums repeated (row, column) entries when it converts.
    return sparse.coo_matrix((values, (rows, cols)), shape=(clusters, cells)).tocsr()


# --- fragility ------------------------------------------------------------------------------------


def _fragility(
    methods: tuple[str, ...],
    first: np.ndarray,
    second: np.ndarray,
    outcome: np.ndarray,
    judgments: np.ndarray,
    leader: int,
    runner_up: int,
) -> Fragility:
    """Greedy removals that put ``runner_up`` above ``leader`` (Huang et al. 2025), confirmed by refits."""
    n = len(methods)
    # Kinds: the lower code as ``i``, the outcome from i's side (0, 0.5 or 1), and how many judgments.
    flip = first > second
    i_all = np.where(flip, second, first)
    j_all = np.where(flip, first, second)
    o_all = np.where(flip, 1.0 - outcome, outcome)
    kinds, kind_of_row = np.unique(
        (i_all * n + j_all) * 3 + np.rint(o_all * 2).astype(np.int64), return_inverse=True
    )
    ki, kj = (kinds // 3) // n, (kinds // 3) % n
    ko = (kinds % 3) / 2.0
    count = np.bincount(kind_of_row.reshape(-1), judgments, minlength=len(kinds)).astype(np.int64)

    def matrix(removed: np.ndarray) -> np.ndarray:
        left = (count - removed).astype(np.float64)
        wins = np.zeros((n, n))
        np.add.at(wins, (ki, kj), left * ko)
        np.add.at(wins, (kj, ki), left * (1.0 - ko))
        return wins

    def swapped(removed: np.ndarray) -> bool:
        params = _elo(matrix(removed))
        return bool(params[runner_up] > params[leader])

    # Stages: rank kinds by first-order influence at the current data, remove as many as the linear
    # prediction says will close the gap, refit, and go again until the two change places.
    removed = np.zeros(len(kinds), dtype=np.int64)
    sequence: list[tuple[int, int]] = []  # (kind, count) in the order removed
    found = False
    for _ in range(FRAGILITY_STAGES):
        wins = matrix(removed)
        params = choix.ilsr_pairwise_dense(wins, alpha=ALPHA, max_iter=MAX_ITER)
        gap = params[leader] - params[runner_up]
        if gap < 0:
            found = True
            break
        effect = _removal_effect(params, wins, ki, kj, ko, leader, runner_up)
        left = count - removed
        harmful = np.flatnonzero((effect < 0) & (left > 0))
        if not len(harmful):
            break
        harmful = harmful[np.argsort(effect[harmful], kind="stable")]
        closed = np.cumsum(-effect[harmful] * left[harmful])
        # Whole kinds up to the one that closes the gap, then only as many of that one as needed.
        last = min(int(np.searchsorted(closed, gap, side="right")), len(harmful) - 1)
        before = closed[last - 1] if last else 0.0
        needed = math.floor((gap - before) / -effect[harmful[last]]) + 1
        for k in harmful[:last]:
            sequence.append((int(k), int(left[k])))
            removed[k] += left[k]
        take = int(min(left[harmful[last]], max(needed, 1)))
        sequence.append((int(harmful[last]), take))
        removed[harmful[last]] += take
    else:
        found = swapped(removed)
    leader_name, runner_name = methods[leader], methods[runner_up]
    if not found:
        return Fragility(removals=None, leader=leader_name, runner_up=runner_name, removed=())

    def prefix(total: int) -> np.ndarray:
        taken = np.zeros(len(kinds), dtype=np.int64)
        for k, c in sequence:
            step = min(c, total)
            taken[k] += step
            total -= step
            if not total:
                break
        return taken

    # Binary search on the ordered removals: no swap at ``low`` removals, a confirmed swap at ``high``.
    low, high = 0, sum(c for _, c in sequence)
    while high - low > 1:
        middle = (low + high) // 2
        if swapped(prefix(middle)):
            high = middle
        else:
            low = middle
    taken = prefix(high)
    report = []
    for k in np.flatnonzero(taken):
        i, j, o = int(ki[k]), int(kj[k]), float(ko[k])
        # Said from the side of the leader or the runner-up when one of them is in the pair.
        if (j in (leader, runner_up) and i not in (leader, runner_up)) or j == leader:
            i, j, o = j, i, 1.0 - o
        report.append((methods[i], methods[j], o, int(taken[k])))
    return Fragility(removals=high, leader=leader_name, runner_up=runner_name, removed=tuple(report))


def _removal_effect(
    params: np.ndarray,
    wins: np.ndarray,
    ki: np.ndarray,
    kj: np.ndarray,
    ko: np.ndarray,
    leader: int,
    runner_up: int,
) -> np.ndarray:
    """First-order change of ``params[leader] - params[runner_up]`` when one judgment of each kind goes.

    At the fit, the gradient g(s, W) of choix's objective (see ALPHA) is zero. Removing one judgment of i
    against j with outcome o for i changes g by ``-(o - p_ij) (e_i - e_j)``, so the scores move by
    ``(o - p_ij) H^-1 (e_i - e_j)`` and the gap by ``(o - p_ij) (v_i - v_j)``, ``v = H^-1 (e_L - e_R)``.
    """
    n = len(params)
    total = wins + wins.T
    strength = np.exp(params - params.max())
    p = strength[:, None] / (strength[:, None] + strength[None, :])
    hessian = total * p * p.T
    np.fill_diagonal(hessian, 0.0)
    hessian -= np.diag(hessian.sum(axis=1))
    q = strength / strength.sum()
    hessian -= ALPHA * n * n * (np.diag(q) - np.outer(q, q))
    # Both parts are blind to a common shift of all scores; -1 1^T makes the system solvable without
    # changing the answer on score differences.
    target = np.zeros(n)
    target[leader], target[runner_up] = 1.0, -1.0
    v = np.linalg.solve(hessian - np.ones((n, n)), target)
    return (ko - p[ki, kj]) * (v[ki] - v[kj])
