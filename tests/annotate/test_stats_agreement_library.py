"""Krippendorff's alpha of the count matrices the exports pass in, against crowd-kit's implementation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from crowdkit.metrics.data import alpha_krippendorff

from annotate.stats_agreement import krippendorff_alpha_nominal


def as_answers(counts: np.ndarray) -> pd.DataFrame:
    """One row per rating, as crowd-kit takes them: the unit is the task, the label its category, and the
    raters of a unit numbered 0, 1, ... (nominal alpha does not depend on who they are)."""
    unit, category = np.nonzero(counts)
    task = np.repeat(unit, counts[unit, category])
    label = np.repeat(category, counts[unit, category])
    first_of_unit = np.searchsorted(task, task)
    return pd.DataFrame({"task": task, "worker": np.arange(task.size) - first_of_unit, "label": label})


@pytest.mark.parametrize("seed", range(6))
def test_alpha_equals_crowd_kits_on_random_count_matrices(seed):
    """Units rated by 1 to 6 raters (a unit rated once cannot be paired and counts for nothing), in A, B
    or tie, with leanings from unanimous to split."""
    rng = np.random.default_rng(seed)
    units = int(rng.integers(20, 400))
    raters = rng.integers(1, 7, size=units)
    leanings = rng.dirichlet(rng.uniform(0.2, 3.0, size=3), size=units)
    counts = np.array([rng.multinomial(m, p) for m, p in zip(raters, leanings, strict=True)])
    assert krippendorff_alpha_nominal(counts) == pytest.approx(
        alpha_krippendorff(as_answers(counts)), abs=1e-12
    )


def test_alpha_equals_crowd_kits_for_two_categories_and_for_strong_disagreement():
    agreeing = np.array([[3, 0, 0], [0, 2, 0], [2, 1, 0], [0, 3, 0], [1, 0, 0]])
    split = np.array([[1, 1, 0], [1, 1, 0], [2, 2, 0], [1, 0, 1]])
    for counts in (agreeing, split):
        assert krippendorff_alpha_nominal(counts) == pytest.approx(alpha_krippendorff(as_answers(counts)))
