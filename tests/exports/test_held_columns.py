"""The compact forms the export holds its columns in give what the whole columns gave."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from exports import aggregate, tables


def test_a_column_of_one_chunk_is_taken_without_a_copy() -> None:
    column = pa.chunked_array([pa.array(np.arange(1000, dtype=np.int64))])
    taken = tables.single(column)
    assert taken.buffers()[1].address == column.chunk(0).buffers()[1].address


def test_a_column_of_several_chunks_is_joined() -> None:
    column = pa.chunked_array([pa.array([1, 2]), pa.array([3]), pa.array([], pa.int64())])
    assert tables.single(column).to_pylist() == [1, 2, 3]
    assert tables.single(pa.chunked_array([], pa.int64())).to_pylist() == []


def test_media_paths_made_per_slice_are_those_of_the_whole_column() -> None:
    files = ["videos/a.mp4", "videos/b.MP4", "videos/c", "videos/d.final.webm", "videos/e.mp4"] * 3
    videos = pa.table(
        {
            "sha256": [f"{index:064x}" for index in range(len(files))],
            "file": files,
        }
    )
    wanted = pa.array([14, 0, 2, 3, 1, 3, 7], type=pa.int64())
    made = tables.MediaPaths.of(videos).take(wanted)
    assert made.to_pylist() == tables.media_paths(videos).take(wanted).to_pylist()
    assert made.to_pylist()[:3] == [f"media/{14:064x}.mp4", f"media/{0:064x}.mp4", f"media/{2:064x}"]


@pytest.mark.parametrize("keep_ties", [True, False])
def test_vote_counts_match_a_count_of_every_vote(keep_ties: bool) -> None:
    rng = np.random.default_rng(7)
    comparison_ids = rng.choice([5, 9, 40, 41, 1000], size=500).astype(np.int32)
    criterion_codes = rng.integers(0, len(aggregate.CRITERIA), size=500).astype(np.int8)
    choice_codes = rng.integers(0, len(aggregate.CHOICES), size=500).astype(np.int8)
    criteria = (aggregate.CRITERIA[2], aggregate.CRITERIA[0])  # not every criterion, not in code order

    ids, counts = aggregate.vote_counts(
        comparison_ids=comparison_ids,
        criterion_codes=criterion_codes,
        choice_codes=choice_codes,
        criteria=criteria,
        keep_ties=keep_ties,
    )

    assert ids.tolist() == [5, 9, 40, 41, 1000]
    expected = np.zeros((5, len(criteria), len(aggregate.CATEGORIES)), dtype=np.int64)
    for comparison, criterion, choice in zip(comparison_ids, criterion_codes, choice_codes, strict=True):
        name = aggregate.CRITERIA[criterion]
        category = min(int(choice), 2)  # both bad counts as a tie
        if name in criteria and (keep_ties or category != 2):
            expected[ids.tolist().index(comparison), criteria.index(name), category] += 1
    assert np.array_equal(counts, expected)
