"""Labels compute p_a and the majority share for the rows asked: the exact fractions, NaN without a vote."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from exports.aggregate import criterion_labels, joint_labels


def counts_of(seed: int, rows: int = 400) -> np.ndarray:
    counts = np.random.default_rng(seed).integers(0, 4, size=(rows, 3)).astype(np.int32)
    counts[::7] = 0  # comparisons without a counted vote
    return counts


def test_p_a_and_majority_share_of_any_rows_are_the_exact_fractions() -> None:
    counts = counts_of(1)
    labels = criterion_labels(counts, keep_ties=True, min_votes=1, min_majority=0.0)
    rows = np.random.default_rng(2).permutation(len(counts))[:150]

    p_a, share = labels.p_a_of(rows), labels.majority_share_of(rows)

    for got_p, got_share, (a, b, tie) in zip(p_a, share, counts[rows].tolist(), strict=True):
        n = a + b + tie
        if n == 0:
            assert math.isnan(got_p) and math.isnan(got_share)
        else:
            assert got_p == float(Fraction(2 * a + tie, 2 * n))
            assert got_share == float(Fraction(max(a, b, tie), n))
    whole = labels.p_a_of(slice(None))
    np.testing.assert_array_equal(whole[rows], p_a)


def test_a_joint_label_keeps_the_mean_p_a_of_its_passing_criteria() -> None:
    first = criterion_labels(counts_of(3), keep_ties=False, min_votes=2, min_majority=0.6)
    second = criterion_labels(counts_of(4), keep_ties=False, min_votes=2, min_majority=0.6)

    joint = joint_labels([first, second], rule="mean", keep_ties=False)

    p = np.stack([first.p_a_of(slice(None)), second.p_a_of(slice(None))])
    passing = np.stack([first.passes_filter, second.passes_filter])
    for row in range(len(joint.label)):
        kept = [float(p[c, row]) for c in range(2) if passing[c, row]]
        expected = sum(kept) / len(kept) if kept else math.nan
        got = float(joint.p_a_of(np.array([row]))[0])
        assert (math.isnan(got) and math.isnan(expected)) or got == expected
    assert passing.any(axis=0).sum() > 50  # the rule was exercised on many rows
