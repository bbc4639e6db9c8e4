"""numpy's ``unique`` and ``searchsorted`` for database ids, without sorting when the ids are dense.

Ids of raters, comparisons and videos are integers in a range not much wider than their count. There a
table as long as the range answers in one pass what a sort answers in n log n: for the ten million
judgments of the export bench, ``np.unique(..., return_inverse=True)`` took about a second a call and
the table about 60 ms. Wider or non-integer values fall back to numpy; the answers are the same.
"""

from __future__ import annotations

import numpy as np

# A table may be this many times longer than the values (plus a fixed allowance) before a sort is cheaper.
_SPAN_PER_VALUE = 4
_SPAN_ALLOWANCE = 1 << 16


def _dense_span(values: np.ndarray) -> tuple[int, int] | None:
    """(lowest value, span) when a table over the values' range is cheap, else None."""
    if values.dtype.kind not in "iu" or not len(values):
        return None
    low, high = int(values.min()), int(values.max())
    span = high - low + 1
    if span > _SPAN_PER_VALUE * len(values) + _SPAN_ALLOWANCE:
        return None
    return low, span


def _from(values: np.ndarray, low: int) -> np.ndarray:
    """``values - low``: an index into a table that starts at ``low``. In the values' own type from 32 bits
    up (numpy indexes with it as it is, without a copy as intp); narrower ones, which the subtraction could
    wrap, as intp."""
    if values.dtype.itemsize < 4:
        values = values.astype(np.intp)
    return values - low if low else values


def unique_inverse(values: np.ndarray, *, code_type: type = np.int64) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)`` (sorted distinct values; each value's index, as
    ``code_type``: int32 halves a caller's ten million codes where it knows their number fits)."""
    values = np.asarray(values)
    dense = _dense_span(values)
    if dense is None:
        uniques, inverse = np.unique(values, return_inverse=True)
        return uniques, inverse.reshape(-1).astype(code_type, copy=False)
    low, span = dense
    shifted = _from(values, low)
    present = np.zeros(span, dtype=bool)
    present[shifted] = True
    code: np.ndarray = (np.cumsum(present, dtype=np.int64) - 1).astype(code_type, copy=False)
    return (np.flatnonzero(present) + low).astype(values.dtype, copy=False), code[shifted]


def unique_counts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_counts=True)`` (sorted distinct values; how often each, as int64)."""
    values = np.asarray(values)
    dense = _dense_span(values)
    if dense is None:
        uniques, counts = np.unique(values, return_counts=True)
        return uniques, counts.astype(np.int64, copy=False)
    low, span = dense
    tally = np.bincount(_from(values, low).astype(np.intp, copy=False), minlength=span)
    present = np.flatnonzero(tally)
    return (present + low).astype(values.dtype, copy=False), tally[present].astype(np.int64, copy=False)


def unique_values(values: np.ndarray) -> np.ndarray:
    """``np.unique(values)``."""
    values = np.asarray(values)
    dense = _dense_span(values)
    if dense is None:
        return np.unique(values)
    low, span = dense
    present = np.zeros(span, dtype=bool)
    present[_from(values, low)] = True
    return (np.flatnonzero(present) + low).astype(values.dtype, copy=False)


def positions(sorted_ids: np.ndarray, wanted: np.ndarray, *, code_type: type = np.int64) -> np.ndarray:
    """``np.searchsorted(sorted_ids, wanted)`` for ids that are all in ``sorted_ids`` (distinct, sorted),
    as ``code_type`` (int32 halves ten million positions where the caller knows they fit)."""
    sorted_ids, wanted = np.asarray(sorted_ids), np.asarray(wanted)
    dense = _dense_span(sorted_ids) if len(wanted) > len(sorted_ids) // 4 else None
    if dense is None or wanted.dtype.kind not in "iu":
        return np.searchsorted(sorted_ids, wanted).astype(code_type, copy=False)
    low, span = dense
    inside = (wanted >= low) & (wanted < low + span)
    if not inside.all():
        return np.searchsorted(sorted_ids, wanted).astype(code_type, copy=False)
    table: np.ndarray = np.zeros(span, dtype=code_type)
    table[_from(sorted_ids, low)] = np.arange(len(sorted_ids))
    return table[_from(wanted, low)]


def positions_or_missing(sorted_ids: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """The position of each of ``wanted`` in ``sorted_ids`` (distinct, sorted), -1 where it is not there."""
    sorted_ids, wanted = np.asarray(sorted_ids), np.asarray(wanted)
    if not len(sorted_ids):
        return np.full(len(wanted), -1, dtype=np.int64)
    at = np.minimum(np.searchsorted(sorted_ids, wanted), len(sorted_ids) - 1)
    return np.where(sorted_ids[at] == wanted, at, -1)


def narrow_ids(ids: np.ndarray) -> np.ndarray:
    """``ids`` as int32 when every one fits (ids of rows below two billion do), else as int64: held by the
    million, each array of them is then half as large."""
    if len(ids) and (int(ids.min()) < 0 or int(ids.max()) >= 2**31):
        return ids.astype(np.int64, copy=False)
    return ids.astype(np.int32, copy=False)


def flatnonzero_int32(mask: np.ndarray) -> np.ndarray:
    """``np.flatnonzero(mask)`` as int32 (for masks shorter than 2**31), a block at a time: numpy's int64
    positions of ten million rows were 80 MB beside their narrow copy."""
    return np.concatenate(
        [
            np.flatnonzero(mask[at : at + _FLATNONZERO_BLOCK]).astype(np.int32) + at
            for at in range(0, len(mask), _FLATNONZERO_BLOCK)
        ]
        or [np.zeros(0, dtype=np.int32)]
    )


_FLATNONZERO_BLOCK = 1 << 20


def first_within(codes: np.ndarray, count: int) -> np.ndarray:
    """The positions of the first ``count`` rows of each code, in the order given (pandas'
    ``groupby.cumcount() < count``, as sorted positions), for non-negative integer codes.

    A block of rows at a time (FIRST_WITHIN_BLOCK), each ranked by one stable sort, which numpy does by
    radix for codes of 16 bits; the codes' rows seen in earlier blocks are counted, and only the kept rows
    get a position of their own (a rank for every row took 0.3 GB more at ten million rows, one sort of
    them all 80 MB of positions)."""
    codes = np.asarray(codes)
    if not len(codes):
        return np.zeros(0, dtype=np.int64)
    seen = np.zeros(int(codes.max()) + 1, dtype=np.int64)
    kept_parts = []
    for start in range(0, len(codes), FIRST_WITHIN_BLOCK):
        block = codes[start : start + FIRST_WITHIN_BLOCK]
        narrow = block.astype(np.uint16) if len(seen) <= 1 << 16 else block
        sizes = np.bincount(block, minlength=len(seen))
        kept = np.minimum(sizes, np.maximum(count - seen, 0))
        seen += sizes
        if not kept.any():
            continue
        order = np.argsort(narrow, kind="stable")
        # Within each code's run of the block's sorted order, its first ``kept`` entries.
        starts = np.repeat(np.cumsum(sizes) - sizes, kept)
        offsets = np.arange(int(kept.sum())) - np.repeat(np.cumsum(kept) - kept, kept)
        kept_parts.append(np.sort(order[starts + offsets]) + start)
    return np.concatenate(kept_parts) if kept_parts else np.zeros(0, dtype=np.int64)


FIRST_WITHIN_BLOCK = 1 << 20
