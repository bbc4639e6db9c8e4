"""Win rates of one pair: intervals, tests and planning figures, computed by scipy and statsmodels.

Two kinds of answer live here. Per answer, as papers report them: the Wilson interval and the exact
binomial test, which treat every answer as an independent person. Per cluster (a participant or rater who
answered many times): a percentile bootstrap over clusters, the design effect, and a cluster-robust test,
which stay honest when one person's 40 answers lean the same way. Ties count as half a win throughout,
so ``wins`` may hold halves.

The planning functions use the normal approximation, ``half_width = z * sqrt(rate (1 - rate) deff / n)``
with z = 1.96 (the 97.5th percentile of the standard normal) and, for participants answering ``m`` times
each, the design effect ``1 + (m - 1) icc``; counts round up.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.stats import binomtest, norm
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

Z_95 = float(norm.ppf(0.975))  # 1.95996...: a two-sided 95 % interval
# Bootstrap weights are drawn this many cells at a time (rounds x clusters), which bounds memory for
# studies or tracks with many thousands of raters.
_CELLS_PER_CHUNK = 4_000_000
# Floating point may land a whole number like 369 at 369.0000000001; that must not round up to 370.
_ROUNDING_SLACK = 1e-9


def wilson_interval(wins: float, n: int) -> tuple[float, float]:
    """The 95 % Wilson score interval of ``wins / n``; (0, 1) when there is no answer yet."""
    if n == 0:
        return (0.0, 1.0)
    low, high = proportion_confint(wins, n, alpha=0.05, method="wilson")
    return (max(0.0, float(low)), min(1.0, float(high)))


def binomial_p(wins: int, n: int, alternative: str = "two-sided") -> float:
    """The exact binomial test of ``wins`` of ``n`` against no preference (p = 1/2); 1.0 without answers."""
    if n == 0:
        return 1.0
    return float(binomtest(int(wins), int(n), 0.5, alternative=alternative).pvalue)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of a family of p-values, in the order given."""
    if len(p_values) == 0:
        return []
    return [float(p) for p in multipletests(list(p_values), alpha=0.05, method="holm")[1]]


def _clusters(wins: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    wins, n = np.asarray(wins, dtype=np.float64), np.asarray(n, dtype=np.float64)
    if wins.shape != n.shape or wins.ndim != 1:
        raise ValueError(
            "wins and n must be two one-dimensional arrays of the same length, one entry per cluster"
        )
    if (n < 0).any() or (wins < 0).any() or (wins > n).any():
        raise ValueError("each cluster needs 0 <= wins <= n")
    answered = n > 0  # a cluster without answers carries no information and would only divide by zero
    return wins[answered], n[answered]


def clustered_rate_interval(
    wins: np.ndarray, n: np.ndarray, *, rounds: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """95 % percentile bootstrap interval of the pooled rate ``Σ wins / Σ n``, resampling clusters.

    Each round draws as many clusters as there are, with replacement: multinomial counts over clusters,
    one row per round, so the rates of all rounds come from two matrix products. (0, 1) when fewer than
    two clusters answered: one person's answers say nothing about how people differ.
    """
    if not 1 <= rounds <= 100_000:
        raise ValueError(f"rounds must be between 1 and 100000, not {rounds}")
    wins, n = _clusters(wins, n)
    clusters = wins.size
    if clusters < 2:
        return (0.0, 1.0)
    rng = np.random.default_rng(seed)
    share = np.full(clusters, 1.0 / clusters)
    per_chunk = max(1, _CELLS_PER_CHUNK // clusters)
    rates = np.empty(rounds)
    for start in range(0, rounds, per_chunk):
        stop = min(rounds, start + per_chunk)
        weights = rng.multinomial(clusters, share, size=stop - start).astype(np.float64)
        # Every cluster kept has n > 0 and every round draws at least one: no division by zero.
        rates[start:stop] = (weights @ wins) / (weights @ n)
    low, high = np.percentile(rates, [2.5, 97.5])
    return (float(low), float(high))


def _rate_and_variances(wins: np.ndarray, n: np.ndarray) -> tuple[float, float, float, int]:
    """The pooled rate, its cluster-robust (sandwich) variance, its binomial variance, and the cluster count.

    The pooled rate is a ratio estimator, ``r = Σ w_c / Σ n_c``; its linearised (sandwich) variance is
    ``C / (C - 1) * Σ (w_c - r n_c)² / (Σ n_c)²`` over the C clusters; the binomial variance, which
    treats every answer as independent, is ``r (1 - r) / Σ n_c``.
    """
    wins, n = _clusters(wins, n)
    clusters, total = wins.size, float(n.sum())
    if clusters == 0:
        return (math.nan, math.nan, math.nan, 0)
    rate = float(wins.sum()) / total
    binomial = rate * (1 - rate) / total
    if clusters < 2:
        return (rate, math.nan, binomial, clusters)
    residuals = wins - rate * n
    sandwich = clusters / (clusters - 1) * float(residuals @ residuals) / total**2
    return (rate, sandwich, binomial, clusters)


def design_effect(wins: np.ndarray, n: np.ndarray) -> float:
    """How much clustering inflates the variance of the pooled rate over independent answers (never below 1).

    The cluster-robust (sandwich) variance of the ratio estimator over the binomial variance of the same
    rate; 1.0 when it cannot be estimated (fewer than two clusters, or a rate of exactly 0 or 1).
    """
    _, sandwich, binomial, clusters = _rate_and_variances(wins, n)
    if clusters < 2 or not binomial > 0:
        return 1.0
    return max(1.0, sandwich / binomial)


def one_sided_better_p(wins: np.ndarray, n: np.ndarray) -> float:
    """A cluster-robust one-sided test of H0: rate <= 1/2 against rate > 1/2 (ties are half a win).

    Method: the Wald z-test of the ratio estimator ``r = Σ w_c / Σ n_c`` with its sandwich (cluster-robust)
    standard error and a normal reference, ``p = 1 - Φ((r - 1/2) / se)``. The variance is never taken below
    the binomial variance at the null, ``1 / (4 Σ n_c)``, so that a handful of clusters that happen to agree
    perfectly cannot give p = 0; with fewer than two clusters that binomial variance is used alone.
    1.0 without answers.
    """
    rate, sandwich, _, clusters = _rate_and_variances(wins, n)
    if clusters == 0:
        return 1.0
    total = float(np.asarray(n, dtype=np.float64).sum())
    floor = 0.25 / total
    variance = floor if clusters < 2 else max(sandwich, floor)
    return float(norm.sf((rate - 0.5) / math.sqrt(variance)))


def _check_rate(rate: float) -> None:
    if not 0 < rate < 1:
        raise ValueError(f"the expected rate must lie strictly between 0 and 1, not {rate}")


def _check_half_width(half_width: float) -> None:
    if not 0 < half_width < 0.5:
        raise ValueError(f"the half-width must lie strictly between 0 and 0.5, not {half_width}")


def _check_design(answers_per_participant: int, icc: float) -> float:
    if answers_per_participant < 1:
        raise ValueError(f"each participant must give at least one answer, not {answers_per_participant}")
    if not 0 <= icc < 1:
        raise ValueError(f"the intra-participant correlation must lie in [0, 1), not {icc}")
    return 1 + (answers_per_participant - 1) * icc


def _round_up(value: float) -> int:
    return max(1, math.ceil(value - _ROUNDING_SLACK))


def answers_needed(rate: float, half_width: float, design_effect: float = 1.0) -> int:
    """Answers for a 95 % interval of ``± half_width`` around ``rate``: ``z² rate (1 - rate) deff / hw²``."""
    _check_rate(rate)
    _check_half_width(half_width)
    if not design_effect >= 1:
        raise ValueError(f"the design effect must be at least 1, not {design_effect}")
    return _round_up(Z_95**2 * rate * (1 - rate) * design_effect / half_width**2)


def participants_needed(rate: float, half_width: float, answers_per_participant: int, icc: float) -> int:
    """Participants of ``m`` answers each for a 95 % interval of ``± half_width``.

    Their answers count for ``m / (1 + (m - 1) icc)`` independent ones (the design effect).
    """
    deff = _check_design(answers_per_participant, icc)
    answers = answers_needed(rate, half_width, deff)
    return -(-answers // answers_per_participant)  # ceil(ceil(x) / m) == ceil(x / m) for whole m


def half_width_for(rate: float, participants: int, answers_per_participant: int, icc: float) -> float:
    """The 95 % half-width that ``participants`` of ``m`` answers each give around ``rate``."""
    _check_rate(rate)
    deff = _check_design(answers_per_participant, icc)
    if participants < 1:
        raise ValueError(f"the design needs at least one participant, not {participants}")
    return Z_95 * math.sqrt(rate * (1 - rate) * deff / (participants * answers_per_participant))
