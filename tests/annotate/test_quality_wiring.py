"""The quality figures are the libraries' own: crowd-kit's Dawid–Skene, scipy's binomial test, statsmodels'
Holm adjustment, and FastChat's contradiction test worked by hand."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from crowdkit.aggregation import DawidSkene
from scipy.stats import binomtest
from statsmodels.stats.multitest import multipletests

from annotate import quality
from annotate.quality import quality_fit
from annotate.quality_simulation import simulate_track


def row(rater: int, item: int, choice: str, **extra: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "rater": rater,
        "item": item,
        "criterion": "visual_quality",
        "choice": choice,
        "shown_left": "A",
        "response_ms": 9000.0,
        "is_gold": False,
        "gold_answer": None,
        "is_repeat": False,
        "repeat_choice_same": pd.NA,
        "duration_ms": 8000.0,
    }
    values.update(extra)
    return values


def small_track() -> pd.DataFrame:
    frame = simulate_track(7, comparisons=120).judgments.copy()
    # Some both-bad answers and a second criterion, so tie handling and criteria are part of the wiring.
    frame.loc[frame.index % 17 == 0, "choice"] = "both_bad"
    second = frame.copy()
    second["criterion"] = "identity"
    second["choice"] = np.where(second.index % 3 == 0, "B", second["choice"])
    return pd.concat([frame, second], ignore_index=True)


def crowdkit_direct(frame: pd.DataFrame, criterion: str, excluded: set[int]) -> DawidSkene:
    rows = frame[(frame["criterion"] == criterion) & ~frame["rater"].isin(excluded)]
    label = rows["choice"].replace("both_bad", "tie")
    real = ~rows["is_gold"] & ~rows["is_repeat"]
    gold = rows["is_gold"] & ~rows["is_repeat"]
    data = pd.concat(
        [
            pd.DataFrame({"task": rows["item"][real], "worker": rows["rater"][real], "label": label[real]}),
            pd.DataFrame(
                {"task": -1 - rows["item"][gold], "worker": rows["rater"][gold], "label": label[gold]}
            ),
        ],
        ignore_index=True,
    )
    truth = rows[gold].groupby("item")["gold_answer"].first()
    true_labels = pd.Series(truth.to_numpy(), index=-1 - truth.index.to_numpy())
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"crowdkit\.")
        return DawidSkene(n_iter=100, tol=1e-5).fit(data, true_labels=true_labels)


def test_posteriors_and_reliabilities_equal_crowdkits_dawid_skene_without_the_excluded_raters() -> None:
    frame = small_track()
    excluded = {3, 21}
    fit = quality_fit(frame, excluded=excluded)
    reliability_sum: dict[int, float] = {}
    weight: dict[int, int] = {}
    for criterion in ("identity", "visual_quality"):
        ds = crowdkit_direct(frame, criterion, excluded)
        assert ds.probas_ is not None and ds.priors_ is not None and ds.errors_ is not None
        ours = fit.posteriors[fit.posteriors["criterion"] == criterion].set_index("item")
        theirs = ds.probas_[ds.probas_.index >= 0]
        assert sorted(ours.index) == sorted(theirs.index)  # gold items are not in the posteriors
        for column, label in (("p_a", "A"), ("p_b", "B"), ("p_tie", "tie")):
            assert np.allclose(ours.loc[theirs.index, column], theirs[label], atol=1e-9)
        real = frame[(frame["criterion"] == criterion) & ~frame["is_gold"] & ~frame["is_repeat"]]
        votes = real[~real["rater"].isin(excluded)].groupby("rater").size()
        for rater, n in votes.items():
            diagonal = sum(
                ds.priors_[t] * ds.errors_.loc[(rater, t), t]
                for t in ds.priors_.index
                if (rater, t) in ds.errors_.index
            )
            reliability_sum[int(rater)] = reliability_sum.get(int(rater), 0.0) + diagonal * n
            weight[int(rater)] = weight.get(int(rater), 0) + int(n)
    raters = fit.raters.set_index("rater")
    for rater, total in reliability_sum.items():
        assert raters.loc[rater, "ds_reliability"] == pytest.approx(total / weight[rater], abs=1e-9)
    # The excluded raters keep a row, with a reliability measured against the included fit.
    assert set(excluded) <= set(raters.index)
    assert raters.loc[sorted(excluded), "excluded"].all()
    assert raters.loc[sorted(excluded), "ds_reliability"].between(0, 1).all()
    # Leaving them in would have changed the fit: the test above could tell.
    with_them = quality_fit(frame).posteriors.set_index(["item", "criterion"])["p_a"]
    without = fit.posteriors.set_index(["item", "criterion"])["p_a"]
    assert not np.allclose(with_them.loc[without.index], without, atol=1e-6)


def test_left_p_and_holm_equal_scipy_and_statsmodels() -> None:
    frame = simulate_track(3, comparisons=200).judgments
    raters = quality_fit(frame).raters.set_index("rater")
    decisive = frame[frame["choice"].isin(["A", "B"])]
    left = (decisive["choice"] == decisive["shown_left"]).groupby(decisive["rater"]).agg(["size", "sum"])
    expected_p = [
        binomtest(int(k), int(n), 0.5).pvalue for n, k in zip(left["size"], left["sum"], strict=True)
    ]
    assert list(raters.loc[left.index, "decisive_n"]) == list(left["size"])
    assert list(raters.loc[left.index, "left_n"]) == list(left["sum"])
    assert np.allclose(raters.loc[left.index, "left_p"], expected_p, rtol=1e-12)
    holm = multipletests(expected_p, method="holm")[1]
    assert np.allclose(raters.loc[left.index, "left_p_holm"], holm, rtol=1e-12)
    assert raters.loc[20, "left_p_holm"] < 1e-5  # an always-Left rater


def contradiction_example() -> pd.DataFrame:
    rows = [row(r, item, "A") for item in range(6) for r in (1, 2, 3, 4)]
    rows += [row(9, item, "B") for item in range(4)] + [row(9, 4, "tie"), row(9, 5, "A")]
    return pd.DataFrame(rows)


def test_the_crowd_contradiction_e_value_is_fastchats_product_worked_by_hand() -> None:
    raters = quality_fit(contradiction_example()).raters.set_index("rater")
    # Rater 9 against four others who all chose A (R = 1, 1, 1, 1) plus this vote:
    # B: p+ = (0 + 1) / (4 + 1) = 1/5, factor 1/(2p) = 2.5, four times; the tie: p+ = 1/5 again, 2.5;
    # the last vote, A, has p+ = 1 (factor 0.5). The largest running product is 2.5^5.
    assert raters.loc[9, "contradiction_e"] == pytest.approx(2.5**5)
    assert raters.loc[9, "contradiction_votes"] == 6
    assert "contradicts the crowd (e-value 98)" in raters.loc[9, "flags"]
    # Rater 1 on items 0-3 sees R = 1, 1, 1 (raters 2-4) and 0 (rater 9): for v = 1, p- = (3 + 1)/(4 + 1),
    # factor 0.625; afterwards every factor is at most 0.625, so the running maximum is the first one.
    assert raters.loc[1, "contradiction_e"] == pytest.approx(0.625)
    assert not raters.loc[1, "flags"]


def test_an_excluded_rater_is_left_out_of_the_crowd_but_still_measured_against_it() -> None:
    raters = quality_fit(contradiction_example(), excluded={9}).raters.set_index("rater")
    assert raters.loc[9, "contradiction_e"] == pytest.approx(2.5**5)
    # Without rater 9's B votes every other rater agrees with the whole crowd: each factor is 1/2.
    assert raters.loc[1, "contradiction_e"] == pytest.approx(0.5)


def test_fewer_than_five_votes_against_the_crowd_give_no_e_value() -> None:
    frame = contradiction_example()
    frame = frame[~((frame["rater"] == 9) & (frame["item"] >= 2))]
    raters = quality_fit(frame).raters.set_index("rater")
    assert np.isnan(raters.loc[9, "contradiction_e"])


def test_only_a_raters_first_hundred_votes_against_the_crowd_count() -> None:
    # Rater 9 agrees with the crowd on items 0-99, then contradicts it on 100-119: FastChat reads a
    # rater's first 100 votes, so the later ones change nothing.
    rows = [row(r, item, "A") for item in range(120) for r in (1, 2, 3, 4)]
    agreeing = [row(9, item, "A") for item in range(100)]
    raters = quality_fit(pd.DataFrame(rows + agreeing)).raters.set_index("rater")
    contradicting = [row(9, item, "B") for item in range(100, 120)]
    later = quality_fit(pd.DataFrame(rows + agreeing + contradicting)).raters.set_index("rater")
    assert later.loc[9, "contradiction_votes"] == raters.loc[9, "contradiction_votes"] == 100
    assert later.loc[9, "contradiction_e"] == raters.loc[9, "contradiction_e"] == pytest.approx(0.5)
    # In the other order the contradictions come first and are counted.
    first = quality_fit(pd.DataFrame(rows + contradicting + agreeing)).raters.set_index("rater")
    assert first.loc[9, "contradiction_e"] == pytest.approx(2.5**20)


def test_the_contradiction_counts_taken_a_block_of_items_at_a_time_give_the_figures_of_one_block(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frame = small_track()
    # A rater who votes some comparisons twice: their own votes on an item are left out of its crowd.
    twice = frame[(frame["rater"] == frame["rater"].iloc[0]) & ~frame["is_gold"] & ~frame["is_repeat"]]
    frame = pd.concat([frame, twice.head(15).assign(choice="B")], ignore_index=True)
    whole = quality_fit(frame).raters
    monkeypatch.setattr(quality, "CONTRADICTION_BLOCK_VOTES", 37)
    blocks = quality_fit(frame).raters
    assert whole["contradiction_votes"].sum() > 0
    pd.testing.assert_frame_equal(blocks, whole, check_exact=True)


def test_a_judgment_table_without_a_column_or_with_an_unknown_choice_is_refused() -> None:
    frame = contradiction_example()
    with pytest.raises(ValueError, match="shown_left"):
        quality_fit(frame.drop(columns=["shown_left"]))
    frame.loc[0, "choice"] = "left"
    with pytest.raises(ValueError, match="left"):
        quality_fit(frame)


def test_categorical_columns_give_the_figures_of_text_columns_exactly() -> None:
    frame = small_track()
    # Gold answers on some gold rows, and criterion categories in another order than their names'.
    gold = frame["is_gold"].to_numpy()
    frame["gold_answer"] = np.where(gold, np.where(frame.index % 2 == 0, "A", "both_bad"), None)
    coded = frame.copy()
    for column, categories in (
        ("criterion", ["visual_quality", "identity", "unused"]),
        ("choice", ["both_bad", "tie", "B", "A"]),
        ("shown_left", ["B", "A"]),
        ("gold_answer", ["A", "B", "tie", "both_bad"]),
    ):
        coded[column] = pd.Categorical(frame[column], categories=categories)
    coded["rater"] = coded["rater"].astype(np.int32)
    text_fit, coded_fit = quality_fit(frame, excluded={2}), quality_fit(coded, excluded={2})
    pd.testing.assert_frame_equal(coded_fit.raters, text_fit.raters, check_exact=True)
    pd.testing.assert_frame_equal(coded_fit.posteriors, text_fit.posteriors, check_exact=True)
    assert text_fit.raters["gold_n"].sum() > 0


def test_the_median_response_times_taken_a_block_of_raters_at_a_time_are_pandas_medians(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frame = small_track()
    # A rater with many more rows than a block (a block of their own), and response times not known on
    # some rows (left out of the median).
    heavy = frame[frame["rater"] == frame["rater"].iloc[0]]
    frame = pd.concat([frame, heavy.assign(response_ms=heavy["response_ms"] + 0.5)], ignore_index=True)
    frame.loc[frame.index % 7 == 0, "response_ms"] = np.nan
    whole = quality_fit(frame).raters
    monkeypatch.setattr(quality, "TIMING_BLOCK_ROWS", 5)
    blocks = quality_fit(frame).raters
    pd.testing.assert_frame_equal(blocks, whole, check_exact=True)
    expected = frame.groupby("rater")["response_ms"].median()
    assert len(heavy) > 5 and expected.notna().all()
    np.testing.assert_array_equal(whole.set_index("rater")["median_ms"].reindex(expected.index), expected)
