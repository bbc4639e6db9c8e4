"""Agreement measures against published and hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from annotate.stats_agreement import agreement, krippendorff_alpha_nominal, percent_agreement


def counts_from_units(units: list[list[int | None]], categories: int) -> np.ndarray:
    counts = np.zeros((len(units), categories), dtype=np.int64)
    for u, values in enumerate(units):
        for value in values:
            if value is not None:
                counts[u, value - 1] += 1
    return counts


def test_alpha_matches_krippendorffs_published_nominal_example() -> None:
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability", the 4 coders x 12 units example:
    # nominal alpha = 0.743. Columns are units; None is a missing value.
    coders = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
        [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
    ]
    units = [[coder[u] for coder in coders] for u in range(12)]
    assert krippendorff_alpha_nominal(counts_from_units(units, 5)) == pytest.approx(0.743, abs=5e-4)


def test_alpha_is_one_for_perfect_agreement_and_undefined_without_variation() -> None:
    assert krippendorff_alpha_nominal(np.array([[3, 0, 0], [0, 2, 0]])) == pytest.approx(1.0)
    assert krippendorff_alpha_nominal(np.array([[3, 0, 0], [2, 0, 0]])) is None
    assert krippendorff_alpha_nominal(np.array([[1, 0, 0], [0, 1, 0]])) is None  # nobody pairable


def test_alpha_of_two_raters_who_always_disagree_is_negative() -> None:
    assert krippendorff_alpha_nominal(np.array([[1, 1, 0], [1, 1, 0]])) < 0


def test_percent_agreement_averages_agreeing_rater_pairs_over_units() -> None:
    # 2 A + 1 B: one of three pairs agrees; 2 A: the one pair agrees; a single vote has no pair.
    counts = np.array([[2, 1, 0], [2, 0, 0], [1, 0, 0]])
    assert percent_agreement(counts) == pytest.approx((1 / 3 + 1) / 2)


def test_agreement_reports_raters_per_pair() -> None:
    result = agreement(np.array([[2, 1, 0], [2, 0, 0], [1, 0, 0], [0, 0, 0]]))
    assert (result.pairs, result.pairs_with_several_raters, result.votes) == (3, 2, 6)
    assert result.raters_per_pair_mean == pytest.approx(2.0)
    assert (result.raters_per_pair_min, result.raters_per_pair_max) == (1, 3)


def test_agreement_of_nothing_is_empty_not_an_error() -> None:
    result = agreement(np.zeros((0, 3), dtype=np.int64))
    assert result.pairs == 0
    assert result.krippendorff_alpha_nominal is None
    assert result.percent_agreement is None
