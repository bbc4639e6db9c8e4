"""The export hands the quality fit its compact columns as codes (exports.quality.judgments_coded): the
figures are those of annotate.quality's frame of text columns, to the last bit."""

from __future__ import annotations

import gc
import weakref
from concurrent.futures import Future

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from annotate.quality import QualityFit, quality_fit
from annotate.quality_simulation import simulate_track
from exports import aggregate
from exports import quality as quality_export
from exports.quality import FitInputs, PendingQuality, judgments_coded


def originals(frame: pd.DataFrame) -> list[int | None]:
    """Each repeat's original: the rater's first answer on the item and criterion (None for the rest)."""
    first: dict[tuple[int, int, str], int] = {}
    found: list[int | None] = []
    for row, (rater, item, criterion, repeat) in enumerate(
        frame[["rater", "item", "criterion", "is_repeat"]].itertuples(index=False)
    ):
        key = (rater, item, criterion)
        found.append(first.get(key) if repeat else None)
        first.setdefault(key, row)
    return found


def compact_of(frame: pd.DataFrame) -> tuple[pa.Table, FitInputs]:
    """The export's compact columns for a frame of text columns: its codes, each repeat pointing at its
    original's judgment id, gold answers and video lengths as the database would give them."""
    ids = np.arange(1, len(frame) + 1) * 3  # judgment ids: increasing, not dense
    repeat_of = [None if row is None else int(ids[row]) for row in originals(frame)]
    response = frame["response_ms"].to_numpy()
    compact = pa.table(
        {
            "judgment_id": pa.array(ids, pa.int64()),
            "comparison_id": pa.array(frame["item"], pa.int64()),
            "rater_pk": pa.array(frame["rater"], pa.int64()),
            "criterion_code": pa.array([aggregate.CRITERIA.index(c) for c in frame["criterion"]], pa.int8()),
            "choice_code": pa.array([aggregate.CHOICES.index(c) for c in frame["choice"]], pa.int8()),
            "shown_left_a": pa.array(frame["shown_left"] == "A"),
            "response_ms": pa.array(np.nan_to_num(response, nan=0), pa.int32(), mask=np.isnan(response)),
            "is_gold": pa.array(frame["is_gold"]),
            "is_repeat": pa.array(frame["is_repeat"]),
            "repeat_of": pa.array(repeat_of, pa.int64()),
        }
    )
    gold = {
        (int(item), aggregate.CRITERIA.index(criterion)): aggregate.CHOICES.index(answer)
        for item, criterion, answer in frame[["item", "criterion", "gold_answer"]].itertuples(index=False)
        if isinstance(answer, str)
    }
    durations = frame.groupby("item")["duration_ms"].first()
    return compact, FitInputs(gold=gold, durations=lambda: durations)


@pytest.mark.parametrize("id_offset", [0, 2**31])  # ids the fit narrows to int32, and ids it cannot
def test_the_coded_columns_give_the_fit_of_the_text_frame_exactly(id_offset: int) -> None:
    frame = simulate_track(11, comparisons=150).judgments.copy()
    frame["item"] += id_offset
    frame["rater"] += id_offset
    # A second criterion, some both-bad answers, an unknown response time and an unknown video length.
    frame.loc[frame.index % 3 == 0, "criterion"] = "identity_fidelity"
    frame.loc[frame.index % 17 == 0, "choice"] = "both_bad"
    frame["response_ms"] = frame["response_ms"].round()  # whole milliseconds, as stored
    frame.loc[5, "response_ms"] = np.nan
    frame.loc[frame["item"] == frame["item"].iloc[0], "duration_ms"] = np.nan
    # The same known answer on every gold row of an item and criterion, as the database holds one.
    gold = frame["is_gold"]
    frame.loc[gold, "gold_answer"] = (
        frame[gold].groupby(["item", "criterion"])["gold_answer"].transform("first")
    )
    frame.loc[~gold, "gold_answer"] = None
    # A repeat's answer compared with its original's; unknown where the rater has none before it.
    choices = frame["choice"].tolist()
    frame["repeat_choice_same"] = pd.array(
        [
            pd.NA if row is None else choices[row] == own
            for row, own in zip(originals(frame), choices, strict=True)
        ],
        dtype="boolean",
    )
    assert frame["is_repeat"].any() and gold.any() and frame["repeat_choice_same"].notna().any()
    compact, inputs = compact_of(frame)

    coded = judgments_coded(compact, inputs)
    assert coded.item.dtype == (np.int32 if id_offset == 0 else np.int64)
    from_codes = quality_fit(coded, excluded={3 + id_offset})
    from_text = quality_fit(frame, excluded={3 + id_offset})

    pd.testing.assert_frame_equal(from_codes.raters, from_text.raters, check_exact=True)
    pd.testing.assert_frame_equal(from_codes.posteriors, from_text.posteriors, check_exact=True)


def test_the_pairs_posteriors_are_the_fits_and_its_frame_is_let_go() -> None:
    frame = simulate_track(5, comparisons=60).judgments.copy()
    frame.loc[frame.index % 2 == 0, "criterion"] = "identity_fidelity"
    fit = quality_fit(frame)
    post = fit.posteriors
    # The export's pairs: the fit's items less one, and one the fit never saw.
    items = np.unique(post["item"].to_numpy())
    comparison_ids = np.sort(np.append(items[1:], items.max() + 1000))
    column = post["p_a"].to_numpy()  # a view: the memory is its base's
    probabilities = weakref.ref(column.base if column.base is not None else column)
    del column
    done: Future[QualityFit | None] = Future()
    done.set_result(fit)
    pending = PendingQuality(fit=done, pool=None, durations=Future(), judged=items, excluded=set())  # type: ignore[arg-type]
    criteria = ("element_consistency", "identity_fidelity", "visual_quality")

    spread = pending.posteriors(comparison_ids, criteria)

    for criterion in criteria:
        of_fit = post[post["criterion"] == criterion].set_index("item")
        for name, values in zip(("p_a", "p_b", "p_tie"), spread[criterion], strict=True):
            expected = of_fit[name].reindex(comparison_ids).to_numpy()
            np.testing.assert_array_equal(values, expected)  # NaN where the fit has no such item
    assert np.isnan(spread["element_consistency"][0]).all()  # no vote on it: no posterior
    assert np.isnan(spread["identity_fidelity"][0][-1])  # the pair the fit never saw
    # Nothing keeps the fit's frame once its posteriors are spread: not even an empty slice of it.
    del fit, post, done
    gc.collect()
    assert probabilities() is None
    assert pending.fit.result().posteriors.empty


def test_the_lengths_looked_up_a_block_of_rows_at_a_time_are_pandas_reindex() -> None:
    # Lengths by comparison id in no order, rows on comparisons with no known length among them.
    lengths = pd.Series([5000.0, np.nan, 2500.0, 8000.0], index=[40, 7, 12, 3])
    rows = np.array([12, 3, 99, 40, 40, 7, 1, 3, 12, 12, 5], dtype=np.int32)
    lengths_of = quality_export.lengths_lookup(lengths)
    looked_up = np.concatenate([lengths_of(rows[:4]), lengths_of(rows[4:])])
    np.testing.assert_array_equal(looked_up, lengths.reindex(rows).to_numpy())
    assert np.isnan(looked_up).sum() == 4
