"""lib.arrays answers what numpy's unique and searchsorted answer, dense ids or not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lib import arrays


@pytest.mark.parametrize(
    ("low", "high", "size", "dtype"),
    [
        (0, 50, 10_000, np.int64),  # dense: the table
        (-3_000, 3_000, 10_000, np.int64),  # negative ids (gold items are keyed -1 - id)
        (1, 2**40, 1_000, np.int64),  # sparse: numpy's sort
        (0, 200, 5_000, np.int32),
        (-1_000, 1_000, 5_000, np.int32),  # 32-bit ids index the table as they are
        (-100, 100, 1_000, np.int8),  # narrower ones would wrap when shifted: intp
        (0, 1, 0, np.int64),  # nothing
    ],
)
def test_unique_and_positions_agree_with_numpy(low: int, high: int, size: int, dtype: type) -> None:
    rng = np.random.default_rng(size)
    values = rng.integers(low, high, size=size).astype(dtype)
    uniques, inverse = arrays.unique_inverse(values)
    expected, expected_inverse = np.unique(values, return_inverse=True)
    assert uniques.dtype == values.dtype
    np.testing.assert_array_equal(uniques, expected)
    np.testing.assert_array_equal(inverse, expected_inverse.reshape(-1))
    np.testing.assert_array_equal(arrays.unique_values(values), expected)
    np.testing.assert_array_equal(arrays.positions(expected, values), np.searchsorted(expected, values))
    narrow_positions = arrays.positions(expected, values, code_type=np.int32)
    assert narrow_positions.dtype == np.int32
    np.testing.assert_array_equal(narrow_positions, np.searchsorted(expected, values))
    narrow_uniques, narrow_inverse = arrays.unique_inverse(values, code_type=np.int32)
    assert narrow_inverse.dtype == np.int32
    np.testing.assert_array_equal(narrow_uniques, expected)
    np.testing.assert_array_equal(narrow_inverse, expected_inverse.reshape(-1))
    counted, counts = arrays.unique_counts(values)
    assert counted.dtype == values.dtype
    np.testing.assert_array_equal(counted, expected)
    np.testing.assert_array_equal(counts, np.unique(values, return_counts=True)[1])


def test_positions_of_ids_outside_the_table_fall_back_to_searchsorted() -> None:
    ids = np.arange(100, 200, dtype=np.int64)
    wanted = np.array([100, 150, 199, 250, 5], dtype=np.int64)  # the last two are not there
    np.testing.assert_array_equal(
        arrays.positions(ids, np.repeat(wanted, 40)), np.searchsorted(ids, np.repeat(wanted, 40))
    )


def test_floats_take_numpys_path() -> None:
    values = np.array([2.5, 1.0, 2.5, -1.0])
    uniques, inverse = arrays.unique_inverse(values)
    np.testing.assert_array_equal(uniques, [-1.0, 1.0, 2.5])
    np.testing.assert_array_equal(inverse, [2, 1, 2, 0])


@pytest.mark.parametrize(
    ("size", "codes", "count"),
    [(0, 1, 3), (1, 1, 1), (10_000, 7, 100), (10_000, 7, 5_000), (20_000, 70_000, 1)],
)
@pytest.mark.parametrize("block", [arrays.FIRST_WITHIN_BLOCK, 997])
def test_first_within_keeps_the_rows_pandas_cumcount_ranks_below_count(
    size: int, codes: int, count: int, block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Codes under 2**16 take numpy's radix sort; wider ones its merge sort: both stable. Small blocks carry
    # each code's count from one block to the next.
    monkeypatch.setattr(arrays, "FIRST_WITHIN_BLOCK", block)
    values = np.random.default_rng(size).integers(0, codes, size=size)
    expected = np.flatnonzero(pd.Series(values).groupby(values).cumcount().to_numpy() < count)
    np.testing.assert_array_equal(arrays.first_within(values, count), expected)


@pytest.mark.parametrize("size", [0, 1, 1_000])
def test_positions_or_missing_are_searchsorted_where_found_and_minus_one_elsewhere(size: int) -> None:
    rng = np.random.default_rng(size)
    ids = np.unique(rng.integers(0, 5 * size + 1, size=size))
    wanted = rng.integers(-2, 5 * size + 3, size=200)
    expected = [int(np.flatnonzero(ids == w)[0]) if w in ids else -1 for w in wanted]
    np.testing.assert_array_equal(arrays.positions_or_missing(ids, wanted), expected)


@pytest.mark.parametrize(
    ("ids", "kind"),
    [
        ([0, 7, 2**31 - 1], np.int32),  # the largest id int32 holds
        ([0, 7, 2**31], np.int64),  # one past it
        ([-1, 7], np.int64),  # not a row id: kept as it is
        ([], np.int32),
    ],
)
def test_narrow_ids_keep_every_value_in_int32_only_where_it_fits(ids: list[int], kind: type) -> None:
    narrowed = arrays.narrow_ids(np.array(ids, dtype=np.int64))
    assert narrowed.dtype == kind
    assert narrowed.tolist() == ids


@pytest.mark.parametrize("size", [0, 5, 3_000_001])
def test_flatnonzero_int32_gives_numpys_positions_across_blocks(size: int) -> None:
    mask = np.random.default_rng(size).random(size) < 0.3
    positions = arrays.flatnonzero_int32(mask)
    assert positions.dtype == np.int32
    np.testing.assert_array_equal(positions, np.flatnonzero(mask))
