"""Detection by simulation: the flags name every careless rater and no careful one, for five seeds.

Track: 1,000 comparisons with a latent truth, 3 votes each (about 124 votes, 15 gold and 15 repeats per
rater), 20 careful raters (right with probability 0.8), 2 always-Left, 2 random; gold 10 %, repeats 10 %
with sides swapped. Study: 30 participants, 3 careless, 40 matchups of 4 criteria each (2 gold, 2 repeats),
crowd contradiction on method pairs.
"""

from __future__ import annotations

import pandas as pd
import pytest

from annotate.quality import THRESHOLDS, quality_fit
from annotate.quality_simulation import Simulated, simulate_study, simulate_track


def flagged(raters: pd.DataFrame) -> set[int]:
    return {int(r) for r, flags in zip(raters["rater"], raters["flags"], strict=True) if flags}


def check(sim: Simulated) -> pd.DataFrame:
    raters = quality_fit(sim.judgments).raters
    assert flagged(raters) == sim.careless
    for row in raters.itertuples():
        if sim.kinds[row.rater] == "always_left":
            assert any(f.startswith("chose Left in") for f in row.flags)
    careful = raters[~raters["rater"].isin(sim.careless)]
    # The careful raters stay clear of every flag's threshold, not just below the line by luck.
    assert careful["ds_reliability"].min() > THRESHOLDS.reliability_min + 0.03
    assert careful["contradiction_e"].max() < THRESHOLDS.contradiction_max_e / 4
    assert careful["left_p_holm"].min() > THRESHOLDS.position_max_p_holm
    return raters


@pytest.mark.parametrize("seed", range(5))
def test_the_flags_of_a_track_name_exactly_its_careless_raters(seed: int) -> None:
    sim = simulate_track(seed)
    raters = check(sim)
    assert len(sim.careless) == 4
    assert raters["votes"].median() > 100  # the size the thresholds were calibrated at


@pytest.mark.parametrize("seed", range(5))
def test_the_flags_of_a_study_name_exactly_its_careless_participants(seed: int) -> None:
    sim = simulate_study(seed)
    check(sim)
    assert len(sim.careless) == 3


def test_the_self_consistency_of_careful_raters_is_a_review_note_not_a_flag() -> None:
    raters = quality_fit(simulate_track(0).judgments).raters
    careful = raters[raters["rater"] < 20]
    noted = careful[careful["review"].map(lambda notes: any("repeats differently" in n for n in notes))]
    assert len(noted) > 0  # careful raters do fall below 0.6 at these sizes...
    assert all(not flags for flags in noted["flags"])  # ...and are not flagged for it
