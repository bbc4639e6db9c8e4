"""Inter-rater agreement from vote counts: raters per pair, percent agreement, Krippendorff's alpha.

Everything works on a count matrix ``counts[u, c]`` = how many raters put unit ``u`` (a comparison) in
category ``c`` (A, B, tie), so a million judgments reduce to a few vectorised numpy operations.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Agreement:
    pairs: int
    pairs_with_several_raters: int
    votes: int
    raters_per_pair_mean: float | None
    raters_per_pair_median: float | None
    raters_per_pair_min: int | None
    raters_per_pair_max: int | None
    percent_agreement: float | None
    krippendorff_alpha_nominal: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def percent_agreement(counts: np.ndarray) -> float | None:
    """Mean over units with two or more ratings of the share of rater pairs that agree.

    For a unit with ``m`` ratings that is ``Σ_c n_c (n_c - 1) / (m (m - 1))``; units rated once have no
    pair and are left out.
    """
    counts = np.asarray(counts, dtype=np.float64)
    m = counts.sum(axis=1)
    pairable = m >= 2
    if not pairable.any():
        return None
    agreeing = (counts[pairable] * (counts[pairable] - 1)).sum(axis=1)
    return float(np.mean(agreeing / (m[pairable] * (m[pairable] - 1))))


def krippendorff_alpha_nominal(counts: np.ndarray) -> float | None:
    """Krippendorff's alpha for nominal data, from the coincidence matrix of the pairable units.

    ``o[c, k] = Σ_u (n_uc n_uk - [c = k] n_uc) / (m_u - 1)`` over units with ``m_u ≥ 2``;
    ``alpha = 1 - (n - 1) Σ_{c≠k} o[c, k] / Σ_{c≠k} n_c n_k``. None when it is undefined: fewer than two
    pairable values, or every value in one category (no expected disagreement to compare with).

    Kept here rather than calling crowd-kit's ``alpha_krippendorff`` (which works offline: it runs NLTK's
    ``AnnotationTask``, a Python loop over ratings): on 1 million judgments in this shape (333,333 units of
    3 raters) crowd-kit took 3.8 s plus 0.4 s to build its one-row-per-rating frame, about 0.6 GB, where
    this takes 0.1 s on the counts; an export computes it per criterion and is measured at 10 million.
    tests/annotate/test_stats_agreement_library.py checks both give the same number on random counts.
    """
    counts = np.asarray(counts, dtype=np.float64)
    m = counts.sum(axis=1)
    pairable = m >= 2
    if not pairable.any():
        return None
    units = counts[pairable]
    weights = 1.0 / (m[pairable] - 1.0)
    coincidences = (units * weights[:, None]).T @ units - np.diag((units * weights[:, None]).sum(axis=0))
    marginals = coincidences.sum(axis=1)
    total = marginals.sum()
    off_diagonal = ~np.eye(len(marginals), dtype=bool)
    observed = coincidences[off_diagonal].sum()
    expected = np.outer(marginals, marginals)[off_diagonal].sum()
    if total < 2 or expected == 0:
        return None
    return float(1.0 - (total - 1.0) * observed / expected)


def agreement(counts: np.ndarray) -> Agreement:
    counts = np.asarray(counts, dtype=np.int64)
    m = counts.sum(axis=1)
    rated = m[m > 0]
    return Agreement(
        pairs=int(rated.size),
        pairs_with_several_raters=int((m >= 2).sum()),
        votes=int(m.sum()),
        raters_per_pair_mean=float(rated.mean()) if rated.size else None,
        raters_per_pair_median=float(np.median(rated)) if rated.size else None,
        raters_per_pair_min=int(rated.min()) if rated.size else None,
        raters_per_pair_max=int(rated.max()) if rated.size else None,
        percent_agreement=percent_agreement(counts[m > 0]),
        krippendorff_alpha_nominal=krippendorff_alpha_nominal(counts[m > 0]),
    )
